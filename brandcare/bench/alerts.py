"""``brandcare bench alerts``: the spike detector on a generated month, scored.

A month of negative-mention counts per 15 minutes for one brand, with what real
volume has: a daily rhythm (quiet nights), a weekly one (busy Monday mornings, quiet
weekends), growth over the month, and over-dispersed noise (a gamma-Poisson mix, as
real counts are noisier than Poisson). On top: real bursts of different sizes and
shapes (a step, a ramp, a short sharp spike, a decaying one, a long plateau, one at
night), and decoys that must not alert (a burst of positive mentions that drags a few
negatives along, and a Monday morning busier than usual but normal). The first week
is the detector's warm-up: no burst is placed there and nothing there is scored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from brandcare.insights.spikes import SLOTS_PER_DAY, DetectorConfig, SpikeState, slot_of, step

START = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # a Monday
DAYS = 30
WARMUP_DAYS = 7
FIRST = slot_of(START)
PEAK_NEGATIVE_PER_WINDOW = 14.0


@dataclass(frozen=True)
class Event:
    """A burst (or a decoy) placed in the month."""

    name: str
    day: int
    hour: float
    minutes: int
    factor: float  # times the baseline at its height
    shape: str  # step, ramp, spike, decay, positive, busy_monday
    real: bool

    @property
    def start(self) -> int:
        return FIRST + self.day * SLOTS_PER_DAY + int(self.hour * 4)

    @property
    def end(self) -> int:
        return self.start + max(1, self.minutes // 15) - 1


EVENTS: tuple[Event, ...] = (
    Event("step 3x, 1 h, Tue afternoon", 8, 14.0, 60, 3.0, "step", True),
    Event("ramp to 5x, 2 h, Fri late morning", 11, 11.0, 120, 5.0, "ramp", True),
    Event("step 4x, 90 min, at night", 15, 3.0, 90, 4.0, "step", True),
    Event("spike 10x, 30 min, Sat afternoon", 19, 16.0, 30, 10.0, "spike", True),
    Event("4x decaying over 1 h, Wed morning", 23, 9.5, 60, 4.0, "decay", True),
    Event("plateau 3.5x, 3 h, Sat evening", 26, 20.0, 180, 3.5, "step", True),
    Event("positive burst 6x, 2 h (decoy)", 10, 13.0, 120, 6.0, "positive", False),
    Event("busy but normal Monday morning (decoy)", 21, 8.0, 240, 1.25, "busy_monday", False),
)


def daily_curve(hour: float) -> float:
    """Share of peak volume by hour of day: quiet nights, busy days, a lively evening."""
    if hour < 6:
        return 0.2
    if hour < 9:
        return 0.2 + 0.8 * (hour - 6) / 3
    if hour < 19:
        return 1.0
    return 0.85 - 0.55 * (hour - 19) / 5


def weekly_factor(weekday: int, hour: float) -> float:
    """Busy Monday mornings (the weekend's backlog), quiet weekends."""
    if weekday == 0 and 8 <= hour < 12:
        return 1.8
    if weekday >= 5:
        return 0.6
    return 1.0


def expected_rate(slot: int) -> float:
    """The true mean of negative mentions in a window, before noise and events."""
    when = START + dt.timedelta(minutes=15 * (slot - FIRST))
    hour = when.hour + when.minute / 60
    growth = 1.0 + 0.15 * (slot - FIRST) / (DAYS * SLOTS_PER_DAY)
    return (
        PEAK_NEGATIVE_PER_WINDOW * daily_curve(hour) * weekly_factor(when.weekday(), hour) * growth
    )


def _event_factor(event: Event, slot: int) -> float:
    """Multiplier an event puts on the negative rate at ``slot``."""
    if not event.start <= slot <= event.end:
        return 1.0
    i, n = slot - event.start, event.end - event.start + 1
    if event.shape == "ramp":  # 3x in its first window, full height in its second
        return 1.0 + (event.factor - 1.0) * min(1.0, (i + 1) / 2)
    if event.shape == "decay":
        return 1.0 + (event.factor - 1.0) * (0.6**i)
    if event.shape == "positive":
        return 1.15  # a few negatives ride along with the praise
    return event.factor if n else 1.0


def generate(seed: int = 7) -> tuple[dict[int, int], dict[int, int]]:
    """Negative and positive counts per window for the month."""
    rng = np.random.default_rng(seed)
    negative: dict[int, int] = {}
    positive: dict[int, int] = {}
    for slot in range(FIRST, FIRST + DAYS * SLOTS_PER_DAY):
        rate = expected_rate(slot)
        factor = 1.0
        pos_factor = 1.0
        for e in EVENTS:
            factor *= _event_factor(e, slot)
            if e.shape == "positive" and e.start <= slot <= e.end:
                pos_factor = e.factor
        mean = rate * factor * rng.gamma(30.0, 1 / 30.0)
        negative[slot] = int(rng.poisson(mean))
        positive[slot] = int(rng.poisson(rate * 1.5 * pos_factor))
    return negative, positive


@dataclass(frozen=True)
class Result:
    sensitivity: str
    detected: dict[str, int | None]  # event name -> delay in windows (None: missed)
    alerts: int
    true_alerts: int
    decoy_alerts: int
    false_alerts: int

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def within_two(self) -> int:
        return sum(1 for d in self.detected.values() if d is not None and d <= 1)

    @property
    def recall(self) -> float:
        found = [d for d in self.detected.values() if d is not None]
        return len(found) / len(self.detected) if self.detected else 1.0


def evaluate(sensitivity: str, negative: dict[int, int]) -> Result:
    """Run the detector window by window and match its alerts to the events."""
    config = DetectorConfig(sensitivity=sensitivity)
    state = SpikeState()
    opens: list[int] = []  # new alerts (notified)
    active: set[int] = set()  # windows with an alert open, new or reopened
    for slot in range(FIRST, FIRST + DAYS * SLOTS_PER_DAY):
        decision = step(negative, slot, state, config, known_from=FIRST)
        state = decision.state
        if slot < FIRST + WARMUP_DAYS * SLOTS_PER_DAY:
            continue
        if decision.action == "open":
            opens.append(slot)
        if state.open:
            active.add(slot)
    real = [e for e in EVENTS if e.real]
    decoys = [e for e in EVENTS if not e.real]
    detected: dict[str, int | None] = {}
    for e in real:
        # Detected once an alert is open in the burst: one opened in its first windows,
        # or one already open when it began (it then tracks the burst).
        hits = [s - e.start for s in range(e.start, e.end + 3) if s in active]
        detected[e.name] = min(hits) if hits else None
    true = sum(1 for s in opens if any(e.start <= s <= e.end + 2 for e in real))
    on_decoys = sum(1 for s in opens if any(e.start <= s <= e.end + 2 for e in decoys))
    return Result(sensitivity, detected, len(opens), true, on_decoys, len(opens) - true)


def run_alerts_benchmark(seed: int = 7, months: int = 5) -> str:
    """The report ``brandcare bench alerts`` prints: one month in detail, then the
    default sensitivity over ``months`` more generated months (other seeds), so one
    lucky draw cannot pass for a detector that works."""
    negative, positive = generate(seed)
    lines = [
        f"generated month: {DAYS} days from {START:%Y-%m-%d} (a Monday), 15-minute windows, "
        f"{sum(negative.values()):,} negative and {sum(positive.values()):,} positive mentions; "
        f"first {WARMUP_DAYS} days are warm-up (seed {seed})",
        "",
    ]
    results = [evaluate(level, negative) for level in ("low", "medium", "high")]
    header = f"{'event':<44}" + "".join(f"{r.sensitivity:>10}" for r in results)
    lines += ["detection delay in windows (0 = the window the burst starts in; - = missed)", header]
    for e in EVENTS:
        if not e.real:
            continue
        delays = [r.detected[e.name] for r in results]
        lines.append(f"{e.name:<44}" + "".join(f"{'-' if d is None else d:>10}" for d in delays))
    lines.append("")
    rows: list[tuple[str, list[str]]] = [
        ("alerts opened", [f"{r.alerts}" for r in results]),
        ("precision", [f"{r.precision:.2f}" for r in results]),
        ("recall", [f"{r.recall:.2f}" for r in results]),
        ("within two windows", [f"{r.within_two}/{len(r.detected)}" for r in results]),
        ("alerts on decoys", [f"{r.decoy_alerts}" for r in results]),
        ("false alerts (all)", [f"{r.false_alerts}" for r in results]),
    ]
    for label, cells in rows:
        lines.append(f"{label:<44}" + "".join(f"{c:>10}" for c in cells))
    medium = results[1]
    met = (
        all(d is not None and d <= 1 for d in medium.detected.values()) and medium.decoy_alerts == 0
    )
    lines += [
        "",
        "target (default sensitivity, medium): every real burst of >= 3x within two windows, "
        f"no alert on the decoys: {'met' if met else 'NOT met'}",
    ]
    if months > 0:
        others = [evaluate("medium", generate(seed + 1 + i)[0]) for i in range(months)]
        bursts = sum(len(r.detected) for r in others)
        in_two = sum(r.within_two for r in others)
        false = sum(r.false_alerts for r in others)
        found = sorted(d for r in others for d in r.detected.values() if d is not None)
        lines += [
            f"over {months} more generated months (seeds {seed + 1}-{seed + months}), medium: "
            f"{in_two}/{bursts} bursts within two windows, "
            f"{sum(r.decoy_alerts for r in others)} alerts on decoys, {false} false alerts "
            f"({false / months:.1f} a month), median delay "
            f"{found[len(found) // 2] if found else '-'} windows",
        ]
    return "\n".join(lines)
