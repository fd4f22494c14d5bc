"""API usage and its estimated cost per brand, query and day: polls and sends add, budgets read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from brandcare.store.models import ApiUsageRow
from brandcare.store.sql import dialect_insert

_usage_t: Table = ApiUsageRow.__table__  # type: ignore[assignment]


def record_usage(
    session: Session,
    *,
    brand_id: int,
    platform: str,
    day: dt.date,
    query_id: int | None = None,
    requests: int = 0,
    reads: int = 0,
    posts: int = 0,
    est_cost_usd: float = 0.0,
) -> None:
    """Add API calls and their estimated cost to the day's counters.

    Per query when ``query_id`` is given (polling), else per brand (posting replies).
    One atomic upsert, so concurrent workers add up instead of overwriting.
    """
    stmt = dialect_insert(session, _usage_t).values(
        brand_id=brand_id,
        query_id=query_id,
        platform=platform,
        day=day,
        requests=requests,
        reads=reads,
        posts=posts,
        est_cost_usd=est_cost_usd,
    )
    if query_id is None:
        target = ["brand_id", "platform", "day"]
        where = _usage_t.c.query_id.is_(None)
    else:
        target = ["query_id", "platform", "day"]
        where = _usage_t.c.query_id.is_not(None)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=target,
            index_where=where,
            set_={
                "requests": _usage_t.c.requests + stmt.excluded.requests,
                "reads": _usage_t.c.reads + stmt.excluded.reads,
                "posts": _usage_t.c.posts + stmt.excluded.posts,
                "est_cost_usd": _usage_t.c.est_cost_usd + stmt.excluded.est_cost_usd,
            },
        )
    )


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """API usage summed over a period."""

    requests: int
    reads: int
    posts: int
    est_cost_usd: float


def usage_since(
    session: Session,
    since: dt.date,
    *,
    brand_id: int | None = None,
    query_id: int | None = None,
    platform: str | None = None,
) -> UsageTotals:
    """Requests, reads, posts and estimated cost from ``since`` (inclusive) to today."""
    stmt = select(
        func.coalesce(func.sum(_usage_t.c.requests), 0),
        func.coalesce(func.sum(_usage_t.c.reads), 0),
        func.coalesce(func.sum(_usage_t.c.posts), 0),
        func.coalesce(func.sum(_usage_t.c.est_cost_usd), 0.0),
    ).where(_usage_t.c.day >= since)
    if brand_id is not None:
        stmt = stmt.where(_usage_t.c.brand_id == brand_id)
    if query_id is not None:
        stmt = stmt.where(_usage_t.c.query_id == query_id)
    if platform is not None:
        stmt = stmt.where(_usage_t.c.platform == platform)
    requests, reads, posts, cost = session.execute(stmt).one()
    return UsageTotals(int(requests), int(reads), int(posts), float(cost))


def usage_cost_since(
    session: Session,
    since: dt.date,
    *,
    brand_id: int | None = None,
    query_id: int | None = None,
    platform: str | None = None,
) -> float:
    """Estimated USD spent from ``since`` (inclusive): what budgets are checked against."""
    return usage_since(
        session, since, brand_id=brand_id, query_id=query_id, platform=platform
    ).est_cost_usd
