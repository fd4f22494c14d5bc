"""The scheduler keeps each free platform's request budget: Mastodon's per account,
Bluesky's per address (the deployment), beside Reddit's per app (tested with the
credentials); a poll that does not fit waits for the next window, and nothing costs money."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.pipeline import schedule
from brandcare.pipeline.base import Prices
from brandcare.pipeline.schedule import Enqueue, Scheduler
from brandcare.store import transaction
from brandcare.store.models import QueryRow
from listener.registry import RequestBudget, request_budget

#: A window's start: the windows are the epoch's 5-minute slices.
T0 = dt.datetime(2026, 1, 5, 12, 0, 0, tzinfo=dt.UTC)


Spec = dict[str, tuple[str | None, str, int]]


def _brands(sessions, spec: Spec) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    """slug -> (profile, platform, queries): the brands, and each one's query ids."""
    specs = [
        BrandSpec(slug=slug, name=slug.title(), credentials=profile, queries=[
            QuerySpec(platform=platform, kind="search", terms=f"{slug} {n}")
            for n in range(count)
        ])
        for slug, (profile, platform, count) in spec.items()
    ]  # fmt: skip
    with transaction(sessions) as s:
        ids = apply_brands(s, specs)
        rows = list(s.scalars(select(QueryRow)))
    return {slug: [q.id for q in rows if q.brand_id == ids[slug]] for slug in spec}


def _scheduler(sessions, polled: list[int], clock: list[dt.datetime]) -> Scheduler:  # type: ignore[no-untyped-def]
    return Scheduler(sessions, Enqueue(polled.append, print, print, print), clock=lambda: clock[0])


def test_the_free_platforms_budgets_are_their_apis_published_limits() -> None:
    assert request_budget("mastodon") == RequestBudget(300, 300, per="account", reserve=60)
    assert request_budget("bluesky") == RequestBudget(3000, 300, per="address", reserve=600)
    assert request_budget("bsky") == request_budget("bluesky")
    assert request_budget("twitter") is None  # paid per read: budgets in USD
    assert request_budget("replay") is None
    prices = Prices()
    for platform in ("mastodon", "bluesky", "reddit"):
        assert prices.read_cost(platform, 1_000) == 0.0
        assert prices.post_cost(platform) == 0.0
    assert prices.read_cost("twitter", 1_000) == pytest.approx(5.0)


def test_polls_on_one_mastodon_account_share_its_300_requests_and_another_account_has_its_own(
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    """240 of the 300 are for polls (2 each, at most, as a rule): 120 polls a window."""
    queries = _brands(sessions, {
        "acme": ("shared", "mastodon", 100),
        "beta": ("shared", "mastodon", 30),
        "gamma": ("gamma", "mastodon", 3),
    })  # fmt: skip
    polled: list[int] = []
    clock = [T0 + dt.timedelta(seconds=10)]
    scheduler = _scheduler(sessions, polled, clock)
    scheduler.tick()
    shared = set(queries["acme"]) | set(queries["beta"])
    assert len(shared & set(polled)) == 120  # ten wait for the next window
    assert set(queries["gamma"]) <= set(polled)  # an account of its own
    clock[0] = T0 + dt.timedelta(minutes=5, seconds=5)  # the next window; none polled is due
    scheduler.tick()
    assert shared <= set(polled)
    assert len(polled) == len(set(polled)) == 133


def test_polls_on_bluesky_share_one_budget_whatever_their_accounts(
    sessions,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3,000 requests per 5 minutes per IP address: every Bluesky account polled from this
    deployment draws on one (here made small: 4 polls a window)."""
    small = RequestBudget(12, 300, per="address", reserve=4)
    monkeypatch.setattr(
        schedule, "request_budget", lambda p: small if p == "bluesky" else request_budget(p)
    )
    queries = _brands(sessions, {
        "acme": ("acme", "bluesky", 3),
        "beta": ("beta", "bluesky", 3),
        "xeta": (None, "twitter", 2),
    })  # fmt: skip
    polled: list[int] = []
    clock = [T0]
    scheduler = _scheduler(sessions, polled, clock)
    scheduler.tick()
    on_bluesky = set(queries["acme"]) | set(queries["beta"])
    assert len(on_bluesky & set(polled)) == 4
    assert set(queries["xeta"]) <= set(polled)  # X has no request budget to keep
    clock[0] = T0 + dt.timedelta(minutes=5)
    scheduler.tick()
    assert on_bluesky <= set(polled)
