"""PostgreSQL unreachable for 30 seconds while mentions are being polled and scored.

The processes reach the database through a TCP proxy the test cuts (the shared server
stays up for everyone else): open connections drop mid-transaction and new ones are
refused. Stages fail and Dramatiq retries them, the scheduler keeps ticking, and once
the database is back the pool reconnects and the sweep re-enqueues what the retries
have not reached yet.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy.engine import make_url

from brandcare.config import Settings
from brandcare.insights.periodic import Periodic
from brandcare.pipeline.schedule import Enqueue, Scheduler
from brandcare.store import make_engine, session_factory
from brandcare.store.replies import StaleWork
from tests.integration.deployment import (
    TcpProxy,
    assert_each_once,
    counts,
    free_port,
    with_port,
    write_replay,
)

OUTAGE_S = 30.0
#: How long the pipeline may take to finish once the database is back.
RECOVERY_S = 90.0


def test_thirty_seconds_without_the_database_while_polling_and_scoring(replay_deployment, replay):
    deployment = replay_deployment
    server = make_url(deployment.database)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    deployment.database = with_port(deployment.database, proxy.port)
    try:
        first, later = 600, 100
        write_replay(replay, first)
        deployment.worker()
        deployment.scheduler()
        before = deployment.wait(lambda c: c.scores >= 64, timeout=120)
        proxy.cut()
        assert before.done < first, f"scoring was not in flight when the database went: {before}"
        # More mentions arrive on the platform while the database is away.
        write_replay(replay, later, first=first)
        time.sleep(1.0)  # let transactions cut mid-way abort
        frozen = counts(deployment.sessions)
        time.sleep(OUTAGE_S - 1.0)
        assert counts(deployment.sessions) == frozen, "the processes reached the database"
        proxy.restore()
        back = time.monotonic()
        got = deployment.wait(lambda c: c.done >= first + later, timeout=RECOVERY_S)
        recovery = time.monotonic() - back
    finally:
        proxy.close()
    assert deployment.alive(), deployment.tail()
    assert_each_once(got, first + later, f"recovery took {recovery:.0f}s\n{deployment.tail()}")


def test_the_scheduler_loop_outlives_a_database_it_cannot_reach():
    # The scheduler is the process that recovers lost work once the database is back,
    # so none of its periodic calls may end it: each logs and returns.
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    sessions = session_factory(make_engine(unreachable))
    enqueued: list[object] = []
    scheduler = Scheduler(sessions, Enqueue(*[enqueued.append] * 4))
    assert scheduler.tick() == []
    assert scheduler.sweep() == StaleWork([], [], [])
    now = dt.datetime.now(dt.UTC)
    settings = Settings(digest_hour_utc=now.hour, digest_recipients={"twitter": ["a@b.example"]})
    Periodic(settings, sessions).tick(now, monotonic=1.0)  # alert check and digests due
    assert enqueued == []
