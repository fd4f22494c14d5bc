"""Schema migrations, run from code: ``upgrade(url)`` and ``current(url)``.

Alembic is configured programmatically with the scripts inside this package, so
``brandcare migrate`` works from an installed wheel with no ``alembic.ini`` around.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
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


@contextmanager
def _quiet() -> Iterator[None]:
    """Alembic's INFO lines (plugins set up, the dialect) say nothing when only reading
    the revision: every command checks it, and a check must not print nine lines."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)


def head() -> str:
    """The newest revision the packaged migrations define."""
    with _quiet():
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
        with _quiet(), engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


class DatabaseNotReady(RuntimeError):
    """The database at a URL cannot be used as it is; the message says what to run.

    ``reason``: ``missing`` (no SQLite file there), ``empty`` (no schema), ``old``
    (a revision before the code's) or ``newer`` (a revision this code does not know).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # a URI filename: ?mode=memory and the like
        return None
    return Path(parsed.database)


def require_current(url: str, shown: str | None = None) -> None:
    """Raise ``DatabaseNotReady`` unless the database at ``url`` is at the code's head.

    Never creates anything: a SQLite file that is not there is reported, not made (a
    connection would create it). ``shown`` is how messages name the database (a URL
    without its password); default the SQLite file, or "the database".
    """
    path = sqlite_file(url)
    name = shown or (str(path) if path is not None else "the database")
    if path is not None and not path.is_file():
        raise DatabaseNotReady(
            f"no database at {path}: create it with `brandcare migrate`", "missing"
        )
    found, code = current(url), head()
    if found == code:
        return
    if found is None:
        raise DatabaseNotReady(f"{name} has no brandcare schema: run `brandcare migrate`", "empty")
    with _quiet():
        scripts = ScriptDirectory.from_config(alembic_config())
        known = {rev.revision for rev in scripts.walk_revisions()}
    if found not in known:
        raise DatabaseNotReady(
            f"{name} is at revision {found}, which this version of brandcare does not know "
            f"(it needs {code}): a newer brandcare migrated it; run that version",
            "newer",
        )
    raise DatabaseNotReady(
        f"{name} is at revision {found}, the code needs {code}: run `brandcare migrate`", "old"
    )
