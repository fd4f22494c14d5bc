"""GET /metrics after a real flow: the stage counters and the backlog read from the database."""

from __future__ import annotations

import datetime as dt
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from brandcare.config import Settings
from brandcare.insights import alerts
from brandcare.insights.spikes import start_of
from brandcare.ops import metrics_http
from brandcare.pipeline import tasks
from brandcare.pipeline.queue import setup_broker
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.models import AlertRow, BrandRow, DraftRow, MentionRow
from brandcare.web import create_app
from listener.errors import RateLimited
from tests.integration.observability.conftest import TOKEN, Flow, make_flow, parse, value
from tests.integration.store.helpers import add_scored


def _draft_counts(flow: Flow) -> dict[str, int]:
    with transaction(flow.pipeline.sessions) as s:
        return {
            state: int(n)
            for state, n in s.execute(select(DraftRow.state, func.count()).group_by(DraftRow.state))
        }


def test_stage_counters_and_backlog_gauges_follow_a_flow(flow: Flow) -> None:
    p, brand = flow.pipeline, flow.brand
    before = flow.scrape()

    polled = p.poll(flow.query_id)
    after_poll = flow.scrape()
    assert (
        value(after_poll, "brandcare_mentions_fetched_total", platform="scripted", brand=brand) == 5
    )
    assert value(after_poll, "brandcare_mentions_new_total", platform="scripted", brand=brand) == 5
    assert value(after_poll, "brandcare_database_up") == 1
    assert value(after_poll, "brandcare_queue_depth", stage="score") == 5
    assert value(after_poll, "brandcare_queue_depth", stage="draft") == 0
    assert value(after_poll, "brandcare_queries", platform="scripted", state="active") == 1

    # The age of the oldest waiting mention counts from when it was fetched.
    with transaction(p.sessions) as s:
        s.execute(update(MentionRow).values(fetched_at=p.clock() - dt.timedelta(hours=1)))
    aged = flow.scrape()
    assert value(aged, "brandcare_queue_oldest_seconds", stage="score") == pytest.approx(
        3600, abs=60
    )

    to_draft = p.score(polled.new_ids)
    after_score = flow.scrape()
    batches = "brandcare_score_batch_size_count"
    assert value(after_score, batches) - value(before, batches) == 1
    sizes = "brandcare_score_batch_size_sum"
    assert value(after_score, sizes) - value(before, sizes) == 5
    took = "brandcare_score_batch_seconds_count"
    assert value(after_score, took) - value(before, took) == 1
    assert value(after_score, "brandcare_queue_depth", stage="score") == 0
    assert value(after_score, "brandcare_queue_depth", stage="draft") == len(to_draft)

    created = p.draft_many(to_draft)
    assert created
    drafts = _draft_counts(flow)
    after_draft = flow.scrape()
    for state in ("pending", "skipped"):
        name = "brandcare_drafts_created_total"
        delta = value(after_draft, name, state=state) - value(before, name, state=state)
        assert delta == drafts.get(state, 0), state
        assert value(after_draft, "brandcare_drafts", state=state) == drafts.get(state, 0)
    assert drafts.get("skipped") == 1  # the clown
    assert value(after_draft, "brandcare_drafts", state="sent") == 0  # every state is reported
    assert value(after_draft, "brandcare_queue_depth", stage="draft") == 0
    assert value(after_draft, "brandcare_queue_depth", stage="approval") == drafts["pending"]

    # Two approvals: the first reply goes out, the second post was deleted meanwhile.
    with transaction(p.sessions) as s:
        pending = sorted(s.scalars(select(DraftRow.id).where(DraftRow.state == "pending")))[:2]
        for draft_id in pending:
            assert transition_draft(s, draft_id, ["pending"], "approved", "ana")
    approved = flow.scrape()
    assert value(approved, "brandcare_queue_depth", stage="send") == 2
    assert value(approved, "brandcare_queue_depth", stage="approval") == drafts["pending"] - 2
    outcomes = [p.send(draft_id) for draft_id in pending]
    assert [o.status.value for o in outcomes if o] == ["sent", "failed"]
    sent = flow.scrape()

    def delta(name: str, **labels: str) -> float:
        return value(sent, name, **labels) - value(before, name, **labels)

    assert delta("brandcare_sends_total", platform="scripted", outcome="sent") == 1
    assert delta("brandcare_sends_total", platform="scripted", outcome="failed") == 1
    assert delta("brandcare_send_failures_total", platform="scripted", reason="deleted") == 1
    assert delta("brandcare_send_failures_total", platform="scripted", reason="refused") == 0
    assert value(sent, "brandcare_drafts", state="sent") == 1
    assert value(sent, "brandcare_drafts", state="failed") == 1
    assert value(sent, "brandcare_queue_depth", stage="send") == 0
    assert value(sent, "brandcare_queue_depth", stage="sending") == 0

    with transaction(p.sessions) as s:
        brand_id = s.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).one()
        now = p.clock()
        s.add(AlertRow(brand_id=brand_id, window_start=now, window_end=now, observed=9,
                       expected=2.0, state="open", severity="high"))  # fmt: skip
    alerted = flow.scrape()
    assert value(alerted, "brandcare_alerts_open", brand=brand, severity="high") == 1


def test_a_rate_limited_poll_counts_one_wait_and_its_seconds(tmp_path: Path) -> None:
    flow = make_flow(tmp_path)
    flow.source.poll_errors = {1: RateLimited("slow down", retry_after=42, platform="scripted")}
    setup_broker(None)  # the actor re-enqueues the poll on the in-process broker
    before = flow.scrape()
    tasks.poll_query(flow.query_id)
    after = flow.scrape()
    labels = {"platform": "scripted", "stage": "poll"}
    waits = "brandcare_rate_limit_waits_total"
    assert value(after, waits, **labels) - value(before, waits, **labels) == 1
    seconds = "brandcare_rate_limit_wait_seconds_total"
    assert value(after, seconds, **labels) - value(before, seconds, **labels) == 42
    assert value(after, "brandcare_queue_depth", stage="score") == 0  # nothing was stored


def test_an_opened_spike_alert_is_counted_by_brand_and_severity(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = dt.datetime(2026, 11, 20, 14, 0, 30, tzinfo=dt.UTC)
    slug = f"spiky{tmp_path.name[-6:]}".lower().replace("_", "")
    with transaction(sessions) as s:
        b = BrandRow(slug=slug, name="Spiky Air", voice={})
        s.add(b)
        s.flush()
        windows = 10 * 96
        first = start_of(alerts.slot_of(now) - windows)
        quiet = [(first + dt.timedelta(minutes=15 * w, seconds=60 * k), "negative", "lost_luggage")
                 for w in range(windows - 1) for k in range(3)]  # fmt: skip
        add_scored(s, b.id, quiet, prefix="base")
        spike = [(now.replace(second=0) - dt.timedelta(minutes=15, seconds=-20 * k), "negative",
                  "outage") for k in range(30)]  # fmt: skip
        add_scored(s, b.id, spike, prefix="spike", followers=5000)
    found = metrics_http.registry(sessions)
    before = parse(_text(found))
    events = alerts.check(sessions, now=now)
    opened = [e for e in events if e.action == "open"]
    assert opened
    after = parse(_text(found))
    for severity in {e.severity for e in opened}:
        name, labels = "brandcare_alerts_opened_total", {"brand": slug, "severity": severity}
        expected = sum(1 for e in opened if e.severity == severity)
        assert value(after, name, **labels) - value(before, name, **labels) == expected
        assert value(after, "brandcare_alerts_open", **labels) == expected
    engine.dispose()


def _text(found: object) -> str:
    from prometheus_client import generate_latest

    return generate_latest(found).decode()  # type: ignore[arg-type]


def test_metrics_are_refused_without_the_token_and_off_without_one(
    flow: Flow, tmp_path: Path
) -> None:
    client = TestClient(flow.app, base_url="https://testserver")
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN},
                    {"authorization": f"Basic {TOKEN}"}):  # fmt: skip
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert "brandcare_" not in r.text
    assert flow.scrape()  # the right token passes
    # No token configured: nobody gets the metrics, whatever they send.
    off = create_app(Settings(database_url=flow.settings.database_url), send=lambda d: None)
    for headers in ({}, {"authorization": f"Bearer {TOKEN}"}):
        r = TestClient(off, base_url="https://testserver").get("/metrics", headers=headers)
        assert r.status_code == 404
        assert "BRANDCARE_METRICS_TOKEN" in r.text


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_metrics_port_serves_counters_and_backlog_behind_the_token(flow: Flow) -> None:
    from pydantic import SecretStr

    server = metrics_http.make_server(
        "127.0.0.1", 0, metrics_http.registry(flow.pipeline.sessions), SecretStr(TOKEN)
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        assert _get(url)[0] == 401
        assert _get(url, "wrong")[0] == 401
        flow.pipeline.poll(flow.query_id)
        status, text = _get(url, TOKEN)
        assert status == 200
        samples = parse(text)
        labels = {"platform": "scripted", "brand": flow.brand}
        assert value(samples, "brandcare_mentions_fetched_total", **labels) == 5
        assert value(samples, "brandcare_queue_depth", stage="score") == 5
        assert value(samples, "process_cpu_seconds_total") > 0  # the process's own too
    finally:
        server.shutdown()
        server.server_close()


def test_the_metrics_port_is_not_opened_beyond_loopback_without_a_token() -> None:
    with pytest.raises(metrics_http.MetricsExposureError, match="BRANDCARE_METRICS_TOKEN"):
        metrics_http.check_exposure("0.0.0.0", None)
    metrics_http.check_exposure("127.0.0.1", None)
    metrics_http.check_exposure("localhost", None)
    from pydantic import SecretStr

    metrics_http.check_exposure("0.0.0.0", SecretStr(TOKEN))


def test_an_unreadable_database_reports_down_and_keeps_the_counters(tmp_path: Path) -> None:
    # A schema-less database: every backlog query fails.
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    samples = parse(_text(metrics_http.registry(session_factory(engine))))
    assert value(samples, "brandcare_database_up") == 0
    assert not any(name == "brandcare_queue_depth" for name, _ in samples)
    assert any(name.startswith("python_") or name.startswith("process_") for name, _ in samples)
    engine.dispose()


def test_the_slow_draft_totals_are_reused_between_scrapes_but_waiting_work_is_current(
    flow: Flow,
) -> None:
    p = flow.pipeline
    p.draft_many(p.score(p.poll(flow.query_id).new_ids))
    found = metrics_http.registry(p.sessions, totals_every=3600)
    first = parse(_text(found))
    pending = value(first, "brandcare_drafts", state="pending")
    with transaction(p.sessions) as s:
        draft_id = s.scalars(select(DraftRow.id).where(DraftRow.state == "pending")).first()
        assert draft_id is not None
        assert transition_draft(s, draft_id, ["pending"], "rejected", "ana")
    second = parse(_text(found))
    assert value(second, "brandcare_drafts", state="pending") == pending - 1  # current
    assert value(second, "brandcare_drafts", state="rejected") == 0  # the cached total
    fresh = parse(_text(metrics_http.registry(p.sessions)))
    assert value(fresh, "brandcare_drafts", state="rejected") == 1


def test_an_empty_metrics_token_counts_as_none(flow: Flow) -> None:
    settings = Settings(database_url=flow.settings.database_url, metrics_token="")  # type: ignore[arg-type]
    assert metrics_http.token_of(settings) is None
    with pytest.raises(metrics_http.MetricsExposureError):
        metrics_http.check_exposure("0.0.0.0", metrics_http.token_of(settings))
    off = create_app(settings, send=lambda d: None)
    r = TestClient(off, base_url="https://testserver").get("/metrics")
    assert r.status_code == 404
