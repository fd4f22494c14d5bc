"""What ``brandcare bench load`` measured, as a side-by-side table and as JSON.

Kept apart from the run itself (``bench.load``): these are plain values, and the
table and the result file must show the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from brandcare.bench.procs import TreeUsage


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What one ``bench load`` invocation runs."""

    mentions: int = 100_000
    workers: tuple[int, ...] = (1, 2, 4)
    approve_share: float = 0.1
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    broker_url: str = "redis://127.0.0.1:6379/12"
    threads: int = 2
    score_threads: int = 1
    timeout: float = 3600.0


@dataclass(frozen=True, slots=True)
class Spread:
    """A sampled quantity's worst and 95th-percentile values."""

    max: float
    p95: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Max and p95 of the samples (zeros for none)."""
        ordered = sorted(values)
        if not ordered:
            return cls(0.0, 0.0)
        return cls(round(ordered[-1], 3), round(ordered[int(0.95 * (len(ordered) - 1))], 3))


@dataclass(frozen=True, slots=True)
class Check:
    """An equality the run must satisfy: every value the same."""

    name: str
    terms: tuple[str, ...]
    values: tuple[int, ...]

    @property
    def passed(self) -> bool:
        """All values equal."""
        return len(set(self.values)) == 1

    def line(self) -> str:
        """``name: a 10 = b 10  PASS``."""
        equation = " = ".join(f"{t} {v:,}" for t, v in zip(self.terms, self.values, strict=True))
        return f"{self.name}: {equation}  {'PASS' if self.passed else 'FAIL'}"


@dataclass(frozen=True, slots=True)
class CpuShare:
    """Where the cores went while the stream ran, beside the workers' own CPU time."""

    #: Share of all the machine's CPUs busy (anything running, other users included).
    machine_busy: float
    #: CPU seconds of the PostgreSQL server (every database on it).
    postgres_s: float
    #: CPU seconds of this process: the approver and the once-a-second sampling.
    bench_s: float


@dataclass(frozen=True, slots=True)
class LoadRun:
    """One worker count's numbers."""

    workers: int
    mentions: int
    seconds: float
    p50: float
    p95: float
    lag: dict[str, Spread]
    worker_usage: list[TreeUsage]
    scheduler_usage: TreeUsage
    cpu: CpuShare
    counts: dict[str, int]
    checks: list[Check]
    approvals: int
    refused: int
    pending_seen: int
    stale_requeues: int
    log_errors: int
    log_tail: str = field(default="", repr=False)

    @property
    def rate(self) -> float:
        """Mentions decided per second, first fetch to last decision."""
        return self.counts["decided"] / self.seconds if self.seconds > 0 else 0.0

    @property
    def worker_cpu_s(self) -> float:
        """CPU seconds of every worker tree while the stream ran."""
        return sum(u.cpu_s for u in self.worker_usage)

    @property
    def passed(self) -> bool:
        """Every count check held."""
        return all(c.passed for c in self.checks)


def count_checks(n: int, c: dict[str, int], approvals: int) -> list[Check]:
    """The equalities a run must satisfy: nothing lost, nothing done twice."""
    return [
        Check(
            "nothing lost",
            ("mentions in", "stored", "scored"),
            (n, c["stored"], c["scored"]),
        ),
        Check("nothing scored twice", ("score rows", "scored"), (c["score_rows"], c["scored"])),
        Check(
            "every scored mention decided",
            ("scored", "drafted + skipped + ignored"),
            (c["scored"], c["decided"]),
        ),
        Check(
            "one draft per decision",
            ("drafts", "drafted + skipped"),
            (c["drafts"], c["drafted"] + c["skipped"]),
        ),
        Check(
            "sends = approvals",
            ("replies posted", "drafts sent", "approvals made", "approvals recorded"),
            (c["replies_posted"], c["drafts_sent"], approvals, c["approved_recorded"]),
        ),
        # Counted on the platform (the replay source's posts file, which every process
        # writes), not in our reply table: a reply posted twice by two processes is one
        # row there.
        Check(
            "nothing posted twice",
            ("posts on the platform", "replies posted"),
            (c["platform_posts"], c["replies_posted"]),
        ),
    ]


def as_json(options: LoadOptions, runs: Sequence[LoadRun]) -> dict[str, Any]:
    """The result file's content: options, and per run every number the table shows."""
    base = runs[0].rate if runs else 0.0
    return {
        "mentions": options.mentions,
        "workers": list(options.workers),
        "approve_share": options.approve_share,
        "threads_per_worker": options.threads,
        "score_threads": options.score_threads,
        "cpus": os.cpu_count(),
        "passed": all(r.passed for r in runs),
        "runs": [
            {
                "workers": r.workers,
                "mentions": r.mentions,
                "seconds": round(r.seconds, 3),
                "mentions_per_s": round(r.rate, 2),
                "scaling": round(r.rate / base, 3) if base else None,
                "latency_s": {"p50": round(r.p50, 3), "p95": round(r.p95, 3)},
                "queue_lag": {k: asdict(v) for k, v in r.lag.items()},
                "processes": {
                    "workers": [asdict(u) for u in r.worker_usage],
                    "scheduler": asdict(r.scheduler_usage),
                },
                "cpu": asdict(r.cpu),
                "counts": r.counts,
                "checks": [
                    {
                        "name": c.name,
                        "terms": list(c.terms),
                        "values": list(c.values),
                        "passed": c.passed,
                    }
                    for c in r.checks
                ],
                "approvals": r.approvals,
                "approvals_refused": r.refused,
                "pending_drafts_seen": r.pending_seen,
                "stale_requeues": r.stale_requeues,
                "log_errors": r.log_errors,
                "passed": r.passed,
            }
            for r in runs
        ],
    }


def _table(options: LoadOptions, runs: Sequence[LoadRun]) -> list[str]:
    base = runs[0]

    def row(label: str, cells: Sequence[str]) -> str:
        return f"{label:<36}" + "".join(f"{c:>16}" for c in cells)

    def per_mention(r: LoadRun, cpu_s: float) -> str:
        return f"{1000 * cpu_s / r.mentions:.2f}"

    def spread(key: str, fmt: str) -> list[str]:
        return [f"{format(r.lag[key].max, fmt)} / {format(r.lag[key].p95, fmt)}" for r in runs]

    return [
        row("", [f"{r.workers} worker{'s' if r.workers > 1 else ''}" for r in runs]),
        row("mentions/s", [f"{r.rate:,.0f}" for r in runs]),
        row(f"scaling vs {base.workers} worker(s)", [f"{r.rate / base.rate:.2f}x" for r in runs]),
        row("seconds, first fetch to last decision", [f"{r.seconds:,.1f}" for r in runs]),
        row("fetch-to-draft p50 / p95, s", [f"{r.p50:.1f} / {r.p95:.1f}" for r in runs]),
        row("oldest unscored, max / p95, s", spread("oldest_unscored_s", ".1f")),
        row("oldest undrafted, max / p95, s", spread("oldest_undrafted_s", ".1f")),
        row("waiting to be polled, max / p95", spread("waiting_poll", ",.0f")),
        row("waiting to score, max / p95", spread("waiting_score", ",.0f")),
        row("waiting to draft, max / p95", spread("waiting_draft", ",.0f")),
        row("waiting to send, max / p95", spread("waiting_send", ",.0f")),
        row(
            "peak RSS per worker, MiB (max)",
            [f"{max(u.largest_mib for u in r.worker_usage):,.0f}" for r in runs],
        ),
        row(
            "  its process tree, MiB (max)",
            [f"{max(u.tree_mib for u in r.worker_usage):,.0f}" for r in runs],
        ),
        row("scheduler peak RSS, MiB", [f"{r.scheduler_usage.largest_mib:,.0f}" for r in runs]),
        row("CPU busy, all cores, %", [f"{100 * r.cpu.machine_busy:.0f}" for r in runs]),
        row("worker CPU per mention, ms", [per_mention(r, r.worker_cpu_s) for r in runs]),
        row("PostgreSQL CPU per mention, ms", [per_mention(r, r.cpu.postgres_s) for r in runs]),
        row(
            "scheduler CPU per mention, ms", [per_mention(r, r.scheduler_usage.cpu_s) for r in runs]
        ),
        row("bench (approver) CPU per mention, ms", [per_mention(r, r.cpu.bench_s) for r in runs]),
        row(
            "approvals / replies sent",
            [f"{r.approvals:,} / {r.counts['replies_posted']:,}" for r in runs],
        ),
        row("stale work re-enqueued (sweeps)", [str(r.stale_requeues) for r in runs]),
        row("error lines in the logs", [str(r.log_errors) for r in runs]),
    ]


def report(options: LoadOptions, runs: Sequence[LoadRun]) -> str:
    """The printed report: the side-by-side table, then each run's count checks."""
    lines = [
        f"{options.mentions:,} mentions a run, PostgreSQL + Redis, "
        f"{options.approve_share:.0%} of drafts approved during the run; "
        f"each worker: 1 process, {options.threads} threads, "
        f"{options.score_threads} scoring thread(s); {os.cpu_count()} CPUs",
        "",
        *_table(options, runs),
    ]
    for r in runs:
        lines += ["", f"count check, {r.workers} worker(s):"]
        lines += [f"  {c.line()}" for c in r.checks]
        lines.append(
            "  peak RSS per worker, MiB: "
            + ", ".join(f"{u.largest_mib:,.0f} (tree {u.tree_mib:,.0f})" for u in r.worker_usage)
        )
        if not r.passed or r.log_errors:
            lines += ["  last lines of the processes' log:", r.log_tail]
    return "\n".join(lines)
