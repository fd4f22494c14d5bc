"""The Dramatiq broker, chosen by settings; set before any actor module is imported.

No URL: an in-process ``StubBroker`` driven by a ``Worker`` thread in the same process,
so the whole pipeline runs on a laptop with no server. ``redis://`` or ``amqp://``: the
production brokers, where scale-out is simply more ``dramatiq`` worker processes.
"""

from __future__ import annotations

import logging
import sys

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
