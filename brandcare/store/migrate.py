"""Schema migrations, run from code: ``upgrade(url)`` and ``current(url)``.

Alembic is configured programmatically with the scripts inside this package, so
``brandcare migrate`` works from an installed wheel with no ``alembic.ini`` around.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from brandcare.store.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation treats % specially (URL-encoded passwords).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision the packaged migrations define."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


class ForeignKeyViolationError(RuntimeError):
    """A migration left rows pointing at rows that no longer exist (SQLite)."""


def _check_foreign_keys(connection: Connection) -> None:
    """Fail (rolling the migration back) if SQLite reports dangling references.

    Migrations run on SQLite with foreign keys off (see ``make_engine``), so the check
    SQLite would have made row by row is made once, here, before the commit.
    """
    if connection.dialect.name != "sqlite":
        return
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if violations:
        raise ForeignKeyViolationError(f"migration broke foreign keys: {violations[:5]}")


def _migrate(url: str, run: Literal["upgrade", "downgrade"], revision: str) -> None:
    """Run an Alembic command in one transaction with the foreign-key check at the end."""
    engine = make_engine(url, sqlite_foreign_keys=False, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config = alembic_config(connection=connection)
            if run == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
            _check_foreign_keys(connection)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``, in one transaction.

    PostgreSQL runs DDL transactionally, so a failed upgrade leaves nothing behind.
    """
    _migrate(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` (``"base"`` drops everything)."""
    _migrate(url, "downgrade", revision)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None before the first upgrade."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
