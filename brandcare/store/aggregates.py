"""Counts for digests and spike alerts, computed by the database.

Every number is a SQL aggregate over indexed columns that runs the same on SQLite and
PostgreSQL: the database sums a million mentions faster than Python can read them. A
mention counts with its latest score (a rescore by a newer model replaces the old
one), expressed as "no newer score exists", which the (mention, model version) index
answers without a sort.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, cast, func, select
from sqlalchemy.orm import Session

from brandcare.store.models import DraftRow, MentionRow, ReplyRow, ScoreRow
from brandcare.store.scores import latest_score_of_mention


def epoch_bucket(session: Session, column: Any, seconds: int) -> ColumnElement[int]:
    """``column`` (a timestamp) as a bucket number: whole ``seconds`` since the epoch."""
    if session.get_bind().dialect.name == "sqlite":
        epoch = cast(func.strftime("%s", column), Integer)
        return epoch // seconds
    return cast(func.floor(func.extract("epoch", column) / seconds), BigInteger)


def _scored(brand_id: int, start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    return and_(
        MentionRow.brand_id == brand_id,
        MentionRow.created_at >= start,
        MentionRow.created_at < end,
        latest_score_of_mention(),
    )


def negative_series(
    session: Session,
    brand_id: int,
    start: dt.datetime,
    end: dt.datetime,
    window_seconds: int,
    *,
    issue: str | None = None,
) -> dict[int, int]:
    """Negative mentions per window (bucket number -> count); empty windows are absent."""
    bucket = epoch_bucket(session, MentionRow.created_at, window_seconds).label("bucket")
    stmt = (
        select(bucket, func.count())
        .select_from(MentionRow)
        .join(ScoreRow, ScoreRow.mention_id == MentionRow.id)
        .where(_scored(brand_id, start, end), ScoreRow.sentiment == "negative")
        .group_by(bucket)
    )
    if issue is not None:
        stmt = stmt.where(ScoreRow.issue == issue)
    return {int(b): int(n) for b, n in session.execute(stmt)}


def counts_by(
    session: Session,
    brand_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *columns: Any,
    sentiment: str | None = None,
) -> list[tuple[Any, ...]]:
    """Mention counts grouped by ``columns`` (of mention or score), as (keys..., count)."""
    stmt = (
        select(*columns, func.count())
        .select_from(MentionRow)
        .join(ScoreRow, ScoreRow.mention_id == MentionRow.id)
        .where(_scored(brand_id, start, end))
        .group_by(*columns)
    )
    if sentiment is not None:
        stmt = stmt.where(ScoreRow.sentiment == sentiment)
    return [tuple(row) for row in session.execute(stmt)]


def top_per_issue(
    session: Session,
    brand_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    per_issue: int = 2,
    negative: int = 5,
) -> tuple[list[tuple[MentionRow, ScoreRow]], dict[str, list[tuple[MentionRow, ScoreRow]]]]:
    """The most-reached negative mentions, and the most-reached mentions of each issue.

    One scan with window functions (SQLite 3.25+ and PostgreSQL) instead of one sorted
    scan per issue: at a week of a million-a-month brand that is seconds saved per issue.
    """
    reach = func.coalesce(MentionRow.author_followers, 0)
    order = (reach.desc(), MentionRow.created_at.desc(), MentionRow.id)
    ranked = (
        select(
            MentionRow.id.label("mention_id"),
            ScoreRow.id.label("score_id"),
            func.row_number().over(partition_by=ScoreRow.issue, order_by=order).label("in_issue"),
            func.row_number()
            .over(partition_by=ScoreRow.sentiment, order_by=order)
            .label("in_sentiment"),
        )
        .select_from(MentionRow)
        .join(ScoreRow, ScoreRow.mention_id == MentionRow.id)
        .where(_scored(brand_id, start, end), MentionRow.deleted_at.is_(None))
        .subquery()
    )
    rows = session.execute(
        select(MentionRow, ScoreRow, ranked.c.in_issue, ranked.c.in_sentiment)
        .join(ranked, ranked.c.mention_id == MentionRow.id)
        .join(ScoreRow, ScoreRow.id == ranked.c.score_id)
        .where(
            (ranked.c.in_issue <= per_issue)
            | ((ScoreRow.sentiment == "negative") & (ranked.c.in_sentiment <= negative))
        )
        .order_by(reach.desc(), MentionRow.created_at.desc(), MentionRow.id)
    ).all()
    top_negative = [(m, s) for m, s, _, k in rows if s.sentiment == "negative" and k <= negative]
    by_issue: dict[str, list[tuple[MentionRow, ScoreRow]]] = {}
    for m, s, k, _ in rows:
        if k <= per_issue:
            by_issue.setdefault(s.issue, []).append((m, s))
    return top_negative, by_issue


@dataclass(frozen=True)
class ResponseStats:
    """How the care team answered the period's mentions."""

    needing_reply: int  # drafts for the period's mentions that were not skipped as trolling
    answered: int  # of those, sent
    first_response_minutes: list[float]  # per sent reply, posted -> reply
    breaches: int  # sent after the SLA, or still unanswered past it

    @property
    def answered_share(self) -> float:
        return self.answered / self.needing_reply if self.needing_reply else 0.0

    @property
    def median_minutes(self) -> float | None:
        times = sorted(self.first_response_minutes)
        if not times:
            return None
        mid = len(times) // 2
        return times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2


def response_stats(
    session: Session,
    brand_id: int,
    start: dt.datetime,
    end: dt.datetime,
    sla_minutes: int,
    now: dt.datetime,
) -> ResponseStats:
    """Answered share, first-response times and SLA breaches for the period's mentions.

    Counts come from SQL; the per-reply durations are read (one row per reply sent, a
    small set next to the mentions) so the median is exact on both databases.
    """
    in_period = and_(
        MentionRow.brand_id == brand_id,
        MentionRow.created_at >= start,
        MentionRow.created_at < end,
        DraftRow.mention_id == MentionRow.id,
    )
    needing = session.scalar(
        select(func.count())
        .select_from(DraftRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .where(in_period, DraftRow.state.not_in(("skipped", "rejected")))
    )
    rows = session.execute(
        select(MentionRow.created_at, ReplyRow.posted_at)
        .select_from(ReplyRow)
        .join(DraftRow, DraftRow.id == ReplyRow.draft_id)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .where(in_period, ReplyRow.state == "posted", ReplyRow.posted_at.is_not(None))
    ).all()
    minutes = [(posted - created).total_seconds() / 60 for created, posted in rows if posted]
    deadline = now - dt.timedelta(minutes=sla_minutes)
    waiting_late = session.scalar(
        select(func.count())
        .select_from(DraftRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .where(
            in_period,
            DraftRow.state.in_(("pending", "approved", "sending")),
            MentionRow.created_at < deadline,
        )
    )
    late = sum(1 for m in minutes if m > sla_minutes) + int(waiting_late or 0)
    return ResponseStats(int(needing or 0), len(minutes), minutes, late)
