"""Entry point for Dramatiq worker processes: ``dramatiq brandcare.worker``.

The Dramatiq CLI imports a module to find actors, so this module is an entry point:
it reads the settings, sets the broker, configures the pipeline, then declares the
actors. ``brandcare worker`` runs it for you.
"""

from __future__ import annotations

import logging
import os
import sys

from brandcare.config import Settings
from brandcare.ops import layout, logs, metrics_http
from brandcare.pipeline import runtime
from brandcare.pipeline.queue import setup_broker

settings = Settings()
logs.setup(settings)
broker = setup_broker(settings.broker_url)
if metrics_http.multiprocess():
    # `brandcare worker --metrics-port`: Dramatiq's message metrics, summed with ours.
    broker.add_middleware(metrics_http.dramatiq_middleware())
# Started as `dramatiq brandcare.worker ...` rather than through `brandcare worker`
# (which fits the layout and sets the environment): fit it to Dramatiq's command line.
command = layout.dramatiq_command(sys.argv)
if command is not None and command.queues and layout.QUEUES_ENV not in os.environ:
    os.environ[layout.QUEUES_ENV] = command.queues
pipeline = (
    runtime.configure(settings, processes=command.processes, worker_threads=command.threads)
    if command is not None
    else runtime.configure(settings)
)
if layout.loads_model(os.environ.get(layout.QUEUES_ENV)):
    # The model loads before this process takes a message, not in its first batch's
    # time (and latency); a process for other queues only never loads it. A model that
    # fails to load is reported here and again by every score message, which retries:
    # the process still polls and sends, so no mention waits on the model to be stored.
    try:
        pipeline.scorer()
    except Exception:
        logging.getLogger(__name__).exception("the scorer did not load; scoring will retry")

from brandcare.pipeline import tasks  # noqa: E402  (actors bind to the broker set above)

__all__ = ["broker", "tasks"]
