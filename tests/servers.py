"""The local servers integration tests use: PostgreSQL, Redis, RabbitMQ.

Each helper skips (or fails under ``CI=true``) with the reason when its server is down.
``.ci/run`` starts them when they are stopped.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.conftest import unavailable

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("BRANDCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
RABBITMQ_URL = os.environ.get("BRANDCARE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_server_url() -> str:
    """The server test databases are created on."""
    return os.environ.get("BRANDCARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server; return its SQLAlchemy URL."""
    try:
        with psycopg.connect(libpq(server_url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {make_url(server_url).render_as_string()} unreachable: {exc}")
    except psycopg.errors.InsufficientPrivilege as exc:
        unavailable(f"cannot create a test database on {make_url(server_url)}: {exc}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop a test database, closing whatever still holds it."""
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def postgres_database(prefix: str = "brandcare_test") -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = create_database(postgres_server_url(), name)
    try:
        yield url
    finally:
        drop_database(postgres_server_url(), name)


def require_port(url: str, what: str) -> None:
    """Skip (or fail in CI) unless something listens at the URL's host and port."""
    parsed = make_url(url.replace("amqp://", "amqp+x://").replace("redis://", "redis+x://"))
    host, port = parsed.host or "127.0.0.1", int(parsed.port or 0)
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as exc:
        unavailable(f"{what} at {host}:{port} is not reachable: {exc}")
