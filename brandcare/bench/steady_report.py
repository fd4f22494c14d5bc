"""What ``brandcare bench load --rate`` measured: the latency table, the JSON, the chart.

Plain values, kept apart from the run (``bench.steady``) so the printed table, the
result file and the chart show the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from brandcare.bench.load_report import Check, LoadOptions
from listener.registry import platforms, request_budget


@dataclass(frozen=True, slots=True)
class SteadyOptions:
    """What one ``bench load --rate`` invocation runs, besides the servers and workers."""

    load: LoadOptions
    rates: tuple[float, ...]
    #: Seconds at each base rate before its spike, and at least as long after it.
    duration: float = 60.0
    spike_factor: float = 10.0
    spike_seconds: float = 60.0
    #: The longest the base rate runs after a spike while its backlog drains.
    recovery_max: float = 600.0
    #: Fetch-to-draft p95 (polling excluded) a phase should stay under, in seconds.
    target_p95: float = 2.0
    #: The query's interval (``interval_seconds`` in the brands file; 5 is its least).
    poll_interval: int = 5
    #: Seconds after the measured stream starts at which one worker is SIGKILLed.
    kill_worker_at: float | None = None

    @property
    def spikes(self) -> bool:
        """Whether each rate gets a spike."""
        return self.spike_factor > 1 and self.spike_seconds > 0


@dataclass(frozen=True, slots=True)
class Quantiles:
    """p50, p95, p99 and max of a set of seconds (nearest rank), and how many."""

    n: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Quantiles:
        """The quantiles of ``values`` (zeros for none)."""
        ordered = sorted(values)
        if not ordered:
            return cls(0, 0.0, 0.0, 0.0, 0.0)

        def at(q: float) -> float:
            return round(ordered[int(q * (len(ordered) - 1))], 3)

        return cls(len(ordered), at(0.5), at(0.95), at(0.99), round(ordered[-1], 3))

    def cells(self) -> list[str]:
        """``n``, then each figure with two decimals."""
        return [f"{self.n:,}", *(f"{v:.2f}" for v in (self.p50, self.p95, self.p99, self.max))]


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """One phase of one base rate: what was released and how long its mentions waited.

    Waits are of the mentions whose draft lands in the inbox's pending lane: ``total``
    from posted to the draft row, ``poll_wait`` from posted to fetched (the platform's
    polling delay), ``pipeline`` from fetched to the draft row (what the target is on).
    ``seen_lag``: from the draft row's time to when the benchmark's reader, sweeping
    the pending lane every 0.2 s, first saw it committed (the commit plus the sweep).
    ``settled`` (the steady phase before a spike): fetch to draft of the mentions posted
    two poll intervals or more before the spike began, which the spike cannot have
    overtaken (the last seconds' are polled with its first mentions, and polls go first).
    """

    rate: float
    name: str
    per_s: float
    seconds: float
    released: int
    total: Quantiles
    poll_wait: Quantiles
    pipeline: Quantiles
    seen_lag: Quantiles
    settled: Quantiles | None = None


@dataclass(frozen=True, slots=True)
class UrgencySplit:
    """A spike's pending-lane mentions by the model's urgency and the first pass's mark
    (fetch to draft, polling excluded), and how well the mark matched the model."""

    high_marked: Quantiles
    high_missed: Quantiles
    not_high: Quantiles
    scored: int  # the spike's mentions the model scored
    marked: int  # of those, marked urgent by the first pass
    high: int  # scored high by the model
    marked_high: int  # both

    @property
    def precision(self) -> float:
        """Share of the marked that the model scored high."""
        return self.marked_high / self.marked if self.marked else 0.0

    @property
    def recall(self) -> float:
        """Share of the model's high that the first pass marked."""
        return self.marked_high / self.high if self.high else 0.0


@dataclass(frozen=True, slots=True)
class RateResult:
    """A base rate's phases, its recovery after the spike, urgency and CPU."""

    rate: float
    phases: list[PhaseResult]
    #: Seconds after the spike ended until the fetch-to-draft p95 of each later 5-second
    #: window of posts stayed under the target (None: not within the recovery phase).
    recovered_after_s: float | None
    #: Seconds after the spike ended until the sampled backlog (waiting to be polled,
    #: scored or drafted) was back to the steady phase's largest.
    drained_after_s: float | None
    urgency: UrgencySplit | None
    #: CPU milliseconds per mention: workers and PostgreSQL, over the steady phase and
    #: over the whole rate (steady, spike, recovery and the drain after it).
    cpu_ms: dict[str, float]
    #: Share of all CPUs busy over the rate (every process on the machine, others' too).
    machine_busy: float


@dataclass(frozen=True, slots=True)
class KillResult:
    """One worker SIGKILLed mid-run, and what it cost the mentions it held."""

    at_s: float
    phase: str
    pid: int
    #: Messages the killed process held unacknowledged, by actor, from the broker.
    held: dict[str, int]
    affected: int  # mentions in those messages
    affected_total: Quantiles  # posted -> draft, pending lane
    affected_pipeline: Quantiles  # fetched -> draft
    undisturbed_pipeline: Quantiles  # the same phase's other mentions
    #: Seconds from the kill until the last affected mention was decided (drafted, or
    #: scored as needing no reply).
    kill_to_done_s: float | None
    restarted_after_s: float | None


@dataclass(frozen=True, slots=True)
class SteadyRun:
    """One worker count's steady-rate run."""

    workers: int
    rates: list[RateResult]
    #: One per second: seconds since the stream started, phase, waiting per stage.
    samples: list[dict[str, Any]]
    #: (phase key, start, end) in seconds since the stream started.
    timeline: list[tuple[str, float, float]]
    kill: KillResult | None
    counts: dict[str, int]
    checks: list[Check]
    approvals: int
    refused: int
    stale_requeues: int
    handed_back: int
    log_errors: int
    #: Times the scheduler enqueued again mentions no message carried.
    enqueued_again: int = 0
    #: Pending-lane mentions: (seconds since start posted, fetch-to-draft seconds).
    points: list[tuple[float, float]] = field(repr=False, default_factory=list)
    log_tail: str = field(default="", repr=False)
    loadavg: tuple[float, float] = (0.0, 0.0)  # 1-minute load average, before and after
    #: CPU milliseconds per second the workers and PostgreSQL spent with nothing to do
    #: (before the stream): the fixed cost a low rate divides among few mentions.
    idle_ms_per_s: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every count check held."""
        return all(c.passed for c in self.checks)


def poll_budget_lines(interval: int) -> list[str]:
    """What polling one query every ``interval`` seconds costs on each budgeted API."""
    lines = []
    for platform in platforms():
        budget = request_budget(platform)
        if budget is None:
            continue
        polls = budget.window_seconds / interval
        used = polls * budget.per_poll
        lines.append(
            f"  {platform}: {polls:,.0f} polls x {budget.per_poll} requests = {used:,.0f} of "
            f"the {budget.for_polls:,} requests per {budget.window_seconds} s its polls may "
            f"use ({used / budget.for_polls:.0%}, per {budget.per})"
        )
    lines.append(
        "  twitter: billed per post read (BRANDCARE_X_PRICE_PER_READ_USD), not per request; "
        "an empty poll reads nothing"
    )
    return lines


def _table(title: str, rows: Sequence[tuple[str, Quantiles]]) -> list[str]:
    head = f"  {title:<40}" + "".join(f"{h:>9}" for h in ("n", "p50", "p95", "p99", "max"))
    return [head] + [f"  {label:<40}" + "".join(f"{c:>9}" for c in q.cells()) for label, q in rows]


def _rate_lines(options: SteadyOptions, r: RateResult, killed: bool = False) -> list[str]:
    lines = [f"base rate {r.rate:g} mentions/s"]
    rows: list[tuple[str, Quantiles]] = []
    for p in r.phases:
        label = f"{p.name} ({p.per_s:g}/s, {p.seconds:.0f} s, {p.released:,} posted)"
        rows += [
            (label, p.total),
            ("  of which the poll wait (posted->fetched)", p.poll_wait),
            ("  fetch -> draft (target's measure)", p.pipeline),
        ]
        if p.settled is not None:
            rows.append(
                (f"  the same, posted {2 * options.poll_interval} s+ before the spike", p.settled)
            )
    lines += _table("posted -> draft in the pending lane, s", rows)
    seen = [p.seen_lag for p in r.phases if p.seen_lag.n]
    if seen:
        worst = max(seen, key=lambda q: q.p95)
        lines.append(
            f"  draft row -> seen committed by a 0.2 s reader: p95 {worst.p95:.2f} s, max "
            f"{worst.max:.2f} s (worst phase)"
        )
    steady = next((p for p in r.phases if p.name == "steady"), None)
    if steady is not None:
        judged = steady.settled if steady.settled is not None else steady.pipeline
        met = judged.p95 <= options.target_p95
        lines.append(
            f"  steady fetch -> draft p95 {judged.p95:.2f} s"
            + (" (before the spike)" if steady.settled is not None else "")
            + f" against {options.target_p95:g} s: {'met' if met else 'NOT met'}"
        )
    if options.spikes:
        lines.append(
            "  recovery: fetch -> draft p95 back under the target "
            + (
                f"{r.recovered_after_s:.0f} s after the spike ended"
                if r.recovered_after_s is not None
                else "NOT within the recovery phase"
            )
            + "; backlog back to its steady level "
            + (
                f"{r.drained_after_s:.0f} s after"
                if r.drained_after_s is not None
                else "NOT within the recovery phase"
            )
        )
    if r.urgency is not None:
        u = r.urgency
        lines += _table(
            "spike, fetch -> draft by the model's urgency",
            [
                ("scored high, marked urgent by 1st pass", u.high_marked),
                ("scored high, missed by the 1st pass", u.high_missed),
                ("not scored high", u.not_high),
            ],
        )
        lines.append(
            f"  first pass (a keyword heuristic): marked {u.marked:,} of the spike's "
            f"{u.scored:,} mentions; {u.precision:.0%} of those scored high by the model "
            f"(precision), {u.recall:.0%} of the {u.high:,} scored high marked (recall)"
        )
    c = r.cpu_ms
    lines.append(
        f"  CPU per mention, ms: workers {c['worker_steady']:.2f} (steady) / "
        f"{c['worker_all']:.2f} (whole rate); PostgreSQL {c['postgres_steady']:.2f} / "
        f"{c['postgres_all']:.2f}; machine busy {r.machine_busy:.0%} (all processes)"
        + ("; the killed worker's restart and model load included" if killed else "")
    )
    return lines


def _kill_lines(k: KillResult) -> list[str]:
    held = ", ".join(f"{n} {actor}" for actor, n in sorted(k.held.items())) or "none"
    lines = [
        f"worker killed (SIGKILL, pid {k.pid}) {k.at_s:.0f} s into the stream ({k.phase}); "
        f"it held unacknowledged: {held}; {k.affected:,} mentions in them",
        *_table(
            "fetch -> draft, s",
            [
                ("the killed worker's mentions", k.affected_pipeline),
                ("  the same, posted -> draft", k.affected_total),
                ("the same phase's other mentions", k.undisturbed_pipeline),
            ],
        ),
        "  kill -> last affected mention decided: "
        + (f"{k.kill_to_done_s:.0f} s" if k.kill_to_done_s is not None else "none affected")
        + "; worker started again (as a supervisor would) after "
        + (f"{k.restarted_after_s:.0f} s" if k.restarted_after_s is not None else "-"),
    ]
    return lines


def report(options: SteadyOptions, runs: Sequence[SteadyRun], files: Sequence[Path]) -> str:
    """The printed report: per worker count, per rate, the latency tables and checks."""
    load = options.load
    lines = [
        f"steady-rate load, PostgreSQL + Redis; mentions posted to the replay source's file "
        f"(the platform) and polled by the listener every {options.poll_interval} s; "
        f"{load.approve_share:.0%} of drafts approved; each worker: 1 process, "
        f"{load.threads} threads, {load.score_threads} scoring thread(s); {os.cpu_count()} CPUs",
        f"target: fetch -> draft p95 under {options.target_p95:g} s (polling excluded)",
    ]
    for run in runs:
        lines += [
            "",
            f"== {run.workers} worker(s); load average {run.loadavg[0]:.2f} before, "
            f"{run.loadavg[1]:.2f} after ==",
        ]
        if run.idle_ms_per_s:
            lines.append(
                f"idle, before the stream: workers {run.idle_ms_per_s['workers']:.0f} ms of CPU "
                f"a second (all {run.workers} together), PostgreSQL "
                f"{run.idle_ms_per_s['postgres']:.0f}; at R mentions/s that alone is "
                f"{run.idle_ms_per_s['workers']:.0f}/R ms per mention"
            )
        for r in run.rates:
            killed = run.kill is not None and run.kill.phase.startswith(f"r{r.rate:g}-")
            lines += ["", *_rate_lines(options, r, killed)]
        if run.kill is not None:
            lines += ["", *_kill_lines(run.kill)]
        lines += [
            "",
            f"lost work recovered: {run.handed_back} time(s) by the dead-worker check, "
            f"{run.enqueued_again} by the check for mentions no message carries, "
            f"{run.stale_requeues} by the stale sweep; error lines in the logs: "
            f"{run.log_errors}",
            f"count check, {run.workers} worker(s):",
            *(f"  {c.line()}" for c in run.checks),
        ]
        if not run.passed or run.log_errors:
            lines += ["  last lines of the processes' log:", run.log_tail]
    lines += [
        "",
        f"poll interval {options.poll_interval} s: the query's interval_seconds in the brands "
        "file (5 at least), plus up to 10% jitter; a full page (100) polls again at once. "
        f"A mention waits {options.poll_interval * 1.05 / 2:.1f} s on average for the poll "
        "from the interval alone (the 'poll wait' rows: that, plus waiting for a worker). "
        "One query polled at that interval costs:",
        *poll_budget_lines(options.poll_interval),
        "",
        "written: " + ", ".join(str(f) for f in files),
    ]
    return "\n".join(lines)


def as_json(options: SteadyOptions, runs: Sequence[SteadyRun]) -> dict[str, Any]:
    """The result file's content: every number the report shows, and the samples."""
    load = options.load
    return {
        "mode": "steady",
        "rates": list(options.rates),
        "duration_s": options.duration,
        "spike_factor": options.spike_factor,
        "spike_seconds": options.spike_seconds,
        "target_p95_s": options.target_p95,
        "poll_interval_s": options.poll_interval,
        "kill_worker_at_s": options.kill_worker_at,
        "workers": list(load.workers),
        "approve_share": load.approve_share,
        "threads_per_worker": load.threads,
        "score_threads": load.score_threads,
        "cpus": os.cpu_count(),
        "passed": all(r.passed for r in runs),
        "runs": [
            {
                "workers": run.workers,
                "loadavg_1m": list(run.loadavg),
                "idle_cpu_ms_per_s": run.idle_ms_per_s,
                "rates": [asdict(r) for r in run.rates],
                "kill": asdict(run.kill) if run.kill is not None else None,
                "timeline": [
                    {"phase": key, "start_s": round(a, 2), "end_s": round(b, 2)}
                    for key, a, b in run.timeline
                ],
                "backlog": run.samples,
                "counts": run.counts,
                "checks": [
                    {
                        "name": c.name,
                        "terms": list(c.terms),
                        "values": list(c.values),
                        "passed": c.passed,
                    }
                    for c in run.checks
                ],
                "approvals": run.approvals,
                "approvals_refused": run.refused,
                "stale_requeues": run.stale_requeues,
                "handed_back": run.handed_back,
                "enqueued_again": run.enqueued_again,
                "log_errors": run.log_errors,
                "passed": run.passed,
            }
            for run in runs
        ],
    }


def write_chart(run: SteadyRun, options: SteadyOptions, path: Path) -> None:
    """The backlog per stage over time above each mention's fetch-to-draft, phases shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, dpi=100)
    t = [s["t"] for s in run.samples]
    for stage in ("poll", "score", "draft", "send"):
        top.plot(t, [s[stage] for s in run.samples], label=f"waiting to {stage}", linewidth=1.2)
    top.set_ylabel("mentions waiting")
    top.legend(loc="upper left", fontsize=8)
    if run.points:
        bottom.scatter(
            [p[0] for p in run.points], [p[1] for p in run.points], s=4, alpha=0.5, linewidths=0
        )
    bottom.axhline(options.target_p95, color="black", linestyle="--", linewidth=0.8)
    bottom.set_ylabel("fetch -> draft, s")
    bottom.set_xlabel("seconds since the stream started (by when each mention was posted)")
    for key, start, end in run.timeline:
        if key.endswith("spike"):
            for ax in (top, bottom):
                ax.axvspan(start, end, color="tab:red", alpha=0.1)
    if run.kill is not None:
        for ax in (top, bottom):
            ax.axvline(run.kill.at_s, color="tab:red", linewidth=1)
    rates = ", ".join(f"{r:g}" for r in options.rates)
    spikes = (
        f"spikes x{options.spike_factor:g} for {options.spike_seconds:g} s (shaded)"
        if options.spikes
        else "no spike"
    )
    killed = "; a worker killed (red line)" if run.kill is not None else ""
    fig.suptitle(f"{run.workers} worker(s), base rates {rates}/s, {spikes}{killed}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
