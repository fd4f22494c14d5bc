"""Prometheus metrics: what the stages did (per process) and what waits (from the database).

Two kinds, because they live in different places:

- **Counters and histograms** (``brandcare_mentions_fetched_total``, ...) count events
  at the stage boundaries in the process where they happen. A Dramatiq worker process
  only knows its own; ``brandcare worker`` runs its processes in prometheus_client's
  multiprocess mode so one endpoint sums them (see ``brandcare.ops.metrics_http``).
- **Gauges of the backlog** (``brandcare_queue_depth``, ...) are the database's state,
  read by ``DatabaseCollector`` on each scrape, so they are right whichever process
  did the work, and survive restarts. Only the scheduler's and the web's endpoints
  carry them, so a dashboard does not count one backlog once per worker.

Label values are bounded: platforms, brand slugs, states and reason classes, never ids.
Every real platform's (``listener.registry.live_platforms``: X as ``twitter``, Reddit,
Mastodon, Bluesky) rate-limit and send series exist from the start at 0, so a dashboard
shows a platform with no sends as 0 rather than as no data.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from brandcare.store import backlog, transaction
from listener.registry import live_platforms
from responders.sender import SendOutcome, SendStatus

log = logging.getLogger(__name__)

# The ``_created`` timestamp series double the output and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MENTIONS_FETCHED = Counter(
    "brandcare_mentions_fetched",
    "Mentions a poll received from a platform (new or seen before).",
    ["platform", "brand"],
)
MENTIONS_NEW = Counter(
    "brandcare_mentions_new",
    "Mentions a poll stored for the first time.",
    ["platform", "brand"],
)
RATE_LIMIT_WAITS = Counter(
    "brandcare_rate_limit_waits",
    "Times a platform said to wait (poll re-enqueued, or send held back).",
    ["platform", "stage"],
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "brandcare_rate_limit_wait_seconds",
    "Seconds the platforms asked us to wait, summed.",
    ["platform", "stage"],
)
SCORE_SECONDS = Histogram(
    "brandcare_score_batch_seconds",
    "Time of one scoring batch's forward pass.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
SCORE_BATCH = Histogram(
    "brandcare_score_batch_size",
    "Mentions scored in one batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
DRAFTS_CREATED = Counter(
    "brandcare_drafts_created",
    "Drafts written: pending (for approval) or skipped (trolling).",
    ["state"],
)
SENDS = Counter(
    "brandcare_sends",
    "Send attempts by how they ended (sent, failed, auth_failed, unknown, retry_after).",
    ["platform", "outcome"],
)
SEND_FAILURES = Counter(
    "brandcare_send_failures",
    "Sends that ended a draft failed, by reason class (deleted, refused, auth).",
    ["platform", "reason"],
)
ALERTS_OPENED = Counter(
    "brandcare_alerts_opened",
    "Spike alerts opened or reopened.",
    ["brand", "severity"],
)
ALERT_DELIVERIES = Counter(
    "brandcare_alert_deliveries",
    "Alert notifications to one channel, by whether the channel took them.",
    ["outcome"],
)


#: The stages that wait on a platform, and the classes of a failed send (``send_reason``).
WAIT_STAGES = ("poll", "send")
SEND_FAILURE_REASONS = ("deleted", "refused", "auth")


def _platform_series() -> None:
    """Every real platform's per-platform series, at 0 until something happens."""
    for platform in live_platforms():
        for stage in WAIT_STAGES:
            RATE_LIMIT_WAITS.labels(platform, stage)
            RATE_LIMIT_WAIT_SECONDS.labels(platform, stage)
        for status in SendStatus:
            SENDS.labels(platform, status.value)
        for reason in SEND_FAILURE_REASONS:
            SEND_FAILURES.labels(platform, reason)


_platform_series()


def polled(platform: str, brand: str, fetched: int, new: int) -> None:
    """One poll's page is stored."""
    MENTIONS_FETCHED.labels(platform, brand).inc(fetched)
    MENTIONS_NEW.labels(platform, brand).inc(new)


def rate_limited(platform: str, stage: str, seconds: float) -> None:
    """A platform asked to wait ``seconds`` before the next call."""
    RATE_LIMIT_WAITS.labels(platform or "unknown", stage).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(platform or "unknown", stage).inc(max(seconds, 0.0))


def scored(batch_size: int, seconds: float) -> None:
    """One batch went through the scorer."""
    SCORE_BATCH.observe(batch_size)
    SCORE_SECONDS.observe(seconds)


def drafted(states: Iterable[str]) -> None:
    """Drafts were written, one state each."""
    for state in states:
        DRAFTS_CREATED.labels(state).inc()


def send_reason(outcome: SendOutcome) -> str | None:
    """The failure class of a send that ended its draft ``failed``; None otherwise.

    Classes, not the platform's words: labels must stay few.
    """
    if outcome.status is SendStatus.AUTH_FAILED:
        return "auth"
    if outcome.status is SendStatus.FAILED:
        return "deleted" if "deleted" in outcome.reason.lower() else "refused"
    return None


def sent(platform: str, outcome: SendOutcome) -> None:
    """A send attempt ended (posted, found, refused, unsettled or held back)."""
    SENDS.labels(platform, outcome.status.value).inc()
    reason = send_reason(outcome)
    if reason is not None:
        SEND_FAILURES.labels(platform, reason).inc()
    if outcome.status is SendStatus.RETRY_AFTER:
        rate_limited(platform, "send", outcome.retry_after or 60.0)


def alert_opened(brand: str, severity: str) -> None:
    """A spike alert opened (or reopened within its cooldown)."""
    ALERTS_OPENED.labels(brand, severity).inc()


def alert_delivered(ok: bool) -> None:
    """One channel took (or refused) one notification."""
    ALERT_DELIVERIES.labels("ok" if ok else "failed").inc()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DatabaseCollector(Collector):
    """The backlog gauges, read from the database at scrape time.

    Each scrape reads what waits (small, indexed slices); the count of every draft by
    state, a scan that grows with the table, is refreshed at most every
    ``totals_every`` seconds and reused in between (the waiting states in it are
    always current). An unreachable database does not fail the scrape:
    ``brandcare_database_up`` says 0 and the gauges are left out, so the process
    counters still arrive.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime] = _utcnow,
        *,
        totals_every: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.totals_every = totals_every
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}
        self._totals_at = float("-inf")

    def describe(self) -> list[Metric]:
        """Nothing: registering must not query the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "brandcare_database_up", "1 when the metrics scrape could read the database."
        )
        with self._lock:
            count_all = time.monotonic() - self._totals_at >= self.totals_every
        try:
            with transaction(self.sessions) as s:
                state = backlog.read(s, count_all_drafts=count_all)
        except SQLAlchemyError as exc:
            # The type only: a driver's message can carry the host and user.
            log.warning("metrics: the database could not be read (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        now = self.clock()
        with self._lock:
            if count_all:
                self._totals, self._totals_at = state.drafts, time.monotonic()
            totals = dict(self._totals)
        for stage, draft_state in backlog.DRAFT_STAGES.items():
            totals[draft_state] = state.stages[stage].depth
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "brandcare_queue_depth", "Items waiting at a stage.", labels=["stage"]
        )
        age = GaugeMetricFamily(
            "brandcare_queue_oldest_seconds",
            "Age of the oldest item waiting at a stage (0 when none waits).",
            labels=["stage"],
        )
        for stage, waiting in state.stages.items():
            depth.add_metric([stage], waiting.depth)
            oldest = (now - waiting.oldest).total_seconds() if waiting.oldest else 0.0
            age.add_metric([stage], max(oldest, 0.0))
        drafts = GaugeMetricFamily(
            "brandcare_drafts",
            "Drafts by state (sent, failed, rejected, skipped: refreshed every minute).",
            labels=["state"],
        )
        for draft_state, count in totals.items():
            drafts.add_metric([draft_state], count)
        alerts = GaugeMetricFamily(
            "brandcare_alerts_open", "Open spike alerts.", labels=["brand", "severity"]
        )
        for (brand, severity), count in sorted(state.open_alerts.items()):
            alerts.add_metric([brand, severity], count)
        queries = GaugeMetricFamily(
            "brandcare_queries",
            "Queries by platform and state (active, paused, disabled).",
            labels=["platform", "state"],
        )
        for (platform, query_state), count in sorted(state.queries.items()):
            queries.add_metric([platform, query_state], count)
        took = GaugeMetricFamily(
            "brandcare_metrics_database_seconds", "Time the scrape's database reads took."
        )
        took.add_metric([], time.perf_counter() - started)
        yield from (depth, age, drafts, alerts, queries, took)
