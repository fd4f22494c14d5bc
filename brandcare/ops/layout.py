"""Whether and how a process scores: lanes (forward passes at once), torch threads per lane.

Its own module, light on imports: ``brandcare worker`` fits the layout before Dramatiq
forks, and must not declare the metrics (``brandcare.ops.metrics``) before their shared
folder is set up.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from brandcare.config import Settings

#: The queues ``brandcare worker --queues`` gave its processes (unset: all of them).
QUEUES_ENV = "BRANDCARE_WORKER_QUEUES"
#: The queues whose messages run the model (drafting embeds for the reply memory; the
#: urgent lane scores and drafts).
MODEL_QUEUES = frozenset({"score", "draft", "urgent_score", "urgent_draft"})

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
    """The CPUs this process may run on: its CPU affinity (taskset, cpuset) cut to the
    whole CPUs of its control groups' quota (``docker run --cpus``, a Kubernetes limit),
    which the affinity does not show: lanes fitted to a host's 16 cores in a 2-CPU
    container would be throttled, each pass stalling the others."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota()
    return cores if quota is None else max(1, min(cores, int(quota)))


#: Where the kernel shows control groups, and which ones this process is in.
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def cpu_quota(root: Path = CGROUP_ROOT, membership: Path = PROC_CGROUP) -> float | None:
    """The CPUs per period this process's control groups allow (a container's ``--cpus``,
    a Kubernetes CPU limit), the tightest along the hierarchy; None when unlimited or
    unreadable. Cgroup v2 (``cpu.max``) and v1 (``cpu.cfs_quota_us``)."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            limits += _limits(root, path, _v2_limit)
        elif "cpu" in controllers.split(","):
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                if mount.is_dir():
                    limits += _limits(mount, path, _v1_limit)
                    break
    return min(limits, default=None)


def _limits(mount: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """Limits from the process's own group up to the mount. Inside a container the
    mount shows only the container's group while the path names the host's: then the
    mount itself is the group."""
    group = mount / path.strip("/")
    if not group.is_dir():
        group = mount
    found = []
    while True:
        limit = read(group)
        if limit is not None:
            found.append(limit)
        if group == mount or mount not in group.parents:
            return found
        group = group.parent


def _v2_limit(group: Path) -> float | None:
    try:
        quota, period = (group / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_limit(group: Path) -> float | None:
    try:
        quota = int((group / "cpu.cfs_quota_us").read_text())
        period = int((group / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


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


@dataclass(frozen=True, slots=True)
class WorkerCommand:
    """How Dramatiq's command line started this worker process: the processes sharing
    the machine, the threads of each, the queues taken (None: all)."""

    processes: int
    threads: int
    queues: str | None = None


def dramatiq_command(argv: Sequence[str]) -> WorkerCommand | None:
    """The shape of ``dramatiq brandcare.worker ...`` from its command line (a forked
    worker process keeps its parent's), with Dramatiq's own defaults (a process per CPU
    it counts, 8 threads); None when this process was not started by Dramatiq's CLI.

    ``brandcare worker`` fits the lanes itself and says so in the environment; run
    directly, each process would otherwise fit them as if it had the machine alone.
    """
    program = argv[0] if argv else ""
    if not (os.path.basename(program) == "dramatiq" or program.endswith("dramatiq/__main__.py")):
        return None
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--processes", "-p", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", "-t", type=int, default=8)
    parser.add_argument("--queues", "-Q", nargs="*", default=None)
    try:
        known, _ = parser.parse_known_args(list(argv[1:]))
    except argparse.ArgumentError:
        return None
    queues = ",".join(known.queues) if known.queues else None
    return WorkerCommand(max(1, known.processes), max(1, known.threads), queues)


def loads_model(queues: str | None) -> bool:
    """Whether a worker process taking ``queues`` (comma-separated; None or empty: all)
    runs the model, and so should load it before it takes a message."""
    return not queues or bool(MODEL_QUEUES & {q.strip() for q in queues.split(",")})
