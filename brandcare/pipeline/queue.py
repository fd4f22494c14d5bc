"""The Dramatiq broker, chosen by settings; set before any actor module is imported.

No URL: an in-process ``StubBroker`` driven by a ``Worker`` thread in the same process,
so the whole pipeline runs on a laptop with no server. ``redis://`` or ``amqp://``: the
production brokers, where scale-out is simply more ``dramatiq`` worker processes.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from brandcare.ops.logs import redact_url

log = logging.getLogger(__name__)


class BrokerConfigError(ValueError):
    """The broker URL names a scheme we do not support."""


def make_broker(url: str | None) -> dramatiq.Broker:
    """A broker for ``url`` (None or ``stub://`` for the in-process one)."""
    broker: dramatiq.Broker
    if not url or url.startswith("stub:"):
        broker = StubBroker()
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)  # type: ignore[no-untyped-call]
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        raise BrokerConfigError(
            f"unsupported broker URL {redact_url(url)!r}: use redis://..., amqp://... "
            "or leave BRANDCARE_BROKER_URL unset for the in-process broker"
        )
    broker.add_middleware(CurrentMessage())
    log.info("broker: %s", type(broker).__name__ if not url else redact_url(url))
    return broker


_active: dict[str, dramatiq.Broker] = {}


def setup_broker(url: str | None) -> dramatiq.Broker:
    """Create the broker and make it the global one the actors bind to.

    Actors bind to the global broker when ``brandcare.pipeline.tasks`` is imported; if it was
    imported already (a process that enqueues before it knew the URL), they are moved
    to the new broker, so a message never goes to a default broker nobody consumes.
    """
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    tasks = sys.modules.get("brandcare.pipeline.tasks")
    for actor in getattr(tasks, "ACTORS", ()):
        actor.broker = broker
        broker.declare_actor(actor)
    _active.clear()
    _active[url or ""] = broker
    return broker


def use_broker(url: str | None) -> dramatiq.Broker:
    """The process's broker for ``url``: set up on first use, then reused."""
    found = _active.get(url or "")
    if found is not None and dramatiq.get_broker() is found:
        return found
    return setup_broker(url)


class DeadWorkerReclaimer:
    """Hands a dead worker process's unacknowledged messages back to their queues, now.

    On Redis, a worker holds the messages it took (the batch in hand and those it
    prefetched) in a set of its own until it acknowledges them; a process killed with
    them (SIGKILL, out of memory, a lost host) never does. Dramatiq's own check hands
    them back only once the process has been silent for a minute, and only when a
    broker call happens to draw it (one in a thousand): measured, minutes at random.
    The scheduler calls ``reclaim`` every few seconds instead, with its own silence
    limit: a live worker process is never silent that long, because every broker call
    it makes (each idle queue's consumer asks at least once a second) refreshes its
    heartbeat. A worker taken for dead while alive costs a duplicate delivery, which
    the stages absorb (each is idempotent; a send looks before it posts again).

    Dramatiq's own maintenance does the moving, run on every call of this broker: the
    messages go back to the end of their queue. RabbitMQ needs none of this (it
    redelivers a closed connection's messages at once).

    ``mentions_held`` answers the other half: which mentions some message still carries
    (queued, delayed, in a worker's hands, or dead-lettered), so the scheduler can tell a
    mention whose message was never sent (a worker killed between a stage's commit and
    its enqueue) from one that merely waits in a long queue.
    """

    def __init__(self, url: str, queues: Iterable[str], dead_after_seconds: float) -> None:
        from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
        from dramatiq.common import dq_name

        self.dead_after_ms = int(dead_after_seconds * 1000)
        self._broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url, maintenance_chance=MAINTENANCE_SCALE, heartbeat_timeout=self.dead_after_ms
        )
        self._queues = sorted({q for name in queues for q in (name, dq_name(name))})

    def reclaim(self) -> int:
        """Move dead workers' unacknowledged messages back; how many there were."""
        from dramatiq.common import current_millis

        client, ns = self._broker.client, self._broker.namespace
        cutoff = current_millis() - self.dead_after_ms
        found = client.zrangebyscore(f"{ns}:__heartbeats__", 0, cutoff)
        dead = [w.decode() if isinstance(w, bytes) else str(w) for w in found]
        if not dead:
            return 0
        held = sum(
            int(client.scard(f"{ns}:__acks__.{worker}.{queue}"))
            for worker in dead
            for queue in self._queues
        )
        for queue in self._queues:
            self._broker.do_qsize(queue)  # a call, so the maintenance runs for this queue
        if held:
            log.warning(
                "handed back %d unacknowledged messages of %d dead worker process(es) "
                "(silent for over %.0f s)",
                held,
                len(dead),
                self.dead_after_ms / 1000,
                extra={"messages": held, "dead_workers": len(dead)},
            )
        return held

    def mentions_held(self, *, dead_letters: bool = True) -> set[int]:
        """Every mention id a message on the broker carries: queued, delayed, held by a
        worker or (``dead_letters``) dead-lettered. Dramatiq keeps each body in
        ``<queue>.msgs`` until it is acknowledged, and dead letters in
        ``<queue>.XQ.msgs``; messages whose first argument is a list of ids carry
        mentions (scoring and drafting)."""
        client, ns = self._broker.client, self._broker.namespace
        held: set[int] = set()
        dead = [f"{q}.XQ" for q in self._queues if not q.endswith(".DQ")] if dead_letters else []
        names = {*self._queues, *dead}
        for name in sorted(names):
            for _, body in client.hscan_iter(f"{ns}:{name}.msgs", count=1000):
                try:
                    args = json.loads(body).get("args") or ()
                except (ValueError, AttributeError):
                    continue
                if args and isinstance(args[0], list):
                    held.update(int(i) for i in args[0] if isinstance(i, int))
        return held
