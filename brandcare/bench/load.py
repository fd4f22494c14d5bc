"""``brandcare bench load``: the production shape at volume, with 1, 2 and 4 workers.

Each worker count gets a fresh PostgreSQL database and an empty Redis database, one
``brandcare run`` (the scheduler) and N ``brandcare worker --processes 1`` commands:
N processes, so N forward passes can run at once. A short warm-up stream goes through
first, so every worker has imported torch and loaded the model before the clock
starts; then the measured stream (the demo's texts, unique ids) is released as fast
as the listener takes it. While it runs, this process samples the backlog of each
stage every second, approves a share of the drafts through the agents' own path
(``brandcare.agents.review``: compare-and-set approval, then a send message), so replies go
out through the replay source's ``post_reply``, and reads each worker's peak memory
and the CPU each part of the deployment spent.
Afterwards it checks that nothing was lost or done twice: every mention stored,
scored once and decided, and exactly one reply sent per approval.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from brandcare.agents.review import ReviewError, approve, send_approved
from brandcare.bench.load_report import (
    CpuShare,
    LoadOptions,
    LoadRun,
    Spread,
    as_json,
    count_checks,
    report,
)
from brandcare.bench.pipeline import prepare, write_stream
from brandcare.bench.procs import ProcessWatch
from brandcare.bench.servers import (
    deployment_env,
    flush_redis,
    platform_posts,
    spawn_cli,
    stop_group,
    throwaway_database,
)
from brandcare.config import Settings
from brandcare.store import transaction
from brandcare.store.models import CursorRow, DraftRow, MentionRow, QueryRow, ReplyRow, ScoreRow

#: Warm-up mentions per worker: two scoring messages each, so each loads its model.
WARMUP_PER_WORKER = 128
#: Who the automatic approvals are recorded as, in drafts and the audit log.
APPROVER = "bench:load"
#: How long approved drafts may take to be sent once the stream is through.
SEND_SETTLE_SECONDS = 120.0


class LoadBenchError(RuntimeError):
    """The benchmark cannot run or did not finish; the message says what to check."""


@dataclass(frozen=True, slots=True)
class Backlog:
    """One second's snapshot of the measured stream: what waits at each stage."""

    poll: int
    score: int
    draft: int
    send: int
    oldest_unscored_s: float
    oldest_undrafted_s: float


class _Approver(threading.Thread):
    """Approves every k-th new pending draft of the stream, as an agent would, and sends it.

    Deterministic: of the pending drafts seen, draft number i is approved when
    ``floor(i * share)`` steps up, so the share holds at any size. Drafts are read
    above the highest id seen; a draft whose transaction committed after a higher one
    (another worker's) is caught by the full pass ``finish`` makes.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        query_id: int,
        share: float,
        idle_wait: float = 0.5,
    ) -> None:
        super().__init__(name="bench-approver", daemon=True)
        self.settings = settings
        self.sessions = sessions
        self.query_id = query_id
        self.share = share
        self.idle_wait = idle_wait
        self.stop_now = threading.Event()
        self.approved = self.refused = 0
        self._seen: set[int] = set()
        #: Draft id -> when a sweep during the run first saw it pending (epoch seconds):
        #: when it was visible to an agent, give or take a sweep.
        self.seen_at: dict[int, float] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_now.is_set():
                if not self.sweep(after=max(self._seen, default=0), record=True):
                    self.stop_now.wait(self.idle_wait)
        except BaseException as exc:  # noqa: BLE001  (reported by the benchmark)
            self.error = exc

    def sweep(self, after: int = 0, *, record: bool = False) -> int:
        """One pass over pending drafts above ``after`` not seen yet; how many it saw
        (``record``: note when each was first seen, in ``seen_at``)."""
        with transaction(self.sessions) as s:
            ids = [
                draft_id
                for draft_id in s.scalars(
                    select(DraftRow.id)
                    .join(MentionRow, MentionRow.id == DraftRow.mention_id)
                    .where(
                        MentionRow.query_id == self.query_id,
                        DraftRow.state == "pending",
                        DraftRow.id > after,
                    )
                    .order_by(DraftRow.id)
                )
                if draft_id not in self._seen
            ]
        now = time.time()
        for draft_id in ids:
            self._seen.add(draft_id)
            if record:
                self.seen_at[draft_id] = now
            if int(len(self._seen) * self.share) > int((len(self._seen) - 1) * self.share):
                self._approve(draft_id)
        return len(ids)

    def _approve(self, draft_id: int) -> None:
        try:
            result = approve(self.sessions, draft_id, text=None, actor=APPROVER)
        except ReviewError:
            self.refused += 1  # e.g. a draft with no text: an agent could not approve it
            return
        if result.approved:
            self.approved += 1
            send_approved(self.settings, draft_id)

    def finish(self) -> None:
        """Stop the thread, then take the share of every pending draft not seen yet."""
        self.stop_now.set()
        self.join()
        if self.error is not None:
            raise LoadBenchError(f"the approver failed: {self.error!r}") from self.error
        self.sweep()

    @property
    def seen(self) -> int:
        """Pending drafts seen so far."""
        return len(self._seen)


def _query_ids(sessions: sessionmaker[Session], *streams: Path) -> list[int]:
    with transaction(sessions) as s:
        by_terms = dict(s.execute(select(QueryRow.terms, QueryRow.id)).all())
    return [by_terms[str(stream)] for stream in streams]


def _set_enabled(sessions: sessionmaker[Session], query_id: int, enabled: bool) -> None:
    with transaction(sessions) as s:
        s.execute(update(QueryRow).where(QueryRow.id == query_id).values(enabled=enabled))


def _backlog(sessions: sessionmaker[Session], query_id: int, n: int) -> Backlog:
    """What waits where, from the cursor (lines the listener took) and mention states."""
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as s:
        position = s.scalar(select(CursorRow.position).where(CursorRow.query_id == query_id))
        rows = s.execute(
            select(MentionRow.state, func.count(), func.min(MentionRow.fetched_at))
            .where(MentionRow.query_id == query_id, MentionRow.state.in_(["new", "scored"]))
            .group_by(MentionRow.state)
        ).all()
        sending = s.scalar(
            select(func.count())
            .select_from(DraftRow)
            .where(DraftRow.state.in_(["approved", "sending"]))
        )
    taken = int(position.partition(":")[0]) if position else 0
    waiting = {state: (int(count), oldest) for state, count, oldest in rows}

    def age(state: str) -> float:
        oldest = waiting.get(state, (0, None))[1]
        return (now - oldest).total_seconds() if oldest is not None else 0.0

    return Backlog(
        poll=n - taken,
        score=waiting.get("new", (0, None))[0],
        draft=waiting.get("scored", (0, None))[0],
        send=int(sending or 0),
        oldest_unscored_s=age("new"),
        oldest_undrafted_s=age("scored"),
    )


def _drained(b: Backlog) -> bool:
    return b.poll == 0 and b.score == 0 and b.draft == 0


def _wait_drained(
    sessions: sessionmaker[Session], query_id: int, n: int, timeout: float, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not _drained(_backlog(sessions, query_id, n)):
        if time.monotonic() > deadline:
            raise LoadBenchError(
                f"{what} did not get through in {timeout:.0f} s: are the worker processes "
                "running (their log is below) and is Redis reachable?"
            )
        time.sleep(0.5)


def _counts(sessions: sessionmaker[Session], query_id: int) -> dict[str, int]:
    """What the measured stream left in the database."""
    mine = MentionRow.query_id == query_id
    with transaction(sessions) as s:
        states = dict(
            s.execute(
                select(MentionRow.state, func.count()).where(mine).group_by(MentionRow.state)
            ).all()
        )
        scored = s.execute(
            select(func.count(func.distinct(ScoreRow.mention_id)), func.count(ScoreRow.id))
            .join(MentionRow, MentionRow.id == ScoreRow.mention_id)
            .where(mine)
        ).one()
        drafts = dict(
            s.execute(
                select(DraftRow.state, func.count())
                .join(MentionRow, MentionRow.id == DraftRow.mention_id)
                .where(mine)
                .group_by(DraftRow.state)
            ).all()
        )
        approved = s.scalar(
            select(func.count())
            .select_from(DraftRow)
            .join(MentionRow, MentionRow.id == DraftRow.mention_id)
            .where(mine, DraftRow.approved_by.is_not(None))
        )
        posted = s.scalar(
            select(func.count())
            .select_from(ReplyRow)
            .join(DraftRow, DraftRow.id == ReplyRow.draft_id)
            .join(MentionRow, MentionRow.id == DraftRow.mention_id)
            .where(mine, ReplyRow.state == "posted")
        )
    drafted, skipped, ignored = (int(states.get(k, 0)) for k in ("drafted", "skipped", "ignored"))
    return {
        "stored": sum(int(v) for v in states.values()),
        "scored": int(scored[0]),
        "score_rows": int(scored[1]),
        "drafted": drafted,
        "skipped": skipped,
        "ignored": ignored,
        "decided": drafted + skipped + ignored,
        "drafts": sum(int(v) for v in drafts.values()),
        "drafts_sent": int(drafts.get("sent", 0)),
        "drafts_failed": int(drafts.get("failed", 0)),
        "approved_recorded": int(approved or 0),
        "replies_posted": int(posted or 0),
    }


def _settle_sends(sessions: sessionmaker[Session], query_id: int, n: int) -> None:
    deadline = time.monotonic() + SEND_SETTLE_SECONDS
    while _backlog(sessions, query_id, n).send and time.monotonic() < deadline:
        time.sleep(0.5)


def _timing(sessions: sessionmaker[Session], query_id: int) -> tuple[float, float, float]:
    """(seconds from the first fetch to the last decision, fetch-to-draft p50, p95)."""
    mine = MentionRow.query_id == query_id
    with transaction(sessions) as s:
        pairs = s.execute(
            select(MentionRow.fetched_at, DraftRow.created_at)
            .join(DraftRow, DraftRow.mention_id == MentionRow.id)
            .where(mine)
        ).all()
        first = s.scalar(select(func.min(MentionRow.fetched_at)).where(mine))
        last_score = s.scalar(
            select(func.max(ScoreRow.created_at))
            .join(MentionRow, MentionRow.id == ScoreRow.mention_id)
            .where(mine)
        )
    # Ignored mentions are decided when scored; the rest when drafted.
    ends = [t for t in (last_score, max((d for _, d in pairs), default=None)) if t is not None]
    if first is None or not ends:
        return 0.0, 0.0, 0.0
    lat = sorted((drafted - fetched).total_seconds() for fetched, drafted in pairs)
    p50 = statistics.median(lat) if lat else 0.0
    return (max(ends) - first).total_seconds(), p50, Spread.of(lat).p95


def _log_facts(log: Path) -> tuple[int, int, str]:
    """(stale re-enqueues, error lines, the log's tail) from the processes' log."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    lines = text.splitlines()
    requeues = sum("re-enqueued stale work" in line for line in lines)
    errors = sum(("Traceback" in line or " ERROR " in line) for line in lines)
    return requeues, errors, "\n".join(lines[-40:])


def _stream_through(
    sessions: sessionmaker[Session],
    query_id: int,
    n: int,
    timeout: float,
    watch: ProcessWatch,
    approver: _Approver,
) -> tuple[list[Backlog], float]:
    """Release the measured stream and sample once a second until it is through.

    Returns the samples and the CPU seconds this process spent meanwhile.
    """
    watch.mark()
    own_cpu = time.process_time()
    _set_enabled(sessions, query_id, True)
    approver.start()
    samples: list[Backlog] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        watch.sample()
        samples.append(_backlog(sessions, query_id, n))
        if _drained(samples[-1]):
            break
        time.sleep(1.0)
    watch.stop_clock()
    approver.finish()
    return samples, time.process_time() - own_cpu


def _lag(samples: Sequence[Backlog]) -> dict[str, Spread]:
    """Each sampled backlog figure's worst and p95 over the run."""
    return {
        "oldest_unscored_s": Spread.of([b.oldest_unscored_s for b in samples]),
        "oldest_undrafted_s": Spread.of([b.oldest_undrafted_s for b in samples]),
        **{
            f"waiting_{stage}": Spread.of([getattr(b, stage) for b in samples])
            for stage in ("poll", "score", "draft", "send")
        },
    }


def run_once(options: LoadOptions, workers: int, workdir: Path) -> LoadRun:
    """One worker count, from a fresh database to its count checks."""
    n = options.mentions
    stream, warmup = workdir / "stream.jsonl", workdir / f"warmup-{workers}.jsonl"
    if not stream.exists():
        write_stream(stream, n, prefix="load")
    warm_n = WARMUP_PER_WORKER * workers
    write_stream(warmup, warm_n, prefix="warmup")
    flush_redis(options.broker_url)
    log_path = workdir / f"procs-{workers}.log"
    with (
        throwaway_database(options.database_url, "brandcare_load") as url,
        log_path.open("ab") as log,
    ):
        sessions = prepare(url, warmup, stream)
        warm_q, main_q = _query_ids(sessions, warmup, stream)
        _set_enabled(sessions, main_q, False)
        posts = workdir / f"posts-{workers}.jsonl"
        env = deployment_env(url, options.broker_url, options.score_threads, posts)
        worker_args = ["worker", "--processes", "1", "--threads", str(options.threads)]
        procs = [spawn_cli(worker_args, env, log) for _ in range(workers)]
        procs.append(spawn_cli(["run", "--tick", "0.2"], env, log))
        watch = ProcessWatch([p.pid for p in procs])
        settings = Settings(database_url=url, broker_url=options.broker_url)
        approver = _Approver(settings, sessions, main_q, options.approve_share)
        try:
            _wait_drained(sessions, warm_q, warm_n, 300, "the warm-up stream")
            samples, own_cpu = _stream_through(
                sessions, main_q, n, options.timeout, watch, approver
            )
            _settle_sends(sessions, main_q, n)
            watch.sample()
            counts = {**_counts(sessions, main_q), **platform_posts(posts)}
            seconds, p50, p95 = _timing(sessions, main_q)
        except LoadBenchError as exc:
            log.flush()
            tail = _log_facts(log_path)[2]
            raise LoadBenchError(f"{exc}\n--- the processes' log, last lines ---\n{tail}") from exc
        finally:
            approver.stop_now.set()
            for proc in reversed(procs):  # the scheduler first: it stops sending work
                stop_group(proc)
            sessions.kw["bind"].dispose()
    requeues, errors, tail = _log_facts(log_path)
    usage = [watch.usage(p.pid) for p in procs]
    return LoadRun(
        workers=workers,
        mentions=n,
        seconds=seconds,
        p50=p50,
        p95=p95,
        lag=_lag(samples),
        worker_usage=usage[:-1],
        scheduler_usage=usage[-1],
        cpu=CpuShare(
            machine_busy=watch.machine_busy,
            postgres_s=watch.postgres_cpu_s(),
            bench_s=round(own_cpu, 2),
        ),
        counts=counts,
        checks=count_checks(n, counts, approver.approved),
        approvals=approver.approved,
        refused=approver.refused,
        pending_seen=approver.seen,
        stale_requeues=requeues,
        log_errors=errors,
        log_tail=tail,
    )


def run_load_benchmark(options: LoadOptions, out: Path | None = None) -> tuple[str, bool]:
    """Every worker count in turn; the report, and whether every count check passed."""
    if not options.broker_url.startswith(("redis://", "rediss://")):
        raise LoadBenchError(
            f"--broker-url must be a redis:// URL (each run empties its database), "
            f"got {options.broker_url!r}"
        )
    if not 0.0 <= options.approve_share <= 1.0:
        raise LoadBenchError(
            f"--approve-share is a fraction in [0, 1], got {options.approve_share}"
        )
    import psycopg
    import redis

    runs = []
    with tempfile.TemporaryDirectory(prefix="brandcare-load-") as tmp:
        try:
            for workers in options.workers:
                runs.append(run_once(options, workers, Path(tmp)))
        except (psycopg.OperationalError, redis.exceptions.ConnectionError) as exc:
            raise LoadBenchError(
                f"a server did not answer ({exc}); start PostgreSQL and Redis or point "
                "--database-url and --broker-url at running ones"
            ) from exc
    if out is not None:
        out.write_text(json.dumps(as_json(options, runs), indent=2) + "\n", encoding="utf-8")
    return report(options, runs), all(r.passed for r in runs)
