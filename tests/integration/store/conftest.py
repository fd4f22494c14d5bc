"""Fixtures running every store test on SQLite (a temp file) and PostgreSQL.

PostgreSQL gets a database of its own per test session, created through the server in
``BRANDCARE_TEST_POSTGRES_URL`` (default: the local test server) and dropped at the
end, so parallel runs never see each other's rows. Without a reachable server the
PostgreSQL half skips (and fails under ``CI=true``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from brandcare.store import make_engine, session_factory
from brandcare.store.migrate import upgrade
from brandcare.store.models import Base, BrandRow, QueryRow
from tests.servers import create_database as _create_database
from tests.servers import drop_database as _drop_database
from tests.servers import postgres_server_url as _server_url

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes empty databases (not migrated) of a backend, dropped after the test."""
    made: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'fresh{len(made)}.db'}"
        name = f"brandcare_fresh_{uuid.uuid4().hex[:12]}"
        url = _create_database(_server_url(), name)
        made.append(name)
        return url

    yield make
    for name in made:
        _drop_database(_server_url(), name)


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated to head, one per backend per test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'brandcare.db'}"
        upgrade(url)
        yield url
        return
    name = f"brandcare_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = _create_database(_server_url(), name)
    try:
        upgrade(url)
        yield url
    finally:
        _drop_database(_server_url(), name)


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    """The engine of the session's database (disposed before the database is dropped)."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on an emptied database: every test starts with no rows."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return session_factory(engine)


@pytest.fixture
def brand_query(factory: sessionmaker[Session]) -> tuple[int, int]:
    """A committed brand and one of its queries: (brand_id, query_id)."""
    with factory.begin() as session:
        brand = BrandRow(slug="acme-air", name="Acme Air", voice={"greeting": "Hi"})
        session.add(brand)
        session.flush()
        query = QueryRow(brand_id=brand.id, platform="twitter", kind="search", terms="@acmeair")
        session.add(query)
        session.flush()
        return brand.id, query.id
