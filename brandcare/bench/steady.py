"""``brandcare bench load --rate``: latency under a steady stream, a spike and a crash.

The flood (``bench.load``) measures throughput; a care team lives at a rate, and what
it feels is how long a customer waits until an agent sees a draft. Here mentions are
posted at a fixed rate to the replay source's file, the fake platform the load
benchmark already polls: a line appended to the file is a post on the platform, its
``created_at`` the moment it was written, and the scheduler's polls (``brandcare
run``) take it from there through the workers like any other. Each base rate runs for
``duration`` seconds, then a spike (``spike_factor`` times the rate for
``spike_seconds``), then the base rate again until the spike's backlog has drained.

Per phase it reports, for the mentions whose draft lands in the inbox's pending lane,
posted -> draft row, split into the poll wait (posted -> fetched, set by the query's
interval) and fetch -> draft (what the pipeline owes); the recovery after the spike;
a spike's waits by the model's urgency against the cheap first pass's mark; worker
and PostgreSQL CPU per mention; the backlog of each stage every second (JSON and a
PNG chart); and the load benchmark's count checks. ``kill_worker_at`` SIGKILLs one
worker process mid-run, finds in Redis which messages it held unacknowledged, and
reports what that cost the mentions in them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.bench.load import (
    WARMUP_PER_WORKER,
    Backlog,
    LoadBenchError,
    _Approver,
    _backlog,
    _counts,
    _drained,
    _log_facts,
    _query_ids,
    _set_enabled,
    _settle_sends,
    _wait_drained,
)
from brandcare.bench.load_report import count_checks
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
from brandcare.bench.steady_report import (
    KillResult,
    PhaseResult,
    Quantiles,
    RateResult,
    SteadyOptions,
    SteadyRun,
    UrgencySplit,
    as_json,
    report,
    write_chart,
)
from brandcare.brands.sources import sample_dir
from brandcare.config import Settings
from brandcare.pipeline.triage import looks_urgent
from brandcare.store import transaction
from brandcare.store.models import DraftRow, MentionRow, ScoreRow

#: Seconds the workers idle, measured, before the stream starts.
IDLE_SECONDS = 10.0
#: Seconds of posts per window when judging the recovery's p95.
WINDOW_SECONDS = 5.0
#: How often the benchmark's reader sweeps the pending lane for new drafts.
SEEN_EVERY = 0.2
#: Dramatiq's Redis keys (its default namespace, which ``queue.make_broker`` keeps).
NAMESPACE = "dramatiq"
#: The queues whose messages carry mentions (scoring and drafting).
MENTION_QUEUES = ("score", "urgent_score", "draft", "urgent_draft")
#: Actors whose first argument is a list of mention ids.
MENTION_ACTORS = frozenset(
    {"score_mentions", "score_urgent_mentions", "draft_mentions", "draft_urgent_mentions"}
)


@dataclass(slots=True)
class _Phase:
    """One phase of one base rate, as the releaser runs it."""

    rate: float
    name: str
    per_s: float
    start: float  # monotonic
    start_s: float  # seconds since the stream started
    released: int = 0
    end_s: float | None = None

    @property
    def key(self) -> str:
        """The prefix of its mentions' ids: ``r50-spike``."""
        return f"r{self.rate:g}-{self.name}"


class _Releaser(threading.Thread):
    """Posts mentions to the replay file at the current phase's rate.

    Each write appends whole lines (``created_at``: the moment of the write) in one
    call; the replay source holds back a line it catches half-written. The texts are
    the demo's, cycled, as in the flood.
    """

    def __init__(self, path: Path, origin: float) -> None:
        super().__init__(name="bench-releaser", daemon=True)
        self.path = path
        self.origin = origin
        self.sample = [
            json.loads(line)
            for line in (sample_dir() / "demo_mentions.jsonl").read_text().splitlines()
            if line.strip()
        ]
        self.total = 0
        self.phases: list[_Phase] = []
        self.stop_now = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._current: _Phase | None = None

    def begin(self, rate: float, name: str, per_s: float) -> _Phase:
        """Start releasing at ``per_s`` mentions a second (the previous phase ends)."""
        now = time.monotonic()
        phase = _Phase(rate, name, per_s, now, now - self.origin)
        with self._lock:
            self._end(now)
            self._current = phase
            self.phases.append(phase)
        return phase

    def pause(self) -> None:
        """Release nothing until the next ``begin``."""
        with self._lock:
            self._end(time.monotonic())

    def _end(self, now: float) -> None:
        if self._current is not None:
            self._current.end_s = now - self.origin
            self._current = None

    def run(self) -> None:
        try:
            with self.path.open("ab", buffering=0) as fh:
                while not self.stop_now.wait(0.01):
                    with self._lock:
                        phase = self._current
                        due = (
                            int(phase.per_s * (time.monotonic() - phase.start)) - phase.released
                            if phase is not None
                            else 0
                        )
                        if phase is not None and due > 0:
                            self._write(fh, phase, due)
        except BaseException as exc:  # noqa: BLE001  (reported by the benchmark)
            self.error = exc

    def _write(self, fh: Any, phase: _Phase, count: int) -> None:
        posted = dt.datetime.now(dt.UTC).isoformat()
        lines = []
        for _ in range(count):
            row = dict(self.sample[self.total % len(self.sample)])
            row.update(id=f"{phase.key}-{self.total}", brand="bench", created_at=posted)
            row.pop("conversation_id", None)
            row.pop("in_reply_to", None)
            lines.append(json.dumps(row, ensure_ascii=False))
            self.total += 1
        data = ("\n".join(lines) + "\n").encode("utf-8")
        while data:
            data = data[fh.write(data) :]
        phase.released += count


@dataclass(slots=True)
class _Kill:
    """A SIGKILL in flight: when, whom, and the messages every worker held then."""

    at: float  # epoch seconds
    at_s: float  # since the stream started
    phase: str
    index: int  # which worker command
    pid: int
    held: dict[str, list[dict[str, Any]]]  # broker id -> messages held unacknowledged
    dead: list[str] = field(default_factory=list)
    restarted_s: float | None = None


class _Killer(threading.Thread):
    """SIGKILLs one worker process at the first moment, from now, that it holds a batch
    of mentions unacknowledged (or after ``patience`` seconds whatever it holds).

    At a low rate a worker is idle most of the time, and a kill at a fixed second would
    mostly hit nothing. Which broker id is the process's is read from Redis's MONITOR:
    the Dramatiq calls made over the process's own connections carry it.
    """

    def __init__(self, broker_url: str, pid: int, patience: float = 60.0) -> None:
        super().__init__(name="bench-killer", daemon=True)
        self.broker_url = broker_url
        self.pid = pid
        self.patience = patience
        self.broker_id: str | None = None
        self.at: float | None = None
        self.held: dict[str, list[dict[str, Any]]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        import redis

        try:
            client = redis.Redis.from_url(self.broker_url)
            self.broker_id = _broker_id_of(self.broker_url, self.pid)
            keys = [f"{NAMESPACE}:__acks__.{self.broker_id}.{q}" for q in MENTION_QUEUES]
            deadline = time.monotonic() + self.patience
            while time.monotonic() < deadline and not any(client.scard(k) for k in keys):
                time.sleep(0.02)
            os.kill(self.pid, signal.SIGKILL)
            self.at = time.time()
            self.held = _held_messages(self.broker_url)
        except BaseException as exc:  # noqa: BLE001  (reported by the benchmark)
            self.error = exc


def _broker_id_of(broker_url: str, pid: int, seconds: float = 10.0) -> str:
    """The Dramatiq broker id of worker process ``pid``: from the calls MONITOR shows on
    its own Redis connections (each carries the caller's id; a live worker makes one at
    least every second)."""
    import redis
    from sqlalchemy.engine import make_url

    port = make_url(broker_url.replace("redis://", "redis+x://", 1)).port or 6379
    mine = {
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port
    }
    client = redis.Redis.from_url(broker_url, socket_timeout=1.0)
    deadline = time.monotonic() + seconds
    with client.monitor() as monitor:  # type: ignore[no-untyped-call]
        while time.monotonic() < deadline:
            try:
                seen = monitor.next_command()
            except redis.TimeoutError:
                continue
            words = str(seen.get("command", "")).split(" ")
            if (
                str(seen.get("client_port", "")).isdigit()
                and int(seen["client_port"]) in mine
                and words[0].upper() == "EVALSHA"
                and len(words) > 7
                and words[3] == NAMESPACE
            ):
                return words[7]
    raise LoadBenchError(
        f"could not tell which broker id worker process {pid} uses: no Dramatiq call on "
        f"its Redis connections in {seconds:.0f} s"
    )


def _held_messages(broker_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every worker's unacknowledged messages, by its broker id (Dramatiq's Redis keys:
    ``__acks__.<broker id>.<queue>`` sets of ids, bodies in ``<queue>.msgs``)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    prefix = f"{NAMESPACE}:__acks__."
    held: dict[str, list[dict[str, Any]]] = {}
    for raw in client.keys(f"{prefix}*"):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        worker, _, queue = key[len(prefix) :].partition(".")
        # A broker id is a UUID: its own dots are none, the queue's may be (".DQ").
        ids = list(client.smembers(key))
        if not ids:
            continue
        bodies = client.hmget(f"{NAMESPACE}:{queue}.msgs", ids)
        held.setdefault(worker, []).extend(json.loads(b) for b in bodies if b)
    return held


def _model_process(proc: subprocess.Popen[bytes]) -> int:
    """The pid of the Dramatiq worker process under a ``brandcare worker`` command (the
    supervisor's child that holds the model and the messages)."""
    children = psutil.Process(proc.pid).children(recursive=True)
    if not children:
        raise LoadBenchError(f"worker {proc.pid} has no worker process to kill yet")
    return int(max(children, key=lambda c: c.memory_info().rss).pid)


@dataclass
class _Deployment:
    """The scheduler and worker commands of one run, restarted as a supervisor would."""

    env: dict[str, str]
    log: Any
    threads: int
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    scheduler: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> subprocess.Popen[bytes]:
        args = ["worker", "--processes", "1", "--threads", str(self.threads)]
        proc = spawn_cli(args, self.env, self.log)
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        if self.scheduler is not None:
            stop_group(self.scheduler)  # first: it stops sending work
        for proc in self.workers:
            stop_group(proc)


class _Run:
    """One worker count's steady-rate run: releases, samples, kills, then analyses."""

    def __init__(
        self,
        options: SteadyOptions,
        workers: int,
        sessions: sessionmaker[Session],
        query_id: int,
        deployment: _Deployment,
        stream: Path,
        settings: Settings,
    ) -> None:
        self.options = options
        self.workers = workers
        self.sessions = sessions
        self.query_id = query_id
        self.deployment = deployment
        self.origin = time.monotonic()
        self.origin_epoch = time.time()
        self.releaser = _Releaser(stream, self.origin)
        self.watch = ProcessWatch([p.pid for p in deployment.workers])
        self.roots = [p.pid for p in deployment.workers]
        self.samples: list[dict[str, Any]] = []
        self.kill: _Kill | None = None
        self.killer: _Killer | None = None
        self.approver = _Approver(
            settings,
            sessions,
            query_id,
            options.load.approve_share,
            idle_wait=SEEN_EVERY,
        )
        self.cpu_marks: dict[str, tuple[float, float, Any]] = {}
        self.idle_ms_per_s: dict[str, float] = {}

    # -- the clock ----------------------------------------------------------------------

    def now_s(self) -> float:
        return time.monotonic() - self.origin

    def _sample(self) -> Backlog:
        """One second's reading; also kills, restarts and checks the helper threads."""
        for thread in (self.releaser, self.approver):
            if thread.error is not None:
                raise LoadBenchError(f"the {thread.name} failed: {thread.error!r}")
        self.watch.sample()
        b = _backlog(self.sessions, self.query_id, self.releaser.total)
        current = next((p for p in reversed(self.releaser.phases) if p.end_s is None), None)
        self.samples.append(
            {
                "t": round(self.now_s(), 2),
                "phase": (
                    current.key
                    if current is not None
                    else ("drain" if self.releaser.phases else "idle")
                ),
                "poll": b.poll,
                "score": b.score,
                "draft": b.draft,
                "send": b.send,
                "oldest_unscored_s": round(b.oldest_unscored_s, 2),
                "oldest_undrafted_s": round(b.oldest_undrafted_s, 2),
            }
        )
        self._maybe_kill(current)
        self._supervise()
        return b

    def _run_for(self, seconds: float, until: Callable[[Backlog], bool] | None = None) -> None:
        """Sample once a second for ``seconds`` (or until ``until`` holds, once past them)."""
        start = time.monotonic()
        while True:
            tick = time.monotonic()
            b = self._sample()
            elapsed = time.monotonic() - start
            if elapsed >= seconds and (until is None or until(b)):
                return
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    def mark_cpu(self, name: str) -> None:
        self.watch.sample()
        self.cpu_marks[name] = (
            self.watch.cpu_s(self.roots),
            self.watch.postgres_cpu_s(),
            psutil.cpu_times(),
        )

    # -- killing a worker -------------------------------------------------------------

    def _maybe_kill(self, current: _Phase | None) -> None:
        """Arm the killer once ``kill_worker_at`` has come; note the kill once it struck."""
        at = self.options.kill_worker_at
        if at is None:
            return
        if self.killer is None and self.now_s() >= at:
            pid = _model_process(self.deployment.workers[0])
            self.killer = _Killer(self.options.load.broker_url, pid)
            self.killer.start()
        elif self.killer is not None and self.kill is None and not self.killer.is_alive():
            k = self.killer
            if k.error is not None or k.at is None or k.broker_id is None:
                raise LoadBenchError(f"killing a worker failed: {k.error!r}")
            self.kill = _Kill(
                k.at,
                k.at - self.origin_epoch,
                current.key if current is not None else "drain",
                0,
                k.pid,
                k.held,
                dead=[k.broker_id],
            )

    def _supervise(self) -> None:
        """Start a worker command again when it exited after the kill (Dramatiq's
        supervisor stops when its worker process dies; Docker's restart policy, or
        systemd's, starts it again)."""
        for index, proc in enumerate(self.deployment.workers):
            if proc.poll() is None:
                continue
            killed = self.killer is not None and self.killer.at is not None
            if self.kill is None and killed:
                continue  # the kill is noted at the next sample; the restart then
            if self.kill is None or index != self.kill.index or self.kill.restarted_s is not None:
                raise LoadBenchError(
                    f"worker command {proc.pid} exited (code {proc.returncode}) unasked: "
                    "its log is below"
                )
            fresh = spawn_cli(
                ["worker", "--processes", "1", "--threads", str(self.deployment.threads)],
                self.deployment.env,
                self.deployment.log,
            )
            self.deployment.workers[index] = fresh
            self.watch.add_root(fresh.pid)
            self.roots.append(fresh.pid)
            self.kill.restarted_s = self.now_s() - self.kill.at_s

    # -- the run --------------------------------------------------------------------------

    def run(self) -> None:
        """An idle spell, every base rate in turn, then the helpers stopped."""
        self.watch.mark()
        self.releaser.start()
        self.approver.start()
        self.mark_cpu("idle:start")
        started = time.monotonic()
        self._run_for(IDLE_SECONDS)
        self.mark_cpu("idle:end")
        spent = time.monotonic() - started
        before, after = self.cpu_marks["idle:start"], self.cpu_marks["idle:end"]
        self.idle_ms_per_s = {
            "workers": round(1000 * (after[0] - before[0]) / spent, 1),
            "postgres": round(1000 * (after[1] - before[1]) / spent, 1),
        }
        for rate in self.options.rates:
            self._one_rate(rate)
        self.releaser.stop_now.set()
        self.releaser.join()
        self.approver.finish()

    def _level(self, phase_key: str) -> int:
        """The largest backlog (waiting to be polled, scored or drafted) sampled in it."""
        return max(
            (s["poll"] + s["score"] + s["draft"] for s in self.samples if s["phase"] == phase_key),
            default=0,
        )

    def _one_rate(self, rate: float) -> None:
        """Steady, spike, recovery until the backlog is back to the steady level, drain."""
        o = self.options
        self.mark_cpu(f"{rate}:start")
        steady = self.releaser.begin(rate, "steady", rate)
        self._run_for(o.duration)
        self.mark_cpu(f"{rate}:steady")
        level = self._level(steady.key)
        if o.spikes:
            self.releaser.begin(rate, "spike", rate * o.spike_factor)
            self._run_for(o.spike_seconds)
            self.releaser.begin(rate, "recovery", rate)
            started = time.monotonic()
            self._run_for(
                o.duration,
                lambda b: (
                    b.poll + b.score + b.draft <= level
                    or time.monotonic() - started >= o.recovery_max
                ),
            )
        self.releaser.pause()
        deadline = time.monotonic() + o.load.timeout
        self._run_for(0, lambda b: _drained(b) or time.monotonic() > deadline)
        if not _drained(_backlog(self.sessions, self.query_id, self.releaser.total)):
            raise LoadBenchError(
                f"the stream at {rate:g}/s did not drain in {o.load.timeout:.0f} s: are "
                "the worker processes running (their log is below)?"
            )
        self.mark_cpu(f"{rate}:end")

    # -- what it measured --------------------------------------------------------------

    def analyse(self) -> tuple[list[RateResult], KillResult | None, list[tuple[float, float]]]:
        """Per rate and phase, from the database: posted, fetched, drafted, scored."""
        with transaction(self.sessions) as s:
            rows = s.execute(
                select(
                    MentionRow.id,
                    MentionRow.external_id,
                    MentionRow.text,
                    MentionRow.state,
                    MentionRow.created_at,
                    MentionRow.fetched_at,
                    DraftRow.id,
                    DraftRow.created_at,
                    ScoreRow.urgency_level,
                    ScoreRow.created_at,
                )
                .outerjoin(DraftRow, DraftRow.mention_id == MentionRow.id)
                .outerjoin(ScoreRow, ScoreRow.mention_id == MentionRow.id)
                .where(MentionRow.query_id == self.query_id)
            ).all()
        mentions = [_Mention.of(row, self.origin_epoch) for row in rows]
        by_phase: dict[str, list[_Mention]] = {}
        for m in mentions:
            by_phase.setdefault(m.phase, []).append(m)
        seen = self.approver.seen_at
        results = []
        for rate in self.options.rates:
            phases = [p for p in self.releaser.phases if p.rate == rate]
            results.append(self._rate(rate, phases, by_phase, seen))
        kill = self._kill_result(mentions, by_phase)
        points = [(m.posted_s, m.pipeline) for m in mentions if m.pending]
        return results, kill, points

    def _rate(
        self,
        rate: float,
        phases: Sequence[_Phase],
        by_phase: dict[str, list[_Mention]],
        seen: dict[int, float],
    ) -> RateResult:
        out = []
        spike_start = next((p.start_s for p in phases if p.name == "spike"), None)
        margin = 2 * self.options.poll_interval
        for p in phases:
            pending = [m for m in by_phase.get(p.key, []) if m.pending]
            settled = None
            if p.name == "steady" and spike_start is not None:
                settled = Quantiles.of(
                    [m.pipeline for m in pending if m.posted_s <= spike_start - margin]
                )
            out.append(
                PhaseResult(
                    rate=rate,
                    name=p.name,
                    per_s=p.per_s,
                    seconds=round((p.end_s or p.start_s) - p.start_s, 1),
                    released=p.released,
                    total=Quantiles.of([m.total for m in pending]),
                    poll_wait=Quantiles.of([m.poll_wait for m in pending]),
                    pipeline=Quantiles.of([m.pipeline for m in pending]),
                    seen_lag=Quantiles.of(
                        [seen[m.draft_id] - m.drafted for m in pending if m.draft_id in seen]
                    ),
                    settled=settled,
                )
            )
        spike = next((p for p in phases if p.name == "spike"), None)
        recovered = drained = None
        urgency = None
        if spike is not None and spike.end_s is not None:
            end = spike.end_s
            recovery = [m for m in by_phase.get(f"r{rate:g}-recovery", []) if m.pending]
            recovered = _recovered_after(recovery, end, self.options.target_p95)
            level = self._level(f"r{rate:g}-steady")
            after = [
                s["t"] - end
                for s in self.samples
                if s["t"] >= end and s["poll"] + s["score"] + s["draft"] <= level
            ]
            drained = round(after[0], 1) if after else None
            urgency = _urgency(by_phase.get(spike.key, []))
        start, steady_end, end_mark = (
            self.cpu_marks[f"{rate}:start"],
            self.cpu_marks[f"{rate}:steady"],
            self.cpu_marks[f"{rate}:end"],
        )
        steady_n = phases[0].released or 1
        all_n = sum(p.released for p in phases) or 1
        return RateResult(
            rate=rate,
            phases=out,
            recovered_after_s=recovered,
            drained_after_s=drained,
            urgency=urgency,
            cpu_ms={
                "worker_steady": round(1000 * (steady_end[0] - start[0]) / steady_n, 3),
                "worker_all": round(1000 * (end_mark[0] - start[0]) / all_n, 3),
                "postgres_steady": round(1000 * (steady_end[1] - start[1]) / steady_n, 3),
                "postgres_all": round(1000 * (end_mark[1] - start[1]) / all_n, 3),
            },
            machine_busy=round(_busy(start[2], end_mark[2]), 3),
        )

    def _kill_result(
        self, mentions: Sequence[_Mention], by_phase: dict[str, list[_Mention]]
    ) -> KillResult | None:
        k = self.kill
        if k is None:
            return None
        messages = [m for worker in k.dead for m in k.held.get(worker, [])]
        held: dict[str, int] = {}
        ids: set[int] = set()
        for message in messages:
            actor = str(message.get("actor_name", "?"))
            held[actor] = held.get(actor, 0) + 1
            if actor in MENTION_ACTORS and message.get("args"):
                ids.update(int(i) for i in message["args"][0])
        affected = [m for m in mentions if m.id in ids]
        hit_phases = {m.phase for m in affected} or {k.phase}
        others = [m for m in mentions if m.phase in hit_phases and m.id not in ids and m.pending]
        done = [m.decided for m in affected if m.decided is not None]
        return KillResult(
            at_s=round(k.at_s, 1),
            phase=k.phase,
            pid=k.pid,
            held=held,
            affected=len(affected),
            affected_total=Quantiles.of([m.total for m in affected if m.pending]),
            affected_pipeline=Quantiles.of([m.pipeline for m in affected if m.pending]),
            undisturbed_pipeline=Quantiles.of([m.pipeline for m in others]),
            kill_to_done_s=round(max(done) - k.at, 1) if done else None,
            restarted_after_s=round(k.restarted_s, 1) if k.restarted_s is not None else None,
        )


@dataclass(frozen=True, slots=True)
class _Mention:
    """One measured mention's times (epoch seconds) and fates."""

    id: int
    phase: str
    text: str
    pending: bool  # its draft went to the pending lane
    posted: float
    fetched: float
    draft_id: int | None
    drafted: float
    level: str | None
    scored: float | None
    posted_s: float

    @classmethod
    def of(cls, row: Any, origin_epoch: float) -> _Mention:
        (mid, external, text, state, created, fetched, draft_id, drafted, level, scored) = row
        posted = created.timestamp()
        return cls(
            id=int(mid),
            phase=str(external).rsplit("-", 1)[0],
            text=str(text),
            pending=draft_id is not None and state in ("drafted", "error"),
            posted=posted,
            fetched=fetched.timestamp(),
            draft_id=int(draft_id) if draft_id is not None else None,
            drafted=drafted.timestamp() if drafted is not None else 0.0,
            level=level,
            scored=scored.timestamp() if scored is not None else None,
            posted_s=posted - origin_epoch,
        )

    @property
    def total(self) -> float:
        return self.drafted - self.posted

    @property
    def poll_wait(self) -> float:
        return self.fetched - self.posted

    @property
    def pipeline(self) -> float:
        return self.drafted - self.fetched

    @property
    def decided(self) -> float | None:
        """When its automatic path ended: drafted, or scored as needing no draft."""
        return self.drafted if self.draft_id is not None else self.scored


def _recovered_after(recovery: Sequence[_Mention], end: float, target: float) -> float | None:
    """Seconds after ``end`` (since-start seconds) from which every 5-second window of
    posts has its fetch-to-draft p95 under ``target``; None when the last does not."""
    windows: dict[int, list[float]] = {}
    for m in recovery:
        windows.setdefault(int((m.posted_s - end) // WINDOW_SECONDS), []).append(m.pipeline)
    if not windows:
        return None
    # A window with under half the usual posts is the phase's last, cut short: a few
    # mentions' p95 says nothing (one run "recovered" on a fraction of a second's).
    usual = statistics.median(len(v) for v in windows.values())
    ordered = sorted(w for w, v in windows.items() if len(v) >= usual / 2)
    recovered: int | None = None
    for w in ordered:
        if Quantiles.of(windows[w]).p95 <= target:
            recovered = w if recovered is None else recovered
        else:
            recovered = None
    return None if recovered is None else max(0.0, recovered * WINDOW_SECONDS)


def _urgency(spike: Sequence[_Mention]) -> UrgencySplit:
    """The spike's waits by the model's urgency and the first pass's mark."""
    scored = [m for m in spike if m.level is not None]
    marked = {m.id for m in scored if looks_urgent(m.text)}
    high = {m.id for m in scored if m.level == "high"}
    pending = [m for m in scored if m.pending]
    return UrgencySplit(
        high_marked=Quantiles.of([m.pipeline for m in pending if m.id in high & marked]),
        high_missed=Quantiles.of([m.pipeline for m in pending if m.id in high - marked]),
        not_high=Quantiles.of([m.pipeline for m in pending if m.id not in high]),
        scored=len(scored),
        marked=len(marked),
        high=len(high),
        marked_high=len(high & marked),
    )


def _busy(before: Any, after: Any) -> float:
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (
        before.idle + getattr(before, "iowait", 0.0)
    )
    return 1.0 - idle / total if total > 0 else 0.0


def run_steady_once(options: SteadyOptions, workers: int, workdir: Path) -> SteadyRun:
    """One worker count: fresh database, warm-up, every rate, then the count checks."""
    load = options.load
    stream, warmup = workdir / f"steady-{workers}.jsonl", workdir / f"warmup-{workers}.jsonl"
    stream.write_text("", encoding="utf-8")
    warm_n = WARMUP_PER_WORKER * workers
    write_stream(warmup, warm_n, prefix="warmup")
    flush_redis(load.broker_url)
    log_path = workdir / f"procs-{workers}.log"
    loadavg = os.getloadavg()[0]
    with (
        throwaway_database(load.database_url, "brandcare_load") as url,
        log_path.open("ab") as log,
    ):
        sessions = prepare(url, warmup, stream, interval_seconds=options.poll_interval)
        warm_q, main_q = _query_ids(sessions, warmup, stream)
        _set_enabled(sessions, main_q, False)
        posts = workdir / f"posts-{workers}.jsonl"
        env = deployment_env(url, load.broker_url, load.score_threads, posts)
        deployment = _Deployment(env, log, load.threads)
        for _ in range(workers):
            deployment.start_worker()
        deployment.scheduler = spawn_cli(["run", "--tick", "0.2"], env, log)
        try:
            _wait_drained(sessions, warm_q, warm_n, load.timeout, "the warm-up stream")
            _set_enabled(sessions, main_q, True)
            settings = Settings(database_url=url, broker_url=load.broker_url)
            run = _Run(options, workers, sessions, main_q, deployment, stream, settings)
            run.run()
            _settle_sends(sessions, main_q, run.releaser.total)
            counts = {**_counts(sessions, main_q), **platform_posts(posts)}
            rates, kill, points = run.analyse()
        except LoadBenchError as exc:
            log.flush()
            tail = _log_facts(log_path)[2]
            raise LoadBenchError(f"{exc}\n--- the processes' log, last lines ---\n{tail}") from exc
        finally:
            deployment.stop()
            sessions.kw["bind"].dispose()
    requeues, errors, tail = _log_facts(log_path)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    handed_back = sum("handed back" in line for line in text.splitlines())
    enqueued_again = sum("enqueued again" in line for line in text.splitlines())
    return SteadyRun(
        workers=workers,
        rates=rates,
        samples=run.samples,
        timeline=[(p.key, p.start_s, p.end_s or p.start_s) for p in run.releaser.phases],
        kill=kill,
        counts=counts,
        checks=count_checks(run.releaser.total, counts, run.approver.approved),
        approvals=run.approver.approved,
        refused=run.approver.refused,
        stale_requeues=requeues,
        handed_back=handed_back,
        enqueued_again=enqueued_again,
        # A killed worker's death is reported by its supervisor (CRITICAL): expected.
        log_errors=errors,
        points=points,
        log_tail=tail,
        loadavg=(round(loadavg, 2), round(os.getloadavg()[0], 2)),
        idle_ms_per_s=run.idle_ms_per_s,
    )


def _check(options: SteadyOptions) -> None:
    load = options.load
    if not load.broker_url.startswith(("redis://", "rediss://")):
        raise LoadBenchError(
            f"--broker-url must be a redis:// URL (each run empties its database), "
            f"got {load.broker_url!r}"
        )
    if not 0.0 <= load.approve_share <= 1.0:
        raise LoadBenchError(f"--approve-share is a fraction in [0, 1], got {load.approve_share}")
    if not options.rates or min(options.rates) <= 0:
        raise LoadBenchError(f"--rate takes mentions per second above 0, got {options.rates}")
    if options.duration <= 0:
        raise LoadBenchError(f"--duration is seconds above 0, got {options.duration}")
    if options.poll_interval < 5:
        raise LoadBenchError(
            f"--poll-interval is at least 5 s (the least a brands file allows), "
            f"got {options.poll_interval}"
        )


def run_steady_benchmark(options: SteadyOptions, out: Path) -> tuple[str, bool]:
    """Every worker count at the given rates; the report, and whether every check passed.

    Writes ``out`` (JSON) and a PNG chart beside it for each worker count.
    """
    _check(options)
    import psycopg
    import redis

    runs = []
    with tempfile.TemporaryDirectory(prefix="brandcare-steady-") as tmp:
        try:
            for workers in options.load.workers:
                runs.append(run_steady_once(options, workers, Path(tmp)))
        except (psycopg.OperationalError, redis.exceptions.ConnectionError) as exc:
            raise LoadBenchError(
                f"a server did not answer ({exc}); start PostgreSQL and Redis or point "
                "--database-url and --broker-url at running ones"
            ) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(as_json(options, runs), indent=2) + "\n", encoding="utf-8")
    files = [out]
    for run in runs:
        chart = (
            out.with_suffix(".png")
            if len(runs) == 1
            else out.with_name(f"{out.stem}-{run.workers}w.png")
        )
        write_chart(run, options, chart)
        files.append(chart)
    return report(options, runs, files), all(r.passed for r in runs)
