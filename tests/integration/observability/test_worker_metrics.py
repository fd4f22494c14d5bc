"""`brandcare worker --metrics-port`: one endpoint sums every worker process's metrics.

Real Dramatiq worker processes on Redis (its own database number) and SQLite. Polls
of a replay query go to two processes (which takes how many is up to the broker); the
endpoint must report the sum of what each process counted, Dramatiq's message
counters included, behind the token.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from sqlalchemy import select

from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import QueryRow
from tests.conftest import REPO
from tests.integration.observability.conftest import Samples, parse, value
from tests.servers import require_port

REDIS = "redis://127.0.0.1:6379/10"
TOKEN = "worker-metrics-token"
POLLS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _scrape(port: int, token: str | None = TOKEN) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:  # not listening yet
        return 0, ""


def _one_file(path: Path) -> Samples:
    """The metrics one process wrote to its file in the multiprocess folder."""
    from prometheus_client.multiprocess import MultiProcessCollector

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in MultiProcessCollector.merge([str(path)])
        for s in family.samples
    }


def _write_replay(path: Path, n: int) -> None:
    start = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    lines = [
        json.dumps({"id": f"w{i}", "platform": "twitter", "brand": "skyway",
                    "text": f"@SkywayAir flight {i} is late", "author": f"user{i}",
                    "created_at": (start + dt.timedelta(seconds=i)).isoformat()})
        for i in range(n)
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def test_worker_processes_expose_their_summed_metrics_on_one_port(tmp_path: Path) -> None:
    require_port(REDIS, "Redis")
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    replay = tmp_path / "stream.jsonl"
    _write_replay(replay, 30)
    query = QuerySpec(platform="replay", kind="replay", terms=str(replay))
    spec = BrandSpec(slug="skyway", name="Skyway Air", queries=[query])
    with transaction(session_factory(engine)) as s:
        apply_brands(s, [spec])
        query_id = s.scalars(select(QueryRow.id)).one()
    engine.dispose()

    port = _free_port()
    folder = tmp_path / "prometheus"  # `brandcare worker` empties it, and keeps it here
    env = dict(os.environ)
    env.update(BRANDCARE_DATABASE_URL=url, BRANDCARE_BROKER_URL=REDIS,
               BRANDCARE_METRICS_TOKEN=TOKEN, BRANDCARE_LOG_LEVEL="WARNING",
               PROMETHEUS_MULTIPROC_DIR=str(folder))  # fmt: skip
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "brandcare.cli", "worker", "--processes", "2", "--threads", "1",
         "--queues", "poll", "--metrics-port", str(port)],
        env=env, cwd=REPO, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _scrape(port)[0] != 200:
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        assert _scrape(port, None)[0] == 401
        # Dramatiq's main process: two worker processes and the metrics server.
        children = [p.pid for p in psutil.Process(worker.pid).children()]
        assert len(children) == 3, children
        assert _scrape(port, "wrong")[0] == 401
        # Enqueue from another process, as the scheduler would.
        enqueue = (
            "import os; os.environ.pop('PROMETHEUS_MULTIPROC_DIR'); "
            f"from brandcare.pipeline.queue import setup_broker; setup_broker({REDIS!r}); "
            "from brandcare.pipeline import tasks; "
            f"[tasks.poll_query.send({query_id}) for _ in range({POLLS})]"
        )
        subprocess.run([sys.executable, "-c", enqueue], env=env, cwd=REPO, check=True, timeout=60)
        samples: Samples = {}
        while time.monotonic() < deadline + 60:
            samples = parse(_scrape(port)[1])
            done = value(samples, "dramatiq_messages_total", queue_name="poll",
                         actor_name="poll_query")  # fmt: skip
            if done >= POLLS:
                break
            time.sleep(0.3)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        redis.Redis.from_url(REDIS).flushdb()
    labels = {"queue_name": "poll", "actor_name": "poll_query"}
    assert value(samples, "dramatiq_messages_total", **labels) == POLLS, log.read_text()[-3000:]
    # Every worker process writes to the shared folder (the metrics it declares on
    # import); the endpoint's total is the sum of what each process counted.
    writers = {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob("histogram_*.db")}
    assert set(children) <= writers, (children, writers)
    per_process = {
        f.name: value(_one_file(f), "dramatiq_messages_total", **labels)
        for f in folder.glob("counter_*.db")
    }
    assert sum(per_process.values()) == POLLS, per_process
    assert value(samples, "dramatiq_message_errors_total", **labels) == 0
    # Every poll saw the page (the first stored it): fetched sums over both processes.
    fetched = value(samples, "brandcare_mentions_fetched_total", platform="replay", brand="skyway")
    new = value(samples, "brandcare_mentions_new_total", platform="replay", brand="skyway")
    assert new == 30
    assert fetched >= 30
    # The backlog is the scheduler's and the web's to report, not each worker's.
    assert value(samples, "brandcare_queue_depth", stage="score") == 0
    assert not any(name == "brandcare_queue_depth" for name, _ in samples)
