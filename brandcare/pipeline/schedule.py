"""The scheduler: enqueues each query's poll at its interval, and re-enqueues lost work.

One scheduler process per deployment (the workers scale out; the scheduler only sends
small messages). A platform's request budget (``listener.registry.RequestBudget``) is one
allowance per window for everyone who shares it, so the polls that share it wait their
turn here instead of each query assuming it has the API alone: Reddit's ~100 requests a
minute per app (client id), Mastodon's 300 per 5 minutes per account (credentials
profile), Bluesky's 3,000 per 5 minutes per IP address (the deployment). Mastodon and
Bluesky cost nothing to read, so their requests are the only budget they have.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.ops.outage import OutageLog
from brandcare.store import transaction
from brandcare.store.models import BrandRow, QueryRow
from brandcare.store.replies import StaleWork, stale_work, still_in_state
from listener.registry import request_budget

log = logging.getLogger(__name__)

#: Seconds between checks for dead worker processes (``Scheduler.reclaim``).
RECLAIM_EVERY_SECONDS = 5.0
#: A waiting mention no message carries is taken for lost this long after its fetch (a
#: live stage enqueues the next one milliseconds after its commit).
ORPHAN_GRACE = dt.timedelta(seconds=15)
#: The oldest waiting mentions looked at per check: a lost batch newer than them is
#: found once the backlog ahead of it has drained, when it would have been taken anyway.
ORPHAN_LIMIT = 5000
#: Seconds between looks for lost mentions (a database read of the oldest waiting and a
#: read of every message body on the broker; the dead-worker check is cheaper, 5 s).
ORPHAN_EVERY = dt.timedelta(seconds=15)


class Reclaimer(Protocol):
    """What the broker tells the scheduler about lost work (``queue.DeadWorkerReclaimer``)."""

    def reclaim(self) -> int:
        """Hand dead workers' unacknowledged messages back; how many."""
        ...

    def mentions_held(self, *, dead_letters: bool = True) -> set[int]:
        """Every mention id some message on the broker carries (dead-lettered ones too,
        unless ``dead_letters`` is false)."""
        ...


@dataclass
class Enqueue:
    """Where the scheduler sends work (the actors' ``send``, or a test's list)."""

    poll: Callable[[int], object]
    score: Callable[[list[int]], object]
    draft: Callable[[list[int]], object]
    send: Callable[[int], object]


@dataclass
class Scheduler:
    """Decides which queries are due; keeps its timetable in memory (restart = poll all)."""

    sessions: sessionmaker[Session]
    enqueue: Enqueue
    reddit_requests_per_minute: int = 100
    stale_after: dt.timedelta = dt.timedelta(minutes=10)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    rng: random.Random = field(default_factory=random.Random)
    #: The Reddit app a brand's credentials profile polls with (``credentials.reddit_app``);
    #: by default every brand is on one app, as in a deployment without profiles.
    reddit_app: Callable[[str | None], str] = field(default=lambda profile: "app")
    _due: dict[int, dt.datetime] = field(default_factory=dict)
    #: (platform, who shares the allowance) -> (window number, requests given to polls).
    _windows: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: Hands dead worker processes' unacknowledged messages back to their queues and
    #: says which mentions the broker's messages carry (``queue.DeadWorkerReclaimer``,
    #: Redis); None where the broker cannot say (RabbitMQ, the in-process one).
    reclaimer: Reclaimer | None = None
    #: One log line when the database or broker goes away and one when it is back.
    _outage: OutageLog = field(default_factory=lambda: OutageLog(log, "scheduler"))
    _last_lost: dt.datetime | None = None

    def tick(self) -> list[int]:
        """Enqueue every due query's poll; return the query ids enqueued.

        A database or broker that is down fails this tick only: the next tick tries
        again, and the log says so once when it goes and once when it is back (a bug's
        traceback is logged, at most once in five minutes). The scheduler is the one
        process whose sweep recovers lost work after an outage, so an outage must not
        end it.
        """
        try:
            sent = self._tick()
        except Exception as exc:  # noqa: BLE001 (an outage must not end the scheduler)
            self._outage.failed(exc)
            return []
        self._outage.ok("database", *(("broker",) if sent else ()))
        return sent

    def _tick(self) -> list[int]:
        now = self.clock()
        with transaction(self.sessions) as s:
            plan = s.execute(
                select(
                    QueryRow.id, QueryRow.platform, QueryRow.interval_seconds, BrandRow.credentials
                )
                .join(BrandRow, BrandRow.id == QueryRow.brand_id)
                .where(QueryRow.enabled.is_(True))
                .order_by(QueryRow.id)
            ).all()
        sent = []
        for query_id, platform, interval, profile in plan:
            if self._due.get(query_id, now) > now:
                continue
            if not self._allowance(platform, profile, now):
                continue
            self.enqueue.poll(query_id)
            # Up to 10% jitter so queries with the same interval do not poll in lockstep.
            jitter = self.rng.uniform(0, 0.1 * interval)
            self._due[query_id] = now + dt.timedelta(seconds=interval + jitter)
            sent.append(query_id)
        return sent

    def _allowance(self, platform: str, profile: str | None, now: dt.datetime) -> bool:
        """Whether one poll of ``platform`` for a brand on ``profile`` fits its API's request
        budget in the current window; if so, the poll's requests are taken from it."""
        budget = request_budget(platform)
        if budget is None:
            return True
        if platform == "reddit":  # the one budget a setting sizes
            budget = dataclasses.replace(budget, requests=self.reddit_requests_per_minute)
        if budget.per == "app":
            who = self.reddit_app(profile)
        elif budget.per == "account":
            who = profile or ""
        else:  # "address": every account polled from here
            who = ""
        window = int(now.timestamp()) // budget.window_seconds
        start, used = self._windows.get((platform, who), (window, 0))
        if start != window:
            start, used = window, 0
        if used + budget.per_poll > budget.for_polls:
            log.info(
                "%s request budget of %s for this window is used (%d of %d requests): "
                "its polls wait",
                platform,
                who or "this deployment",
                used,
                budget.for_polls,
            )
            return False
        self._windows[(platform, who)] = (start, used + budget.per_poll)
        return True

    def reclaim(self) -> int:
        """Dead workers' messages handed back, plus lost mentions enqueued again (0
        without a reclaimer).

        A killed worker's batch is back in its queue within ``BRANDCARE_DEAD_WORKER_
        SECONDS`` plus a check. A worker killed after a stage committed but before it
        enqueued the next stage (a poll's new mentions, a batch's drafting) leaves
        mentions that no message carries: they are enqueued again here, 15 s after their
        fetch, where the sweep would wait ``stale_after`` for them because it cannot
        tell them from mentions waiting in a long queue. The sweep stays for what this
        cannot see (a broker without a reclaimer; dead-lettered messages).
        """
        if self.reclaimer is None:
            return 0
        try:
            handed = self.reclaimer.reclaim()
            lost = self._lost()
        except Exception as exc:  # noqa: BLE001 (an outage must not end the scheduler)
            self._outage.failed(exc)
            return 0
        self._outage.ok("database", "broker")
        return handed + lost

    def _lost(self) -> int:
        """Enqueue again the waiting mentions no message carries; how many."""
        assert self.reclaimer is not None
        now = self.clock()
        if self._last_lost is not None and now - self._last_lost < ORPHAN_EVERY:
            return 0
        self._last_lost = now
        with transaction(self.sessions) as s:
            waiting = stale_work(s, now - ORPHAN_GRACE, limit=ORPHAN_LIMIT)
        if not waiting.unscored and not waiting.undrafted:
            return 0
        # Read after the database, then the candidates' states read again: a mention
        # whose message was done between the two reads is no longer waiting, and one
        # still waiting that no message carried at the broker's read is lost (a stage
        # sends the next message before its own is acknowledged, so a batch in hand is
        # always carried by one or the other).
        held = self.reclaimer.mentions_held()
        unscored = [m for m in waiting.unscored if m not in held]
        undrafted = [m for m in waiting.undrafted if m not in held]
        if unscored or undrafted:
            with transaction(self.sessions) as s:
                unscored = still_in_state(s, unscored, "new")
                undrafted = still_in_state(s, undrafted, "scored")
        for start in range(0, len(unscored), 64):
            self.enqueue.score(unscored[start : start + 64])
        for start in range(0, len(undrafted), 64):
            self.enqueue.draft(undrafted[start : start + 64])
        if unscored or undrafted:
            log.warning(
                "enqueued again %d mentions to score and %d to draft that no message "
                "carried (a worker died between a stage's commit and its enqueue)",
                len(unscored),
                len(undrafted),
            )
        return len(unscored) + len(undrafted)

    def sweep(self) -> StaleWork:
        """Re-enqueue work stuck in an intermediate state (a lost or dead message).

        Like ``tick``, a failure is logged as ``tick`` logs it and the next sweep tries
        again.
        """
        try:
            stale = self._sweep()
        except Exception as exc:  # noqa: BLE001 (an outage must not end the scheduler)
            self._outage.failed(exc)
            return StaleWork([], [], [])
        busy = stale.unscored or stale.undrafted or stale.unsent
        self._outage.ok("database", *(("broker",) if busy else ()))
        return stale

    def _sweep(self) -> StaleWork:
        with transaction(self.sessions) as s:
            stale = stale_work(s, self.clock() - self.stale_after)
        if self.reclaimer is not None and (stale.unscored or stale.undrafted):
            # A mention a queued, delayed or held message carries is waiting, not lost
            # (a spike's backlog outlasts stale_after): enqueueing it again only doubles
            # the backlog. Dead-lettered ones are retried here, as without a reclaimer.
            held = self.reclaimer.mentions_held(dead_letters=False)
            stale = StaleWork(
                [m for m in stale.unscored if m not in held],
                [m for m in stale.undrafted if m not in held],
                stale.unsent,
            )
        if stale.unscored:
            for start in range(0, len(stale.unscored), 64):
                self.enqueue.score(stale.unscored[start : start + 64])
        for start in range(0, len(stale.undrafted), 64):
            self.enqueue.draft(stale.undrafted[start : start + 64])
        for draft_id in stale.unsent:
            self.enqueue.send(draft_id)
        total = len(stale.unscored) + len(stale.undrafted) + len(stale.unsent)
        if total:
            log.warning(
                "re-enqueued stale work: %d to score, %d to draft, %d to send",
                len(stale.unscored),
                len(stale.undrafted),
                len(stale.unsent),
            )
        return stale
