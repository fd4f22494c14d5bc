"""Dramatiq actors: thin wrappers over the pipeline's stages; messages carry ids only.

Import this module after ``brandcare.pipeline.queue.setup_broker``: actors bind to the global
broker when they are declared (``setup_broker`` moves them if it runs later).
"""

from __future__ import annotations

import logging
import time

import dramatiq

from brandcare.ops import metrics
from brandcare.pipeline import runtime
from listener.errors import RateLimited
from responders.sender import SendStatus

log = logging.getLogger(__name__)


class SendNotSettledError(Exception):
    """A send may or may not have gone out; retried later, asking the platform first."""


#: Mentions one poll asks for; a full page triggers the next poll at once.
POLL_PAGE = 100

#: The lanes. Dramatiq gives each queue its own consumer, so a message on an urgent
#: queue is fetched within a second however many wait on ``score`` or ``draft``; within
#: a worker process, the messages it holds run lowest priority number first, so the bulk
#: lanes' batches (``BULK``) go after everything else it holds: urgent scoring and
#: drafting, polls (which feed the urgent lane), sends and alert checks (``FIRST``). A
#: queue per stage, so workers given stages by ``--queues`` take the urgent lane's too.
URGENT_SCORE_QUEUE = "urgent_score"
URGENT_DRAFT_QUEUE = "urgent_draft"
FIRST = 0
BULK = 10


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


@dramatiq.actor(
    queue_name="poll", max_retries=8, min_backoff=2_000, max_backoff=300_000, time_limit=300_000
)
def poll_query(query_id: int) -> None:
    """Poll one query; enqueue scoring for what is new. 5xx and timeouts retry with jitter."""
    try:
        result = runtime.pipeline().poll(query_id, limit=POLL_PAGE)
    except RateLimited as exc:
        delay_ms = int(max(exc.retry_after, 1.0) * 1000)
        metrics.rate_limited(exc.platform, "poll", delay_ms / 1000)
        log.warning(
            "query %d rate limited by %s: polling again in %.0fs",
            query_id,
            exc.platform or "the platform",
            delay_ms / 1000,
            extra={"query_id": query_id, "platform": exc.platform, "wait_seconds": delay_ms / 1000},
        )
        poll_query.send_with_options(args=(query_id,), delay=delay_ms)
        return
    size = runtime.settings().score_message_size
    urgent = set(result.urgent_ids)
    for chunk in _chunks(result.urgent_ids, size):
        score_urgent_mentions.send(chunk)
    for chunk in _chunks([m for m in result.new_ids if m not in urgent], size):
        score_mentions.send(chunk)
    if result.fetched >= POLL_PAGE:
        # A full page means a backlog: catch up now rather than at the next interval.
        poll_query.send(query_id)


@dramatiq.actor(
    queue_name="score", max_retries=10, min_backoff=1_000, time_limit=600_000, priority=BULK
)
def score_mentions(mention_ids: list[int]) -> None:
    """Score a batch of mentions (one forward pass); enqueue drafting for those that need it."""
    _score(mention_ids)


@dramatiq.actor(
    queue_name=URGENT_SCORE_QUEUE,
    max_retries=10,
    min_backoff=1_000,
    time_limit=600_000,
    priority=FIRST,
)
def score_urgent_mentions(mention_ids: list[int]) -> None:
    """``score_mentions`` for the mentions the first pass marked urgent (``triage``)."""
    _score(mention_ids)


def _score(mention_ids: list[int]) -> None:
    """Score; what the model scored high is drafted in the urgent lane, the rest in bulk."""
    to_draft = runtime.pipeline().score_by_urgency(mention_ids)
    if to_draft.high:
        draft_urgent_mentions.send(to_draft.high)
    if other := to_draft.other:
        draft_mentions.send(other)
    _after_scoring()


#: Seconds between alert checks a worker asks for after scoring batches.
ALERT_CHECK_EVERY = 30.0
_last_alert_check = [0.0]


def _after_scoring() -> None:
    """Ask for a spike check after a scoring batch, at most every ALERT_CHECK_EVERY s.

    A spike shows up in scoring first; the scheduler checks every minute anyway, and
    the check is idempotent per window, so the throttle only saves work.
    """
    now = time.monotonic()
    if now - _last_alert_check[0] >= ALERT_CHECK_EVERY:
        _last_alert_check[0] = now
        check_alerts.send()


@dramatiq.actor(queue_name="draft", max_retries=10, min_backoff=1_000, priority=BULK)
def draft_mentions(mention_ids: list[int]) -> None:
    """Draft replies (or skipped drafts for trolls) for a batch of scored mentions."""
    runtime.pipeline().draft_many(mention_ids)


@dramatiq.actor(queue_name=URGENT_DRAFT_QUEUE, max_retries=10, min_backoff=1_000, priority=FIRST)
def draft_urgent_mentions(mention_ids: list[int]) -> None:
    """``draft_mentions`` for the mentions the model scored high."""
    runtime.pipeline().draft_many(mention_ids)


@dramatiq.actor(
    queue_name="send", max_retries=20, min_backoff=5_000, max_backoff=600_000, time_limit=120_000
)
def send_draft(draft_id: int) -> None:
    """Send one approved draft exactly once; an unsettled send retries, finding first."""
    outcome = runtime.pipeline().send(draft_id)
    if outcome is None:
        return
    if outcome.status is SendStatus.RETRY_AFTER:
        delay_ms = int(max(outcome.retry_after or 60.0, 1.0) * 1000)
        send_draft.send_with_options(args=(draft_id,), delay=delay_ms)
    elif outcome.status is SendStatus.UNKNOWN:
        raise SendNotSettledError(f"draft {draft_id}: {outcome.reason or 'send not settled'}")


@dramatiq.actor(queue_name="insights", max_retries=3, min_backoff=5_000, time_limit=120_000)
def check_alerts() -> None:
    """Judge the last window for spikes of negative mentions (idempotent per window)."""
    from brandcare.insights import alerts
    from brandcare.insights.notify import notifier

    settings = runtime.settings()
    alerts.check(
        runtime.pipeline().sessions,
        notifier=notifier(settings.alert_channels),
        public_url=settings.public_url,
    )


#: Every actor, so ``queue.setup_broker`` can move them to a broker chosen later.
ACTORS: tuple[dramatiq.Actor[..., None], ...] = (
    poll_query,
    score_mentions,
    score_urgent_mentions,
    draft_mentions,
    draft_urgent_mentions,
    send_draft,
    check_alerts,
)
