"""Peak memory and CPU time of process trees, for benchmarks that start processes.

A ``brandcare worker`` is a tree: Dramatiq's supervisor and the worker process it
forks, which is the one that loads the model. Linux keeps each process's peak
resident set (``VmHWM``), so sampling now and then misses no spike; elsewhere the
current RSS is sampled instead, and the peak is the largest sample. CPU time is
counted from ``mark()``, so start-up and warm-up stay out of the per-mention cost;
with the machine's busy share and PostgreSQL's CPU beside it, a run shows where the
cores went.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1024 * 1024

#: A process, told apart from a later one that reuses its pid.
Key = tuple[int, float]


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """One process tree: its largest process's peak, the tree's summed peaks, how many
    processes, and the CPU seconds (user + system) they spent since the mark."""

    largest_mib: float
    tree_mib: float
    processes: int
    cpu_s: float


def _peak_bytes(proc: psutil.Process) -> int:
    """The process's peak RSS (Linux ``VmHWM``), else its current RSS."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(proc.memory_info().rss)


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _tree(root: int) -> list[psutil.Process]:
    try:
        top = psutil.Process(root)
        return [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postgres() -> Iterable[psutil.Process]:
    """The local PostgreSQL server's processes (every database's, not just ours)."""
    for proc in psutil.process_iter(["name"]):
        if (proc.info.get("name") or "").startswith("postgres"):
            yield proc


class ProcessWatch:
    """Peaks and CPU of every process under the given roots, sample by sample.

    Forked children share pages with their parent until they write them, so a tree's
    sum is an upper bound; the largest process is the figure to size a machine by.
    """

    def __init__(self, roots: list[int]) -> None:
        self._roots = roots
        self._peak: dict[int, dict[Key, int]] = {root: {} for root in roots}
        self._cpu: dict[int, dict[Key, float]] = {root: {} for root in roots}
        self._base: dict[Key, float] = {}
        self._pg: dict[Key, float] = {}
        self._pg_base: dict[Key, float] = {}
        self._machine = psutil.cpu_times()
        self._machine_busy = 0.0

    def add_root(self, root: int) -> None:
        """Watch another tree too (a worker started again after one was killed)."""
        if root not in self._peak:
            self._roots.append(root)
            self._peak[root], self._cpu[root] = {}, {}

    def cpu_s(self, roots: Iterable[int]) -> float:
        """CPU seconds the trees under ``roots`` spent since the mark, as last sampled
        (a process that ended keeps what it spent until its last sample)."""
        return sum(
            c - self._base.get(key, 0.0)
            for root in roots
            for key, c in self._cpu.get(root, {}).items()
        )

    def sample(self) -> None:
        """Read every live process in every tree, and PostgreSQL's, once."""
        for root in self._roots:
            for proc in _tree(root):
                try:
                    key = (proc.pid, proc.create_time())
                    peaks = self._peak[root]
                    peaks[key] = max(peaks.get(key, 0), _peak_bytes(proc))
                    self._cpu[root][key] = _cpu(proc)
                except psutil.NoSuchProcess:
                    continue
        for proc in _postgres():
            try:
                self._pg[(proc.pid, proc.create_time())] = _cpu(proc)
            except psutil.NoSuchProcess:
                continue

    def mark(self) -> None:
        """Count CPU from now on (what the processes spent so far is left out)."""
        self.sample()
        self._base = {key: cpu for tree in self._cpu.values() for key, cpu in tree.items()}
        self._pg_base = dict(self._pg)
        self._machine = psutil.cpu_times()

    def stop_clock(self) -> None:
        """Close the measured window: the machine's busy share is taken now."""
        self.sample()
        now = psutil.cpu_times()
        total = sum(now) - sum(self._machine)
        idle = (now.idle + getattr(now, "iowait", 0.0)) - (
            self._machine.idle + getattr(self._machine, "iowait", 0.0)
        )
        self._machine_busy = 1.0 - idle / total if total > 0 else 0.0

    def usage(self, root: int) -> TreeUsage:
        """The tree's peaks so far and its CPU since the mark."""
        peaks = list(self._peak.get(root, {}).values())
        cpu = sum(c - self._base.get(key, 0.0) for key, c in self._cpu.get(root, {}).items())
        return TreeUsage(
            largest_mib=round(max(peaks, default=0) / MIB, 1),
            tree_mib=round(sum(peaks) / MIB, 1),
            processes=len(peaks),
            cpu_s=round(cpu, 2),
        )

    def postgres_cpu_s(self) -> float:
        """CPU seconds the PostgreSQL server spent since the mark (all its databases)."""
        return round(sum(c - self._pg_base.get(key, 0.0) for key, c in self._pg.items()), 2)

    @property
    def machine_busy(self) -> float:
        """Share of all CPUs busy between ``mark`` and ``stop_clock`` (0..1)."""
        return round(self._machine_busy, 3)
