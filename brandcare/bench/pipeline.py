"""``brandcare bench pipeline``: listen -> store -> score -> draft at volume.

Replays N generated mentions (texts drawn from the demo sample, ids made unique)
through the real pipeline and prints throughput and the fetch-to-draft latency
percentiles, on SQLite with the in-process broker and on PostgreSQL + Redis with
worker processes, beside the bare scorer's throughput on the same texts.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.brands.sources import sample_dir
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import DraftRow, MentionRow

#: Seconds between scheduler ticks (``brandcare run``'s default).
TICK_SECONDS = 1.0

#: Where a mention leaves the pipeline ("error": set aside for agents, stage failed).
DONE = ("drafted", "skipped", "ignored", "error")


@dataclass(frozen=True, slots=True)
class Run:
    """One measured configuration."""

    name: str
    mentions: int
    seconds: float
    p50: float
    p95: float

    @property
    def rate(self) -> float:
        """Mentions per second, first fetch to last decision."""
        return self.mentions / self.seconds


def write_stream(path: Path, n: int, prefix: str = "bench") -> None:
    """N mentions for one brand, texts cycled from the demo sample, unique ids
    (``prefix``-0, ...: streams with different prefixes never collide)."""
    sample = [
        json.loads(line)
        for line in (sample_dir() / "demo_mentions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = dict(sample[i % len(sample)])
            row.update(
                id=f"{prefix}-{i}",
                brand="bench",
                created_at=(start + dt.timedelta(seconds=i)).isoformat(),
            )
            row.pop("conversation_id", None)
            row.pop("in_reply_to", None)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def prepare(url: str, *streams: Path, interval_seconds: int = 5) -> sessionmaker[Session]:
    """Migrate ``url`` and add the bench brand with one replay query per stream, each
    polled every ``interval_seconds`` (5: the least a brands file allows)."""
    migrate.upgrade(url)
    sessions = session_factory(make_engine(url))
    spec = BrandSpec(
        slug="bench",
        name="Bench Air",
        queries=[
            QuerySpec(
                platform="replay",
                kind="replay",
                terms=str(stream),
                interval_seconds=interval_seconds,
            )
            for stream in streams
        ],
    )
    with transaction(sessions) as s:
        apply_brands(s, [spec])
    return sessions


def _done(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as s:
        return int(
            s.scalar(select(func.count()).select_from(MentionRow).where(MentionRow.state.in_(DONE)))
            or 0
        )


def _latencies(sessions: sessionmaker[Session]) -> tuple[float, float, float, float]:
    """(first fetch, last decision, p50, p95) in seconds; decisions without a draft count
    at their score time."""
    with transaction(sessions) as s:
        fetched = dict(s.execute(select(MentionRow.id, MentionRow.fetched_at)).all())
        drafted = dict(s.execute(select(DraftRow.mention_id, DraftRow.created_at)).all())
    lat = sorted((drafted[m] - f).total_seconds() for m, f in fetched.items() if m in drafted)
    first = min(fetched.values()).timestamp()
    last = max(drafted.values()).timestamp() if drafted else first
    p50 = statistics.median(lat) if lat else 0.0
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
    return first, last, p50, p95


def run_embedded(n: int, workdir: Path) -> Run:
    """SQLite + the in-process broker, worker threads in this process."""
    from dramatiq import Worker

    from brandcare.config import Settings
    from brandcare.pipeline import runtime
    from brandcare.pipeline.queue import setup_broker
    from brandcare.pipeline.schedule import Enqueue, Scheduler

    stream = workdir / "embedded.jsonl"
    write_stream(stream, n)
    url = f"sqlite:///{workdir / 'bench.db'}"
    sessions = prepare(url, stream)
    settings = Settings(database_url=url, broker_url=None)
    broker = setup_broker(None)
    pipeline = runtime.configure(settings, worker_threads=2)
    pipeline.scorer()  # load the model before the clock starts
    from brandcare.pipeline import tasks

    scheduler = Scheduler(
        sessions,
        Enqueue(
            tasks.poll_query.send,
            tasks.score_mentions.send,
            tasks.draft_mentions.send,
            tasks.send_draft.send,
        ),
    )
    worker = Worker(broker, worker_threads=2)
    worker.start()
    try:
        # The scheduler at ``brandcare run``'s default tick; counting finished mentions
        # takes the CPU the stages need, so it is done only once a tick as well. The
        # times come from the database, so neither adds to what is measured.
        while _done(sessions) < n:
            scheduler.tick()
            time.sleep(TICK_SECONDS)
    finally:
        worker.stop()
    first, last, p50, p95 = _latencies(sessions)
    return Run("SQLite + in-process broker (2 threads)", n, last - first, p50, p95)


def run_servers(n: int, workdir: Path, postgres: str, redis: str, processes: int) -> Run:
    """PostgreSQL + Redis with ``processes`` Dramatiq worker processes and the scheduler."""
    from brandcare.bench.servers import (
        deployment_env,
        flush_redis,
        spawn_cli,
        stop_group,
        throwaway_database,
    )

    flush_redis(redis)
    stream = workdir / "servers.jsonl"
    write_stream(stream, n)
    with throwaway_database(postgres) as url, (workdir / "procs.log").open("ab") as log:
        sessions = prepare(url, stream)
        env = deployment_env(url, redis)
        procs = [spawn_cli(["worker", "--processes", str(processes), "--threads", "2"], env, log)]
        try:
            time.sleep(8)  # let every worker process load the model before the stream starts
            procs.append(spawn_cli(["run", "--tick", str(TICK_SECONDS)], env, log))
            deadline = time.monotonic() + 1800
            while _done(sessions) < n and time.monotonic() < deadline:
                time.sleep(TICK_SECONDS)
            first, last, p50, p95 = _latencies(sessions)
        finally:
            for proc in procs:
                stop_group(proc)
    return Run(f"PostgreSQL + Redis ({processes} worker processes)", n, last - first, p50, p95)


def bare_scorer_rate(n: int, workdir: Path, lanes: int = 1) -> float:
    """Mentions per second of the production scorer alone on the same texts: one lane
    with every core's thread (the scorer benchmark's configuration), or ``lanes`` lanes
    of one thread fed at once (the pipeline's own layout, ``runtime.scoring_layout``)."""
    from concurrent.futures import ThreadPoolExecutor

    from brandcare.ops.layout import usable_cores
    from sentiment.torch_thread import TorchThreadScorer
    from sentiment.transformer import TransformerScorer

    stream = workdir / "bare.jsonl"
    write_stream(stream, n)
    texts = [json.loads(line)["text"] for line in stream.read_text().splitlines()]
    threads = usable_cores() if lanes == 1 else 1
    scorer = TorchThreadScorer(lambda: TransformerScorer(threads=threads), lanes=lanes)
    batches = [texts[i : i + 64] for i in range(0, len(texts), 64)]  # the message size
    with ThreadPoolExecutor(lanes) as feeders:
        list(feeders.map(scorer.score, batches[:lanes]))  # every lane warm
        started = time.perf_counter()
        list(feeders.map(scorer.score, batches))
    return len(texts) / (time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Bare:
    """The bare scorer's rate in one layout, before and after the pipeline runs."""

    label: str
    before: float
    after: float

    @property
    def rate(self) -> float:
        """The mean of both readings."""
        return (self.before + self.after) / 2


def run_pipeline_benchmark(
    n: int, *, postgres: str | None, redis: str | None, processes: int = 2
) -> str:
    """Every configuration, as the printed report."""
    from brandcare.config import Settings
    from brandcare.ops.layout import scoring_layout, usable_cores

    lanes = scoring_layout(Settings(), worker_threads=2).lanes
    layouts = [(1, f"bare scorer, 1 lane x {usable_cores()} threads")]
    if lanes > 1:
        layouts.append((lanes, f"bare scorer, {lanes} lanes x 1 thread"))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Before and after the pipeline runs: this machine's speed drifts by a fifth
        # within minutes, so one reading taken at a quiet moment flatters or shames.
        before = [bare_scorer_rate(min(n, 3000), workdir, k) for k, _ in layouts]
        runs = [run_embedded(n, workdir)]
        if postgres and redis:
            runs.append(run_servers(n, workdir, postgres, redis, processes))
        after = [bare_scorer_rate(min(n, 3000), workdir, k) for k, _ in layouts]
    bares = [Bare(label, b, a) for (_, label), b, a in zip(layouts, before, after, strict=True)]
    ref = bares[0].rate
    best = max(b.rate for b in bares)
    lines = [f"{n} mentions, listen -> store -> score -> draft", ""]
    lines.append(
        f"{'configuration':<44} {'mentions/s':>10} {'p50 s':>8} {'p95 s':>8} "
        f"{'/bare':>6} {'/best':>6}"
    )
    for b in bares:
        lines.append(
            f"{b.label:<44} {b.rate:>10,.0f} {'':>8} {'':>8} {b.rate / ref:>6.2f} "
            f"{b.rate / best:>6.2f}"
        )
    for r in runs:
        lines.append(
            f"{r.name:<44} {r.rate:>10,.0f} {r.p50:>8.2f} {r.p95:>8.2f} {r.rate / ref:>6.2f} "
            f"{r.rate / best:>6.2f}"
        )
    lines.append("")
    for b in bares:
        lines.append(f"{b.label}: {b.before:,.0f} mentions/s before the runs, {b.after:,.0f} after")
    lines.append("")
    lines.append(
        "target: the pipeline sustains at least 0.80 of the bare scorer's throughput (/bare:"
    )
    lines.append(
        "the scorer benchmark's layout; /best: the fastest layout of the scorer alone, the"
    )
    lines.append("stricter comparison when the pipeline runs its forward passes in lanes)")
    return "\n".join(lines)
