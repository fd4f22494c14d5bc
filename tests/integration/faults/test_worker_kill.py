"""A worker process killed (SIGKILL) mid-batch while scoring, while drafting, while sending.

A killed worker's messages are neither acknowledged nor retried by it: the scheduler
hands them back to their queues once the worker has been silent for
``BRANDCARE_DEAD_WORKER_SECONDS`` (its sweep, later, enqueues again whatever is still
stuck in an intermediate state), and another worker takes them over. Each stage's writes
are one transaction, each is idempotent, and a draft in ``sending`` is looked for on the
platform before it may be posted again: nothing is lost and nothing is done twice.
"""

from __future__ import annotations

import pytest
from dramatiq import Message
from sqlalchemy import func, select

from brandcare.brands.setup import BrandSpec, QuerySpec
from brandcare.store import transaction
from brandcare.store.models import MentionRow
from tests.fakes.fake_api import Fault
from tests.integration.deployment import assert_each_once, stop, wait_until, write_replay

from .conftest import (
    X_BRAND,
    X_TIMEOUT,
    all_sent,
    approve_pending,
    assert_replied_once,
    mention_count,
    send_approved,
    x_env,
)

POST = r"^/2/tweets$"


def test_a_worker_killed_mid_batch_while_scoring_loses_and_duplicates_nothing(
    replay_deployment, replay
):
    deployment = replay_deployment
    n = 600
    write_replay(replay, n)
    first = deployment.worker()
    deployment.scheduler()
    before = deployment.wait(lambda c: c.scores >= 64, timeout=120)
    deployment.kill(first)
    assert before.scores < n, "the worker finished before it could be killed: raise n"
    deployment.worker()
    got = deployment.wait(lambda c: c.done >= n, timeout=120)
    assert deployment.alive(), deployment.tail()
    assert_each_once(got, n, deployment.tail())


def test_a_worker_killed_mid_batch_while_drafting_loses_and_duplicates_nothing(
    replay_deployment, replay
):
    deployment = replay_deployment
    n = 600
    write_replay(replay, n)
    # Score everything first, leaving the drafting messages queued for a drafting worker.
    scorer = deployment.worker(queues="poll,urgent_score,score,insights")
    deployment.scheduler()
    scored = deployment.wait(lambda c: c.scored >= n, timeout=120)
    assert scored.scored == n, deployment.tail()
    with transaction(deployment.sessions) as s:
        to_draft = int(s.scalar(select(func.count()).where(MentionRow.state == "scored")) or 0)
    drafter = deployment.worker(queues="urgent_draft,draft", threads=1)
    before = deployment.wait(lambda c: c.drafts >= 1, timeout=60)
    deployment.kill(drafter)
    assert 0 < before.drafts < to_draft, f"not killed mid-stream ({to_draft} to draft): {before}"
    stop(scorer)
    deployment.worker()
    got = deployment.wait(lambda c: c.done >= n, timeout=90)
    assert_each_once(got, n, deployment.tail())
    assert got.drafts == to_draft


@pytest.mark.shared  # the fake X API replays ../shared/fixtures
def test_a_worker_killed_mid_send_posts_each_reply_exactly_once(deploy, x_api):
    # A retry may post again 8 s after an attempt began (production: 3 min).
    deployment = deploy([X_BRAND], **x_env(x_api), BRANDCARE_SEND_SETTLE_SECONDS="8")
    # The worker's two threads each have a post on the way when it dies: the first post
    # lands on the platform but its answer comes too late; the second hangs on the way
    # and never lands.
    x_api.inject(Fault.timeout(X_TIMEOUT * 3), path=POST, method="POST")
    x_api.inject(Fault.hang(X_TIMEOUT * 3), path=POST, method="POST")
    n = mention_count(x_api)
    sender = deployment.worker(threads=2)
    deployment.scheduler()
    drafted = deployment.wait(lambda c: c.done >= n, timeout=90)
    assert_each_once(drafted, n, deployment.tail())
    approved = approve_pending(deployment.sessions)
    assert len(approved) >= 3, "too few drafts to send for the test to mean much"
    send_approved(deployment.broker, approved)
    assert wait_until(lambda: x_api.faults_left() == 0, timeout=30), deployment.tail()
    deployment.kill(sender)  # both posts in flight: one landed, one never will
    assert x_api.posted, "the first post landed before the kill"
    deployment.worker()
    assert wait_until(lambda: all_sent(deployment.sessions), timeout=60), deployment.tail()
    assert_replied_once(deployment.sessions, x_api, approved, deployment.tail())


def test_a_silent_workers_unacknowledged_messages_are_handed_back_and_no_one_elses(broker):
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.common import current_millis

    from brandcare.pipeline.queue import DeadWorkerReclaimer

    dead, live = RedisBroker(url=broker.url), RedisBroker(url=broker.url)
    for b in (dead, live):
        b.declare_queue("score")
    for i in range(6):
        dead.enqueue(Message(queue_name="score", actor_name="score_mentions", args=([i],),
                             kwargs={}, options={}))  # fmt: skip
    # Each takes two (its prefetch) and holds them unacknowledged, as a worker does.
    for b in (dead, live):
        consumer = b.consume("score", prefetch=2, timeout=100)
        assert next(consumer) is not None
    client = dead.client
    assert client.llen("dramatiq:score") == 2
    # The dead one last called the broker a minute ago; the live one just did.
    client.zadd("dramatiq:__heartbeats__", {dead.broker_id: current_millis() - 60_000})

    reclaimer = DeadWorkerReclaimer(broker.url, ["score"], dead_after_seconds=30)
    assert reclaimer.reclaim() == 2
    assert client.llen("dramatiq:score") == 4  # back at the end of the queue
    assert client.scard(f"dramatiq:__acks__.{live.broker_id}.score") == 2
    assert client.scard(f"dramatiq:__acks__.{dead.broker_id}.score") == 0
    assert reclaimer.reclaim() == 0  # nothing twice


def test_the_mentions_held_are_those_of_every_message_queued_held_delayed_or_dead(broker):
    from dramatiq.brokers.redis import RedisBroker

    from brandcare.pipeline.queue import DeadWorkerReclaimer

    def message(queue: str, actor: str, *args: object) -> Message:
        return Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})

    b = RedisBroker(url=broker.url)
    for queue in ("score", "urgent_score", "draft", "send"):
        b.declare_queue(queue)
    b.enqueue(message("score", "score_mentions", [1, 2]))
    b.enqueue(message("urgent_score", "score_urgent_mentions", [3]))
    b.enqueue(message("score", "score_mentions", [4]), delay=60_000)  # a retry, later
    b.enqueue(message("draft", "draft_mentions", [5]))
    b.enqueue(message("send", "send_draft", 99))  # a draft id, not a mention
    assert next(b.consume("draft", prefetch=1, timeout=100)) is not None  # held by a worker
    reclaimer = DeadWorkerReclaimer(broker.url, ["score", "urgent_score", "draft", "send"], 30)
    assert reclaimer.mentions_held() == {1, 2, 3, 4, 5}


def test_a_killed_workers_batch_is_back_on_default_settings_without_the_stale_sweep(deploy, replay):
    # The stale sweep's defaults (600 s, every 60 s): it cannot be what recovers here.
    query = QuerySpec(platform="replay", kind="replay", terms=str(replay), interval_seconds=5)
    deployment = deploy(
        [BrandSpec(slug="skyway", name="Skyway Air", queries=[query])],
        BRANDCARE_STALE_AFTER_SECONDS="600",
        BRANDCARE_SWEEP_EVERY_SECONDS="60",
    )
    n = 600
    write_replay(replay, n)
    first = deployment.worker()
    deployment.scheduler()
    before = deployment.wait(lambda c: c.scores >= 64, timeout=120)
    deployment.kill(first)
    assert before.scores < n, "the worker finished before it could be killed: raise n"
    deployment.worker()
    # Half the stale-after: only the scheduler's checks for lost work can finish it, the
    # dead worker's messages handed back (30 s) and, were it killed between a stage's
    # commit and its enqueue, the mentions no message carries enqueued again (15 s).
    got = deployment.wait(lambda c: c.done >= n, timeout=300)
    assert_each_once(got, n, deployment.tail())
    log = deployment.log.read_text(errors="replace")
    assert "handed back" in log or "enqueued again" in log, deployment.tail()
    assert "re-enqueued stale work" not in log
