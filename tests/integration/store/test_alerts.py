"""Spike alerts over the database, notified to a local webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from brandcare.insights import alerts
from brandcare.insights.notify import Channel, Notifier
from brandcare.insights.spikes import start_of
from brandcare.store.models import AlertRow, BrandRow
from tests.integration.store.helpers import add_scored

NOW = dt.datetime(2026, 11, 20, 14, 0, 30, tzinfo=dt.UTC)  # just after a window closed


class Hook:
    """A local HTTP endpoint standing in for a webhook; fails the first ``fail`` posts."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[dict[str, object]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if hook.fail > 0:
                    hook.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


@pytest.fixture
def brand(factory: sessionmaker[Session]) -> int:
    """A brand with ten quiet days: three negative mentions every 15 minutes."""
    with factory.begin() as s:
        b = BrandRow(slug="acme", name="Acme Air", voice={})
        s.add(b)
        s.flush()
        windows = 10 * 96
        first = start_of(alerts.slot_of(NOW) - windows)
        rows = [
            (first + dt.timedelta(minutes=15 * w, seconds=60 * k), "negative", "lost_luggage")
            for w in range(windows - 1)
            for k in range(3)
        ]
        add_scored(s, b.id, rows, prefix="base")
        return b.id


def _spike(
    factory: sessionmaker[Session], brand_id: int, window_end: dt.datetime, n: int,
    issue: str = "outage",
) -> None:  # fmt: skip
    with factory.begin() as s:
        start = window_end - dt.timedelta(minutes=15)
        rows = [(start + dt.timedelta(seconds=20 * k), "negative", issue) for k in range(n)]
        add_scored(s, brand_id, rows, prefix=f"spike{window_end:%H%M}", followers=5000)


def _notifier(hook: Hook) -> Notifier:
    return Notifier({"default": [Channel(url=hook.url)]}, backoff_seconds=0.0)


def test_a_spike_opens_one_alert_updates_it_and_resolves_it(
    factory: sessionmaker[Session], brand: int, hook: Hook
) -> None:
    _spike(factory, brand, NOW.replace(second=0), 30)
    events = alerts.check(factory, now=NOW, notifier=_notifier(hook))
    opened = [e for e in events if e.action == "open"]
    assert {e.issue for e in opened} == {None, "outage"}  # the brand, and the issue that rose
    whole = next(e for e in opened if e.issue is None)
    assert whole.observed == 30
    assert whole.expected == pytest.approx(3.0, abs=0.6)
    assert whole.severity in ("high", "critical")
    assert all(d.ok for e in opened for d in e.deliveries)
    assert len(hook.received) == 2
    body = str(hook.received[0]["message"])
    assert "30** negative mentions" in body
    assert "outage" in body
    assert "/inbox?brand=acme&sentiment=negative" in body
    # The same window again: nothing new, nothing re-sent.
    assert alerts.check(factory, now=NOW, notifier=_notifier(hook)) == []
    # The spike continues: the same alerts are updated, no new notification.
    later = NOW + dt.timedelta(minutes=15)
    _spike(factory, brand, later.replace(second=0), 32)
    events = alerts.check(factory, now=later, notifier=_notifier(hook))
    assert {e.action for e in events} == {"update"}
    assert len(hook.received) == 2
    # Two quiet windows end it, and the channels hear so.
    for k in (2, 3):
        quiet = NOW + dt.timedelta(minutes=15 * k)
        with factory.begin() as s:
            usual = (quiet - dt.timedelta(minutes=10), "negative", "lost_luggage")
            add_scored(s, brand, [usual] * 3, prefix=f"q{k}")
        events = alerts.check(factory, now=quiet, notifier=_notifier(hook))
    assert {e.action for e in events} == {"resolve"}
    assert any(str(m["title"]).startswith("Resolved") for m in hook.received)
    with factory.begin() as s:
        rows = list(s.scalars(select(AlertRow)))
    assert len(rows) == 2
    assert {r.state for r in rows} == {"resolved"}
    assert rows[0].detail["why"]["examples"][0]["followers"] >= 5000


def test_a_failed_delivery_is_retried_and_recorded(
    factory: sessionmaker[Session], brand: int
) -> None:
    flaky = Hook(fail=1)
    try:
        _spike(factory, brand, NOW.replace(second=0), 30)
        events = alerts.check(factory, now=NOW, notifier=_notifier(flaky), brands=["acme"])
        first = next(e for e in events if e.issue is None)
        assert [(d.ok, d.attempts) for d in first.deliveries] == [(True, 2)]
        with factory.begin() as s:
            row = s.get(AlertRow, first.alert_id)
            assert row is not None
            assert row.detail["notifications"][0]["attempts"] == 2
    finally:
        flaky.server.shutdown()


def test_a_dead_channel_is_given_up_on_and_the_alert_still_recorded(
    factory: sessionmaker[Session], brand: int
) -> None:
    dead = Notifier({"default": [Channel(url="json://127.0.0.1:9/hook")]}, backoff_seconds=0.0)
    _spike(factory, brand, NOW.replace(second=0), 30)
    events = alerts.check(factory, now=NOW, notifier=dead)
    assert events
    assert all(not d.ok and d.attempts == 3 for e in events for d in e.deliveries)
    with factory.begin() as s:
        assert s.scalar(select(AlertRow.id).where(AlertRow.state == "open")) is not None


def test_quiet_hours_mute_all_but_critical_and_routing_follows_severity(
    factory: sessionmaker[Session], brand: int, hook: Hook
) -> None:
    with factory.begin() as s:
        s.execute(update(BrandRow).values(alerting={"quiet_hours": "13-15"}))
    _spike(factory, brand, NOW.replace(second=0), 12, "lost_luggage")  # 4x: high, not critical
    events = alerts.check(factory, now=NOW, notifier=_notifier(hook))
    assert events
    assert all(d.error == "muted" for e in events for d in e.deliveries)
    assert hook.received == []
    pager = Notifier({"acme": [Channel(url=hook.url, min_severity="critical")]})
    assert pager.routes("acme", "high") == []
    assert len(pager.routes("acme", "critical")) == 1


def test_the_history_kept_between_checks_matches_a_full_read(
    factory: sessionmaker[Session], brand: int
) -> None:
    from brandcare.store import aggregates

    slot = alerts.slot_of(NOW) - 1
    known = slot - 5 * 96
    with factory.begin() as s:
        b = s.get(BrandRow, brand)
        assert b is not None
        first = alerts._history.series(s, b, None, known, slot)
        add_scored(s, brand, [(NOW - dt.timedelta(minutes=20), "negative", "x")], prefix="late")
        second = alerts._history.series(s, b, None, known, slot)
        full = aggregates.negative_series(s, brand, start_of(known), start_of(slot + 1), 900)
    assert second == full
    assert sum(second.values()) == sum(first.values()) + 1
