"""Full-jitter backoff and the retry decision per error kind."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listener.backoff import backoff_delay, retry_delay
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)


class _Top:
    """An rng that always picks the top of the range, to see the ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=0, max_value=100),
    cap=st.floats(min_value=0, max_value=10_000),
    seed=st.integers(),
)
def test_backoff_delay_stays_between_zero_and_the_capped_exponential(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    delay = backoff_delay(attempt, base, cap, random.Random(seed))
    ceiling = cap if attempt >= 64 else min(cap, base * 2.0**attempt)
    assert 0.0 <= delay <= ceiling


def test_backoff_ceiling_doubles_per_attempt_until_the_cap() -> None:
    top = _Top()
    assert [backoff_delay(n, 1.0, 10.0, top) for n in range(6)] == [1, 2, 4, 8, 10, 10]


def test_backoff_is_jittered_so_workers_do_not_retry_in_lockstep() -> None:
    rng = random.Random(7)
    delays = {round(backoff_delay(5, 1.0, 300.0, rng), 6) for _ in range(20)}
    assert len(delays) == 20


def test_backoff_rejects_negative_attempts() -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1)


def test_retry_delay_waits_at_least_what_the_platform_asked() -> None:
    error = RateLimited("slow down", retry_after=120.0)
    for seed in range(20):
        delay = retry_delay(error, 0, rng=random.Random(seed))
        assert delay is not None
        assert 120.0 <= delay <= 132.0


def test_retry_delay_gives_up_on_auth_and_permanent_errors() -> None:
    assert retry_delay(AuthError("bad token"), 0) is None
    assert retry_delay(PermanentSourceError("locked"), 3) is None


def test_retry_delay_backs_off_on_transient_and_malformed_errors() -> None:
    top = _Top()
    assert retry_delay(TransientSourceError("500"), 3, base=2.0, rng=top) == 16.0
    assert retry_delay(MalformedPayloadError("cut"), 0, base=2.0, rng=top) == 2.0
