"""PostgreSQL unreachable for 30 seconds while mentions are being polled and scored.

The processes reach the database through a TCP proxy the test cuts (the shared server
stays up for everyone else): open connections drop mid-transaction and new ones are
refused. Stages fail and Dramatiq retries them, the scheduler keeps ticking, and once
the database is back the pool reconnects and the sweep re-enqueues what the retries
have not reached yet.
"""

from __future__ import annotations

import time

from sqlalchemy.engine import make_url

from tests.integration.deployment import (
    TcpProxy,
    assert_each_once,
    counts,
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
