"""The whole flow on PostgreSQL + Redis (and RabbitMQ) with real Dramatiq worker processes.

The production shape: `brandcare run` (the scheduler) and `brandcare worker` processes
sharing one database and one broker (``tests/integration/deployment.py``). What happens
when a worker, the broker, the database or a platform fails lives in
``tests/integration/faults/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brandcare.brands.setup import BrandSpec, QuerySpec
from tests.integration.deployment import Deployment, postgres_brands, write_replay
from tests.servers import RABBITMQ_URL, REDIS_URL, require_port


@pytest.fixture
def replay(tmp_path: Path) -> Path:
    return tmp_path / "stream.jsonl"


@pytest.fixture
def database(replay: Path) -> Iterator[tuple[str, object]]:
    spec = BrandSpec(
        slug="skyway",
        name="Skyway Air",
        queries=[
            QuerySpec(platform="replay", kind="replay", terms=str(replay), interval_seconds=5)
        ],
    )
    with postgres_brands("brandcare_flow", [spec]) as found:
        yield found


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_every_mention_flows_once_through_real_worker_processes(database, replay, tmp_path, broker):
    url, sessions = database
    if broker == "redis":
        require_port(REDIS_URL, "Redis")
        _flush_redis()
        broker_url = REDIS_URL
    else:
        require_port(RABBITMQ_URL, "RabbitMQ")
        broker_url = RABBITMQ_URL
    n = 300
    write_replay(replay, n)
    deployment = Deployment(url, sessions, broker_url, tmp_path / "procs.log")
    deployment.worker()
    deployment.scheduler()
    try:
        got = deployment.wait(lambda c: c.done >= n, timeout=240)
    finally:
        deployment.close()
    assert (got.mentions, got.scores, got.done) == (n, n, n), deployment.tail()
