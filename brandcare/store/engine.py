"""Engines, sessions and the one transaction helper every stage uses.

Queries in this package never commit: a stage opens one transaction with
:func:`transaction`, does its reads and writes, and commits once, so a crash in the
middle leaves nothing half-stored (mentions without their cursor, a draft without its
event).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: How long a SQLite connection waits for another writer before giving up, in seconds.
SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(url: str, *, sqlite_foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url`` tuned for the pipeline's concurrent workers.

    SQLite gets WAL (readers never block the writer), foreign keys (off by default in
    SQLite) and a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE``:
    in WAL mode a deferred transaction that reads and then writes fails at once with
    SQLITE_BUSY_SNAPSHOT when another worker committed in between, and no busy timeout
    retries that; taking the write lock up front makes writers queue instead.
    PostgreSQL gets ``pool_pre_ping`` so a restarted server costs a reconnect, not a
    failed stage.

    ``sqlite_foreign_keys=False`` is for migrations only: SQLite alters a table by
    copying it and dropping the old one, and with foreign keys on, that drop would
    cascade-delete the child rows. ``kwargs`` go to ``create_engine``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        # Worker threads share the pool; connections are never used by two at once.
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    """Pragmas on every new connection and an immediate BEGIN on every transaction.

    These are connection settings, not queries: SQLite only takes them as PRAGMA
    statements through the driver.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit.

    ``expire_on_commit=False`` because stages commit and then enqueue ids read from the
    rows they just wrote; expiring would cost a round trip per attribute.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    with factory() as session, session.begin():
        yield session
