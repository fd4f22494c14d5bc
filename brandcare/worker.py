"""Entry point for Dramatiq worker processes: ``dramatiq brandcare.worker``.

The Dramatiq CLI imports a module to find actors, so this module is an entry point:
it reads the settings, sets the broker, configures the pipeline, then declares the
actors. ``brandcare worker`` runs it for you.
"""

from __future__ import annotations

from brandcare import logs, metrics_http, runtime
from brandcare.config import Settings
from brandcare.queue import setup_broker

settings = Settings()
logs.setup(settings)
broker = setup_broker(settings.broker_url)
if metrics_http.multiprocess():
    # `brandcare worker --metrics-port`: Dramatiq's message metrics, summed with ours.
    broker.add_middleware(metrics_http.dramatiq_middleware())
runtime.configure(settings)

from brandcare import tasks  # noqa: E402  (actors bind to the broker set above)

__all__ = ["broker", "tasks"]
