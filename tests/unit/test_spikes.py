"""The spike detector on crafted series: start, continue, resolve, cooldown, seasonality."""

from __future__ import annotations

import math

import pytest

from brandcare.insights.spikes import (
    SLOTS_PER_DAY,
    SLOTS_PER_WEEK,
    DetectorConfig,
    SpikeState,
    negbin_upper_tail,
    poisson_upper_tail,
    step,
)

T0 = 2_000_000  # an arbitrary window number; the series below start here


def flat(level: int, days: int = 14) -> dict[int, int]:
    """A steady series with a little deterministic wobble (no randomness in unit tests)."""
    return {T0 + i: level + (i % 3) - 1 for i in range(days * SLOTS_PER_DAY)}


def run(series: dict[int, int], start: int, end: int, config: DetectorConfig | None = None):  # type: ignore[no-untyped-def]
    state, actions = SpikeState(), {}
    for slot in range(start, end):
        d = step(series, slot, state, config or DetectorConfig(), known_from=T0)
        state = d.state
        if d.action:
            actions[slot] = d.action
    return actions, state


def test_poisson_and_negative_binomial_tails_match_known_values() -> None:
    # P(X >= 5 | Poisson(2)) = 1 - sum_{k<5} e^-2 2^k / k!
    exact = 1 - sum(math.exp(-2) * 2**k / math.factorial(k) for k in range(5))
    assert poisson_upper_tail(5, 2.0) == pytest.approx(exact, rel=1e-9)
    assert poisson_upper_tail(0, 3.0) == 1.0
    # Over-dispersion fattens the tail; vanishing dispersion approaches Poisson.
    assert negbin_upper_tail(30, 10.0, 0.2) > poisson_upper_tail(30, 10.0) * 100
    assert negbin_upper_tail(15, 10.0, 1e-7) == pytest.approx(
        poisson_upper_tail(15, 10.0), rel=1e-3
    )


def test_a_spike_opens_once_updates_while_it_lasts_and_resolves_after_two_quiet_windows() -> None:
    series = flat(10)
    spike = T0 + 10 * SLOTS_PER_DAY + 50
    for i in range(4):
        series[spike + i] = 40
    actions, state = run(series, T0 + 9 * SLOTS_PER_DAY, spike + 10)
    assert actions == {
        spike: "open",
        spike + 1: "update",
        spike + 2: "update",
        spike + 3: "update",
        spike + 4: "update",  # one quiet window is not the end yet
        spike + 5: "resolve",
    }
    assert not state.open


def test_steady_volume_never_alerts() -> None:
    actions, _ = run(flat(10), T0 + 8 * SLOTS_PER_DAY, T0 + 14 * SLOTS_PER_DAY)
    assert actions == {}


def test_a_spike_back_within_the_cooldown_reopens_instead_of_a_new_alert() -> None:
    series = flat(10)
    first = T0 + 10 * SLOTS_PER_DAY + 50
    series[first] = series[first + 1] = 40
    again = first + 5  # resolved at first + 3, cooldown 8 windows
    series[again] = series[again + 1] = 40
    actions, _ = run(series, T0 + 9 * SLOTS_PER_DAY, again + 6)
    assert [a for a in actions.values() if a in ("open", "reopen")] == ["open", "reopen"]
    assert actions[again] == "reopen"
    late = first + 40  # long after the cooldown: a new alert
    series[late] = series[late + 1] = 40
    actions, _ = run(series, T0 + 9 * SLOTS_PER_DAY, late + 6)
    assert actions[late] == "open"


def test_small_counts_never_alert_however_large_the_ratio() -> None:
    series = flat(1)
    series[T0 + 10 * SLOTS_PER_DAY] = 5  # 5x, but five mentions
    actions, _ = run(series, T0 + 9 * SLOTS_PER_DAY, T0 + 11 * SLOTS_PER_DAY)
    assert actions == {}


def test_a_weekly_rush_is_learned_and_does_not_alert_the_second_time() -> None:
    series = flat(8, days=21)
    rush = range(8 * 4, 12 * 4)  # 08:00 to 12:00 on the first day of each week
    for week in range(3):
        for i in rush:
            series[T0 + week * SLOTS_PER_WEEK + i] = 20
    second_week = T0 + SLOTS_PER_WEEK
    actions, _ = run(series, second_week + 7 * 4, second_week + 13 * 4)
    assert actions == {}


@pytest.mark.parametrize(("level", "fires"), [("low", False), ("medium", True), ("high", True)])
def test_sensitivity_sets_how_big_a_jump_alerts(level: str, fires: bool) -> None:
    series = flat(10)
    slot = T0 + 10 * SLOTS_PER_DAY + 50
    series[slot] = 24  # 2.4x
    actions, _ = run(series, slot - 2, slot + 1, DetectorConfig(sensitivity=level))
    assert (actions.get(slot) == "open") is fires


def test_an_unknown_sensitivity_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="low, medium, high"):
        _ = DetectorConfig(sensitivity="paranoid").thresholds
