"""Outages read as outages in the scheduler's log: one line when the database or the
broker goes away, one when it is back, never a traceback a tick."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import redis
from sqlalchemy.exc import OperationalError

from brandcare.brands.setup import QuerySpec
from brandcare.ops.outage import OutageLog, unreachable
from brandcare.pipeline.schedule import Enqueue, Scheduler
from brandcare.store import make_engine, migrate, session_factory
from tests.integration.pipeline.conftest import add_brand

QUERY = QuerySpec(platform="scripted", kind="search", terms="x", interval_seconds=5)


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "brandcare.pipeline.schedule"]


def test_a_database_that_goes_and_comes_back(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "later"
    url = f"sqlite:///{folder / 'brandcare.db'}"  # its folder is not there yet: unreachable
    sent: list[int] = []
    scheduler = Scheduler(
        session_factory(make_engine(url)),
        Enqueue(sent.append, lambda ids: None, lambda ids: None, lambda i: None),
    )
    caplog.set_level(logging.INFO)
    for _ in range(5):
        assert scheduler.tick() == []
        scheduler.sweep()
    records = _records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "the database is unreachable" in records[0].getMessage()
    assert records[0].exc_info is None  # no traceback

    folder.mkdir()
    migrate.upgrade(url)
    add_brand(session_factory(make_engine(url)), QUERY)
    caplog.clear()
    assert len(scheduler.tick()) == 1
    scheduler.tick()
    messages = [r.getMessage() for r in _records(caplog)]
    assert len(messages) == 1, messages
    assert "the database is back after" in messages[0]


def test_a_broker_that_goes_and_comes_back(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'brandcare.db'}"
    migrate.upgrade(url)
    sessions = session_factory(make_engine(url))
    add_brand(sessions, QUERY)
    down = [True]

    def poll(query_id: int) -> None:
        if down[0]:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    now = [0]
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    scheduler = Scheduler(
        sessions,
        Enqueue(poll, lambda ids: None, lambda ids: None, lambda i: None),
        clock=lambda: start + dt.timedelta(seconds=10 * now[0]),
    )
    caplog.set_level(logging.INFO)
    for _ in range(5):
        now[0] += 1
        scheduler.tick()
    messages = [r.getMessage() for r in _records(caplog)]
    assert len(messages) == 1, messages
    assert "the broker is unreachable (Error 111" in messages[0]
    down[0] = False
    caplog.clear()
    now[0] += 1
    assert scheduler.tick()
    messages = [r.getMessage() for r in _records(caplog)]
    assert len(messages) == 1, messages
    assert "the broker is back" in messages[0]


def test_a_bug_is_logged_with_its_traceback_but_not_every_tick(caplog) -> None:  # type: ignore[no-untyped-def]
    log = logging.getLogger("test.outage")
    outage = OutageLog(log, "the thing")
    caplog.set_level(logging.INFO, logger="test.outage")
    for _ in range(3):
        try:
            raise KeyError("boom")
        except KeyError as exc:
            outage.failed(exc)
    assert len(caplog.records) == 1
    assert caplog.records[0].exc_info is not None


def test_what_counts_as_unreachable() -> None:
    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert unreachable(refused) is not None
    assert unreachable(refused).dependency == "database"  # type: ignore[union-attr]
    missing = OperationalError("SELECT 1", {}, Exception("no such table: query"))
    assert unreachable(missing) is None  # a schema problem, not an outage
    assert unreachable(redis.exceptions.TimeoutError("t")).dependency == "broker"  # type: ignore[union-attr]
    assert unreachable(ValueError("x")) is None


def test_the_alert_check_and_digests_log_an_outage_once(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    from brandcare.config import Settings
    from brandcare.insights.periodic import Periodic

    url = f"sqlite:///{tmp_path / 'later' / 'brandcare.db'}"
    now = dt.datetime(2026, 12, 1, 7, tzinfo=dt.UTC)
    settings = Settings(database_url=url, alert_check_seconds=1, digest_hour_utc=7)
    periodic = Periodic(settings, session_factory(make_engine(url)))
    caplog.set_level(logging.INFO, logger="brandcare.insights.periodic")
    for second in range(1, 6):
        periodic.tick(now=now, monotonic=float(second * 2))
    messages = [r.getMessage() for r in caplog.records if r.name == "brandcare.insights.periodic"]
    assert len(messages) == 2, messages  # the check's line and the digests' line
    assert all("the database is unreachable" in m for m in messages)
    assert all(r.exc_info is None for r in caplog.records)
