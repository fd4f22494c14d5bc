"""Entry point for Dramatiq worker processes: ``dramatiq brandcare.worker``.

The Dramatiq CLI imports a module to find actors, so this module is an entry point:
it reads the settings, sets the broker, configures the pipeline, then declares the
actors. ``brandcare worker`` runs it for you.
"""

from __future__ import annotations

from brandcare import logs, runtime
from brandcare.config import Settings
from brandcare.queue import setup_broker

settings = Settings()
logs.configure(settings.log_level, settings.log_format)
broker = setup_broker(settings.broker_url)
runtime.configure(settings)

from brandcare import tasks  # noqa: E402  (actors bind to the broker set above)

__all__ = ["broker", "tasks"]
