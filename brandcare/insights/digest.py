"""A brand's digest for a day or a week: volume, sentiment, issues, reach, response.

Built from ``store.aggregates`` (SQL on SQLite and PostgreSQL); the values here are
plain and frozen so the renderers and the web page share them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from brandcare.store import aggregates
from brandcare.store.models import BrandRow, MentionRow, QueryRow, ScoreRow, utcnow

PERIODS = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}
SENTIMENTS = ("negative", "neutral", "positive")


class DigestError(ValueError):
    """The digest cannot be built as asked (unknown brand or period)."""


@dataclass(frozen=True)
class Example:
    """A mention shown in the digest, with what a reader needs to judge it."""

    mention_id: int
    author: str
    followers: int
    platform: str
    text: str
    url: str
    sentiment: str
    issue: str


@dataclass(frozen=True)
class IssueLine:
    issue: str
    count: int
    previous: int
    negative: int
    examples: tuple[Example, ...] = ()

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class Digest:
    brand: str
    brand_name: str
    period: str
    start: dt.datetime
    end: dt.datetime
    total: int
    previous_total: int
    sentiment: dict[str, int]
    previous_sentiment: dict[str, int]
    #: Platform -> sentiment -> mentions; every platform the brand watches is here, with
    #: zeros when it brought nothing (a quiet account is news too).
    by_platform: dict[str, dict[str, int]]
    issues: tuple[IssueLine, ...]
    reached_negative: tuple[Example, ...]
    response: aggregates.ResponseStats
    sla_minutes: int
    #: (bucket start, sentiment -> count) for the chart, oldest first.
    timeline: tuple[tuple[dt.datetime, dict[str, int]], ...] = field(default=())

    @staticmethod
    def net(sentiment: dict[str, int]) -> float:
        """Net sentiment: positive minus negative share, in points (-100 to 100)."""
        total = sum(sentiment.values())
        if not total:
            return 0.0
        return 100 * (sentiment.get("positive", 0) - sentiment.get("negative", 0)) / total

    def share(self, sentiment: str) -> float:
        return self.sentiment.get(sentiment, 0) / self.total if self.total else 0.0


def _example(m: MentionRow, s: ScoreRow) -> Example:
    return Example(
        m.id, m.author_handle, m.author_followers or 0, m.platform, m.text, m.url,
        s.sentiment, s.issue,
    )  # fmt: skip


def period_bounds(period: str, end: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The period ending at ``end`` (default: the last full hour), as [start, end)."""
    if period not in PERIODS:
        raise DigestError(f"unknown period {period!r}; use day or week")
    end = end or utcnow().replace(minute=0, second=0, microsecond=0)
    return end - PERIODS[period], end


def build(
    session: Session, brand_slug: str, period: str, *, end: dt.datetime | None = None
) -> Digest:
    """The digest of ``brand_slug`` for the ``period`` ending at ``end``.

    Two grouped scans carry every count (this period by platform, sentiment, issue and
    time bucket; the previous one by sentiment and issue): at a million mentions a
    month each scan is seconds, so the digest does not repeat them per figure.
    """
    brand = session.scalars(select(BrandRow).where(BrandRow.slug == brand_slug)).first()
    if brand is None:
        known = ", ".join(session.scalars(select(BrandRow.slug).order_by(BrandRow.slug)))
        raise DigestError(f"no brand {brand_slug!r}; known brands: {known or 'none'}")
    start, stop = period_bounds(period, end)
    before = start - (stop - start)
    bucket_seconds = 3600 if period == "day" else 86400
    bucket = aggregates.epoch_bucket(session, MentionRow.created_at, bucket_seconds)
    now_rows = aggregates.counts_by(
        session, brand.id, start, stop, MentionRow.platform, ScoreRow.sentiment, ScoreRow.issue,
        bucket,
    )  # fmt: skip
    then_rows = aggregates.counts_by(
        session, brand.id, before, start, ScoreRow.sentiment, ScoreRow.issue
    )
    sentiment: Counter[str] = Counter()
    platforms: dict[str, Counter[str]] = defaultdict(Counter)
    watched = select(QueryRow.platform).where(
        QueryRow.brand_id == brand.id, QueryRow.enabled.is_(True)
    )
    for platform in session.scalars(watched.distinct()):
        platforms[platform] = Counter()
    issues_now: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    timeline: dict[int, Counter[str]] = defaultdict(Counter)
    for platform, label, issue, b, n in now_rows:
        sentiment[label] += n
        platforms[platform][label] += n
        issues_now[issue] += n
        negative[issue] += n if label == "negative" else 0
        timeline[int(b)][label] += n
    previous: Counter[str] = Counter()
    issues_then: Counter[str] = Counter()
    for label, issue, n in then_rows:
        previous[label] += n
        issues_then[issue] += n
    first, last = (
        int(start.timestamp()) // bucket_seconds,
        (int(stop.timestamp()) - 1) // bucket_seconds,
    )
    series = tuple(
        (dt.datetime.fromtimestamp(b * bucket_seconds, dt.UTC), dict(timeline.get(b, {})))
        for b in range(first, last + 1)
    )
    top_negative, by_issue = aggregates.top_per_issue(session, brand.id, start, stop)
    reached = tuple(_example(m, s) for m, s in top_negative)
    return Digest(
        brand=brand.slug,
        brand_name=brand.name,
        period=period,
        start=start,
        end=stop,
        total=sum(sentiment.values()),
        previous_total=sum(previous.values()),
        sentiment=dict(sentiment),
        previous_sentiment=dict(previous),
        by_platform={p: dict(c) for p, c in platforms.items()},
        issues=_issues(issues_now, issues_then, negative, by_issue),
        reached_negative=reached,
        response=aggregates.response_stats(
            session, brand.id, start, stop, brand.sla_minutes, min(utcnow(), stop)
        ),
        sla_minutes=brand.sla_minutes,
        timeline=series,
    )


def _issues(
    now: Counter[str],
    then: Counter[str],
    negative: Counter[str],
    examples: dict[str, list[tuple[MentionRow, ScoreRow]]],
) -> tuple[IssueLine, ...]:
    """The issues by volume, with a couple of the most-reached mentions for the top five."""
    ranked = sorted(now, key=lambda i: (-now[i], i))
    return tuple(
        IssueLine(
            issue,
            now[issue],
            then.get(issue, 0),
            negative.get(issue, 0),
            tuple(_example(m, s) for m, s in examples.get(issue, []))
            if rank < 5 and issue not in ("none", "chatter")
            else (),
        )
        for rank, issue in enumerate(ranked)
    )
