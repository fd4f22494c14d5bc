"""Login throttling: failed sign-ins per username and per client address.

Argon2id makes each guess slow, but an attacker with time still guesses: after
``max_failures`` failures in ``window`` a username (known or not, so the answer does
not reveal which exist) is refused until the oldest failure ages out. The address
limit is higher, because an office shares one address. The check runs before the
password is hashed, so a flood of guesses cannot pin the CPU with Argon2 either.

The counts live in this process: one web process (the compose file runs one) sees
every attempt. Behind several web processes, each counts alone, so the proxy in
front should rate-limit ``POST /login`` as well (docs/security.md, "Threat model").
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    max_failures: int
    window_seconds: float


#: Per username: five wrong passwords in fifteen minutes.
USER_LIMIT = Limit(5, 15 * 60)
#: Per client address: thirty in fifteen minutes (offices share addresses).
ADDRESS_LIMIT = Limit(30, 15 * 60)
#: Keys remembered at most; the oldest go first, so memory stays bounded under a spray.
MAX_KEYS = 50_000


class LoginThrottle:
    """Sliding-window failure counts; thread-safe (FastAPI runs sync routes in threads)."""

    def __init__(
        self,
        user_limit: Limit = USER_LIMIT,
        address_limit: Limit = ADDRESS_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"user": user_limit, "addr": address_limit}
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("user", username.strip().casefold()), ("addr", address)]

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this sign-in may be tried again; 0 when it may be tried now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in self._keys(username, address):
                times = self._recent(key, now)
                limit = self._limits[key[0]]
                if times is not None and len(times) >= limit.max_failures:
                    wait = max(wait, times[0] + limit.window_seconds - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(username, address):
                times = self._recent(key, now) or deque()
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        """A right password clears the username's count (not the address's)."""
        with self._lock:
            self._failures.pop(("user", username.strip().casefold()), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        horizon = now - self._limits[key[0]].window_seconds
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
