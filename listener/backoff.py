"""Retry delays for the app's poll and send schedulers: full-jitter backoff.

The sources never sleep or retry on their own (a worker blocked in a sleep serves no
other query); they raise a ``SourceError`` and the caller decides when to try again.
These pure helpers give that decision one shape everywhere.
"""

from __future__ import annotations

import random
from typing import Protocol

from listener.errors import AuthError, PermanentSourceError, RateLimited, SourceError


class UniformRng(Protocol):
    """The one method of ``random.Random`` the helpers need (so tests can pass a stub)."""

    def uniform(self, a: float, b: float) -> float:
        """A float in [a, b]."""
        ...


_DEFAULT_RNG = random.Random()


def backoff_delay(
    attempt: int,
    base: float = 1.0,
    cap: float = 300.0,
    rng: UniformRng | None = None,
) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry), full jitter.

    Full jitter (uniform in ``[0, min(cap, base * 2**attempt)]``) spreads many workers
    that failed together, so they do not hammer a recovering API in lockstep.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if base < 0 or cap < 0:
        raise ValueError(f"base and cap must be >= 0, got base={base} cap={cap}")
    # Cap the exponent before computing so a large attempt cannot overflow a float.
    ceiling = cap if attempt >= 64 else min(cap, base * (2.0**attempt))
    return (rng or _DEFAULT_RNG).uniform(0.0, ceiling)


def retry_delay(
    error: SourceError,
    attempt: int,
    base: float = 1.0,
    cap: float = 300.0,
    rng: UniformRng | None = None,
) -> float | None:
    """When to retry after ``error``, or None when retrying cannot help.

    A platform's own wait (``RateLimited.retry_after``) wins over our backoff, plus a
    little jitter so every query does not wake at the same instant; bad credentials
    and permanent refusals need a person, not another try.
    """
    if isinstance(error, AuthError | PermanentSourceError):
        return None
    if isinstance(error, RateLimited):
        spread = min(max(error.retry_after * 0.1, 1.0), 30.0)
        return max(error.retry_after, 0.0) + (rng or _DEFAULT_RNG).uniform(0.0, spread)
    return backoff_delay(attempt, base, cap, rng)
