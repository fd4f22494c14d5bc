"""The login throttle's windows, with a fake clock."""

from __future__ import annotations

from brandcare.web.throttle import MAX_KEYS, Limit, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_username_is_refused_after_its_failures_until_the_oldest_ages_out() -> None:
    clock = Clock()
    t = LoginThrottle(Limit(3, 60), Limit(100, 60), clock)
    for _ in range(3):
        assert t.retry_after("ana", "10.0.0.1") == 0
        t.failed("ana", "10.0.0.1")
        clock.now += 10
    assert t.retry_after("ana", "10.0.0.1") == 30  # first failure at 1000, now 1030
    assert t.retry_after("ANA ", "10.0.0.9") == 30  # same user, other address, other case
    assert t.retry_after("ben", "10.0.0.1") == 0
    clock.now += 30
    assert t.retry_after("ana", "10.0.0.1") == 0


def test_an_address_spraying_many_usernames_is_refused() -> None:
    t = LoginThrottle(Limit(3, 60), Limit(5, 60), Clock())
    for i in range(5):
        t.failed(f"user{i}", "10.0.0.1")
    assert t.retry_after("someone-new", "10.0.0.1") > 0
    assert t.retry_after("someone-new", "10.0.0.2") == 0


def test_success_clears_the_username_but_not_the_address() -> None:
    t = LoginThrottle(Limit(2, 60), Limit(3, 60), Clock())
    t.failed("ana", "a")
    t.failed("ana", "a")
    t.succeeded("ana")
    assert t.retry_after("ana", "b") == 0
    t.failed("ben", "a")
    assert t.retry_after("carl", "a") > 0


def test_memory_stays_bounded_under_a_spray() -> None:
    t = LoginThrottle(Limit(2, 60), Limit(10**9, 60), Clock())
    for i in range(MAX_KEYS + 100):
        t.failed(f"u{i}", "a")
    assert len(t._failures) <= MAX_KEYS
