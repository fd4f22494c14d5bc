"""Whether and how a process scores: lanes (forward passes at once), torch threads per lane.

Its own module, light on imports: ``brandcare worker`` fits the layout before Dramatiq
forks, and must not declare the metrics (``brandcare.metrics``) before their shared
folder is set up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from brandcare.config import Settings

#: The queues ``brandcare worker --queues`` gave its processes (unset: all of them).
QUEUES_ENV = "BRANDCARE_WORKER_QUEUES"
#: The queues whose messages run the model (drafting embeds for the reply memory).
MODEL_QUEUES = frozenset({"score", "draft"})

#: Lanes chosen without a setting: each holds a copy of the model (~90 MB).
MAX_AUTO_LANES = 4


@dataclass(frozen=True, slots=True)
class ScoringLayout:
    """How a process scores: ``lanes`` forward passes at once, ``threads`` torch
    threads each (``sentiment.torch_thread`` says why lanes of one thread win)."""

    lanes: int
    threads: int

    @property
    def exclusive(self) -> bool:
        """Whether the stages must take turns with scoring (see ``Pipeline._compute``)."""
        return self.threads > 1


def usable_cores() -> int:
    """The CPUs this process may run on (a container's or taskset's limit included)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def scoring_layout(
    settings: Settings, *, processes: int = 1, worker_threads: int = 2
) -> ScoringLayout:
    """Lanes and threads for one of ``processes`` processes on this machine, each with
    ``worker_threads`` threads taking messages; the settings win where they are set.

    A process's share of the cores is split into lanes of one thread, as many as there
    are worker threads to feed them; with one lane, the share's threads go to it.
    """
    share = max(1, usable_cores() // max(1, processes))
    lanes = settings.score_lanes or max(1, min(share, worker_threads, MAX_AUTO_LANES))
    threads = settings.score_threads or max(1, share // lanes)
    return ScoringLayout(lanes, threads)


def loads_model(queues: str | None) -> bool:
    """Whether a worker process taking ``queues`` (comma-separated; None or empty: all)
    runs the model, and so should load it before it takes a message."""
    return not queues or bool(MODEL_QUEUES & {q.strip() for q in queues.split(",")})
