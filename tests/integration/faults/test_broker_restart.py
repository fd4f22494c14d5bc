"""The broker (Redis, no persistence) crashes and comes back while messages are in flight.

Every queued message is gone after the restart; the scheduler's sweep finds the work
stuck in the database and enqueues it again, and the stages' idempotency keeps what
was half done from being done twice.
"""

from __future__ import annotations

import time

from tests.integration.deployment import assert_each_once, write_replay

#: Seconds the broker stays down.
DOWN_S = 6.0  # longer than a poll interval: the scheduler meets it too


def test_a_broker_restart_mid_stream_loses_and_duplicates_nothing(
    replay_deployment, broker, replay
):
    deployment = replay_deployment
    n = 600
    write_replay(replay, n)
    deployment.worker()
    deployment.scheduler()
    before = deployment.wait(lambda c: c.scores >= 64, timeout=120)
    assert 0 < before.scores < n, f"no scoring in flight to interrupt: {before}"
    broker.stop()  # SIGKILL: queued, delayed and unacknowledged messages are lost
    time.sleep(DOWN_S)
    broker.start()
    got = deployment.wait(lambda c: c.done >= n, timeout=90)
    assert deployment.alive(), deployment.tail()
    assert_each_once(got, n, deployment.tail())
