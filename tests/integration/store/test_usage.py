"""API usage adds up per query (or per brand), platform and day, for budgets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.store import transaction
from brandcare.store.models import ApiUsageRow
from brandcare.store.usage import record_usage, usage_cost_since, usage_since

DAY = dt.date(2026, 11, 2)


def test_usage_adds_up_per_query_and_day(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    for _ in range(2):
        with transaction(factory) as session:
            record_usage(
                session,
                brand_id=brand_id,
                query_id=query_id,
                platform="twitter",
                day=DAY,
                requests=1,
                reads=40,
                est_cost_usd=0.2,
            )
    with transaction(factory) as session:
        record_usage(
            session,
            brand_id=brand_id,
            query_id=query_id,
            platform="twitter",
            day=DAY.replace(day=1),
            requests=1,
            est_cost_usd=1.0,
        )
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ApiUsageRow)) == 2
        totals = usage_since(session, DAY, query_id=query_id)
        assert (totals.requests, totals.reads, totals.posts) == (2, 80, 0)
        assert abs(totals.est_cost_usd - 0.4) < 1e-9
        assert abs(usage_cost_since(session, DAY.replace(day=1), brand_id=brand_id) - 1.4) < 1e-9


def test_usage_without_a_query_adds_up_per_brand(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        for _ in range(3):
            record_usage(
                session, brand_id=brand_id, platform="twitter", day=DAY, posts=1, est_cost_usd=0.01
            )
        record_usage(
            session, brand_id=brand_id, query_id=query_id, platform="twitter", day=DAY, requests=1
        )
        record_usage(session, brand_id=brand_id, platform="reddit", day=DAY, posts=1)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ApiUsageRow)) == 3
        twitter = usage_since(session, DAY, brand_id=brand_id, platform="twitter")
        assert (twitter.requests, twitter.posts) == (1, 3)
        assert abs(twitter.est_cost_usd - 0.03) < 1e-9
        assert usage_since(session, DAY + dt.timedelta(days=1)).requests == 0
        assert usage_cost_since(session, DAY + dt.timedelta(days=1)) == 0.0
