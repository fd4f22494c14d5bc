"""Peak memory of process trees, for benchmarks that start ``brandcare`` processes.

A ``brandcare worker`` is a tree: Dramatiq's supervisor and the worker process it
forks, which is the one that loads the model. Linux keeps each process's peak
resident set (``VmHWM``), so sampling now and then misses no spike; elsewhere the
current RSS is sampled instead, and the peak is the largest sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TreePeak:
    """One process tree's peak: its largest process, the sum over the tree, how many."""

    largest_mib: float
    tree_mib: float
    processes: int


def _peak_bytes(proc: psutil.Process) -> int:
    """The process's peak RSS (Linux ``VmHWM``), else its current RSS."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(proc.memory_info().rss)


class PeakMemory:
    """Tracks the peak of every process under the given roots, sample by sample.

    Forked children share pages with their parent until they write them, so a tree's
    sum is an upper bound; the largest process is the figure to size a machine by.
    """

    def __init__(self, roots: list[int]) -> None:
        self._roots = roots
        #: root pid -> {(pid, start time): peak bytes}
        self._peaks: dict[int, dict[tuple[int, float], int]] = {root: {} for root in roots}

    def sample(self) -> None:
        """Read every live process in every tree once."""
        for root in self._roots:
            try:
                top = psutil.Process(root)
                tree = [top, *top.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            seen = self._peaks[root]
            for proc in tree:
                try:
                    key = (proc.pid, proc.create_time())
                    seen[key] = max(seen.get(key, 0), _peak_bytes(proc))
                except psutil.NoSuchProcess:
                    continue

    def peak(self, root: int) -> TreePeak:
        """The tree's peaks so far."""
        values = list(self._peaks.get(root, {}).values())
        return TreePeak(
            largest_mib=round(max(values, default=0) / MIB, 1),
            tree_mib=round(sum(values) / MIB, 1),
            processes=len(values),
        )
