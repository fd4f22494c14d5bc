"""Outages in words: which dependency an exception says is unreachable, and logging that
reads as an outage (one line when it goes, one when it is back), not a traceback a tick.

Shared by the command line (one line and an exit code instead of a traceback) and the
scheduler loop. Classifies by class and module names, so neither redis nor pika is
imported to recognise their errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

#: The database errors that mean "the schema is not what the code expects", by driver.
_SCHEMA_WORDS = ("no such table", "no such column", "does not exist", "undefinedtable",
                 "undefinedcolumn")  # fmt: skip


@dataclass(frozen=True)
class Unreachable:
    """A dependency the operation needed did not answer."""

    dependency: str  # "database" or "broker"
    detail: str  # the driver's reason, one line, no URL


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _names(exc: BaseException) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (drivers add hints on further lines)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300]


def schema_missing(exc: BaseException) -> bool:
    """Whether ``exc`` is the database saying a table or column is not there."""
    for e in _chain(exc):
        names = _names(e)
        if any(n.startswith(("sqlalchemy.exc.", "sqlite3.", "psycopg.")) for n in names):
            text = f"{type(e).__name__} {e}".lower()
            if any(word in text for word in _SCHEMA_WORDS):
                return True
    return False


def unreachable(exc: BaseException) -> Unreachable | None:
    """The dependency ``exc`` says is down or unreachable, or None for any other error."""
    if schema_missing(exc):
        return None
    for e in _chain(exc):
        names = _names(e)
        if names & {
            "sqlalchemy.exc.OperationalError",
            "sqlalchemy.exc.InterfaceError",
            "psycopg.OperationalError",
            "psycopg.errors.OperationalError",
            "sqlite3.OperationalError",
        }:
            if "locked" in str(e).lower():
                continue  # SQLite busy: a slow writer, not an outage
            return Unreachable("database", one_line(e))
        if any(n.startswith("redis.exceptions.") for n in names) and names & {
            "redis.exceptions.ConnectionError",
            "redis.exceptions.TimeoutError",
        }:
            return Unreachable("broker", one_line(e))
        if "dramatiq.errors.ConnectionError" in names or any(
            n.startswith("pika.exceptions.AMQP") for n in names
        ):
            return Unreachable("broker", one_line(e))
    return None


class OutageLog:
    """Logs a dependency going away once, and once when it is back.

    ``failed(exc)`` after an operation raised; ``ok()`` after one succeeded. Errors that
    are no outage (a bug) are logged with their traceback, each distinct one once a
    ``repeat_every`` seconds, so a loop ticking every second cannot flood the log.
    """

    def __init__(self, log: logging.Logger, what: str, repeat_every: float = 300.0) -> None:
        self.log = log
        self.what = what
        self.repeat_every = repeat_every
        self.down: dict[str, float] = {}
        self._errors: dict[str, float] = {}

    def failed(self, exc: BaseException) -> None:
        found = unreachable(exc)
        if found is None:
            key = f"{type(exc).__name__}: {one_line(exc)}"
            last = self._errors.get(key)
            now = time.monotonic()
            if last is None or now - last >= self.repeat_every:
                self._errors[key] = now
                self.log.error("%s failed; trying again", self.what, exc_info=exc)
            return
        if found.dependency not in self.down:
            self.down[found.dependency] = time.monotonic()
            self.log.warning(
                "%s: the %s is unreachable (%s); trying again until it is back",
                self.what,
                found.dependency,
                found.detail,
            )

    def ok(self, *dependencies: str) -> None:
        """An operation that used ``dependencies`` (default: all) succeeded."""
        for dependency in dependencies or tuple(self.down):
            since = self.down.pop(dependency, None)
            if since is not None:
                self.log.warning(
                    "%s: the %s is back after %.0f s",
                    self.what,
                    dependency,
                    time.monotonic() - since,
                )
        self._errors.clear()
