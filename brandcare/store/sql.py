"""What the store's queries share: dialect-aware inserts, chunked lookups, JSON-safe values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Table, Update, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

_T = TypeVar("_T")


# Keys per ``IN`` lookup: far below SQLite's bound-parameter limit for any page size.
# Bulk INSERTs need no chunking: they are executemany calls, which SQLAlchemy's
# "insertmanyvalues" sends as multi-row statements sized to the driver's limits.
CHUNK = 200


class UnsupportedDialectError(RuntimeError):
    """The session is bound to a database other than SQLite or PostgreSQL."""


def checked(column: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[str]:
    """A state column to check on rows found by their key, never to search by.

    Compare-and-set updates name rows by id and check their state. With statistics from
    when a state was rare (a table growing faster than autovacuum analyses it),
    PostgreSQL read the whole state index instead of the primary key: 1,116 buffers an
    approval at 30,000 pending drafts, and growing. An expression has no index.
    """
    return func.coalesce(column, "")


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's dialect, which both spell ON CONFLICT the same way."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDialectError(f"brandcare.store supports sqlite and postgresql, not {dialect}")


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterable[Sequence[_T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rowcount(session: Session, stmt: Update) -> int:
    """Execute an UPDATE and return how many rows it matched."""
    result = cast(CursorResult[Any], session.execute(stmt))
    return int(result.rowcount)


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO strings, for JSON columns.

    Platform payloads (tweepy's ``data``) may carry datetimes, which JSON cannot.
    """
    if type(value) in _JSON_SCALARS:  # most of a payload; cheaper than the ABC checks
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def expire_cached(session: Session, cls: type[Any], ids: Iterable[int]) -> None:
    """Expire ORM objects a Core UPDATE just changed, so they reload on next access."""
    if not session.identity_map:  # the stages' write transactions load no objects
        return
    for id_ in ids:
        obj = session.identity_map.get(session.identity_key(cls, id_))
        if obj is not None:
            session.expire(obj)
