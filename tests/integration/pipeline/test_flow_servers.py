"""The whole flow on PostgreSQL + Redis (and RabbitMQ) with real Dramatiq worker processes.

The production shape: `brandcare run` (the scheduler) and `brandcare worker` processes
sharing one database and one broker. The kill test proves no mention is lost or
duplicated when a worker dies mid-batch (SIGKILL) and another takes over.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from brandcare.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import MentionRow, ScoreRow
from tests.conftest import REPO
from tests.servers import RABBITMQ_URL, REDIS_URL, postgres_database, require_port

TEXTS = [
    "@SkywayAir my flight {n} was cancelled and I am stuck at the gate",
    "@SkywayAir thanks for the upgrade on flight {n}, lovely crew!",
    "@SkywayAir what is the baggage allowance on route {n}?",
    "@SkywayAir you charged me twice for seat {n}, refund please",
    "@SkywayAir you are all clowns {n}",
    "just landed, nice view {n}",
]


def write_replay(path: Path, n: int) -> None:
    start = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"m{i}",
                        "platform": "twitter",
                        "brand": "skyway",
                        "text": TEXTS[i % len(TEXTS)].format(n=i),
                        "author": f"user{i}",
                        "followers": (i * 37) % 5000,
                        "created_at": (start + dt.timedelta(seconds=i)).isoformat(),
                    }
                )
                + "\n"
            )


def _env(database: str, broker: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BRANDCARE_DATABASE_URL=database,
        BRANDCARE_BROKER_URL=broker,
        BRANDCARE_STALE_AFTER_SECONDS="8",
        BRANDCARE_SWEEP_EVERY_SECONDS="2",
        BRANDCARE_SCORE_THREADS="1",
        BRANDCARE_LOG_LEVEL="WARNING",
    )
    return env


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _counts(sessions) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        mentions = s.scalar(select(func.count()).select_from(MentionRow)) or 0
        scores = s.scalar(select(func.count()).select_from(ScoreRow)) or 0
        done = (
            s.scalar(
                select(func.count())
                .select_from(MentionRow)
                .where(MentionRow.state.in_(["drafted", "skipped", "ignored"]))
            )
            or 0
        )
    return int(mentions), int(scores), int(done)


def _wait(sessions, predicate, timeout: float) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    counts = _counts(sessions)
    while time.monotonic() < deadline and not predicate(counts):
        time.sleep(0.2)
        counts = _counts(sessions)
    return counts


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[str, object, Path]]:
    require_port("postgresql://127.0.0.1:5432", "PostgreSQL")
    with postgres_database("brandcare_flow") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        replay = tmp_path / "stream.jsonl"
        spec = BrandSpec(
            slug="skyway",
            name="Skyway Air",
            queries=[
                QuerySpec(platform="replay", kind="replay", terms=str(replay), interval_seconds=5)
            ],
        )
        with transaction(sessions) as s:
            apply_brands(s, [spec])
        yield url, sessions, replay
        engine.dispose()


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_every_mention_flows_once_through_real_worker_processes(deployment, tmp_path, broker):
    url, sessions, replay = deployment
    if broker == "redis":
        require_port(REDIS_URL, "Redis")
        _flush_redis()
        broker_url = REDIS_URL
    else:
        require_port(RABBITMQ_URL, "RabbitMQ")
        broker_url = RABBITMQ_URL
    n = 300
    write_replay(replay, n)
    env = _env(url, broker_url)
    log = tmp_path / "procs.log"
    procs = [
        _spawn(["brandcare.cli", "worker", "--processes", "1", "--threads", "2"], env, log),
        _spawn(["brandcare.cli", "run", "--tick", "0.5"], env, log),
    ]
    try:
        mentions, scores, done = _wait(sessions, lambda c: c[2] >= n, timeout=240)
    finally:
        for proc in procs:
            _stop(proc)
    assert (mentions, scores, done) == (n, n, n), log.read_text()[-3000:]


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(deployment, tmp_path):
    require_port(REDIS_URL, "Redis")
    _flush_redis()
    url, sessions, replay = deployment
    n = 1500
    write_replay(replay, n)
    env = _env(url, REDIS_URL)
    log = tmp_path / "procs.log"
    first = _spawn(["brandcare.cli", "worker", "--processes", "1", "--threads", "2"], env, log)
    scheduler = _spawn(["brandcare.cli", "run", "--tick", "0.5"], env, log)
    second = None
    try:
        # Kill the worker once it has scored some but not all: mid-stream, mid-batch.
        before = _wait(sessions, lambda c: c[1] >= 64, timeout=180)
        _stop(first, signal.SIGKILL)
        assert before[1] < n, "the worker finished before it could be killed: raise n"
        second = _spawn(["brandcare.cli", "worker", "--processes", "1", "--threads", "2"], env, log)
        mentions, scores, done = _wait(sessions, lambda c: c[2] >= n, timeout=300)
    finally:
        for proc in (first, scheduler, second):
            if proc is not None:
                _stop(proc)
    assert mentions == n  # nothing lost at the poll stage, nothing stored twice
    assert scores == n  # every mention scored exactly once (one model version)
    assert done == n, log.read_text()[-3000:]
