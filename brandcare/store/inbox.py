"""What the social care inbox reads: filtered lanes of drafts, a draft's context, claims.

Read models only (plus claims, which are bookkeeping, not draft state): every state
change still goes through ``drafts.transition_draft``. Each function is one or two
statements so the inbox stays fast with a long history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    Table,
    and_,
    cast,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from brandcare.store.models import (
    BrandRow,
    CorrectionRow,
    DraftRow,
    EventRow,
    MentionRow,
    ReplyRow,
    ScoreRow,
    utcnow,
)
from brandcare.store.scores import latest_score_of_mention

_draft_t: Table = DraftRow.__table__  # type: ignore[assignment]

#: The statement every lane starts from (SQLAlchemy 2.1's variadic ``Select``).
_Lane: TypeAlias = "Select[DraftRow, MentionRow, ScoreRow, BrandRow, ReplyRow]"

#: The lanes of the inbox: each is a set of draft states.
LANES: dict[str, tuple[str, ...]] = {
    "pending": ("pending",),
    "skipped": ("skipped",),
    "approved": ("approved", "sending"),
    "sent": ("sent",),
    "failed": ("failed",),
    "rejected": ("rejected",),
    "all": ("pending", "approved", "sending", "sent", "failed", "rejected", "skipped"),
}


@dataclass(frozen=True)
class InboxFilter:
    """What an agent narrowed the inbox to; None means any."""

    lane: str = "pending"
    brand_id: int | None = None
    platform: str | None = None
    sentiment: str | None = None
    urgency_level: str | None = None
    text: str | None = None
    limit: int = 100
    #: ISO 639-1 code from the latest score: a speaker takes the posts in their language.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A draft with its mention, the mention's latest score, its brand and its reply."""

    draft: DraftRow
    mention: MentionRow
    score: ScoreRow | None
    brand: BrandRow
    reply: ReplyRow | None


@dataclass(frozen=True, slots=True)
class ThreadPost:
    """An earlier mention by the same author or in the same conversation."""

    mention: MentionRow
    draft_state: str | None
    relation: str  # "same author" or "same conversation"


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a draft, until when."""

    holder: str
    until: dt.datetime


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` literally (``%`` and ``_`` in searches are text)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _base() -> _Lane:
    return (
        select(DraftRow, MentionRow, ScoreRow, BrandRow, ReplyRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .join(BrandRow, BrandRow.id == MentionRow.brand_id)
        .outerjoin(ScoreRow, latest_score_of_mention())
        .outerjoin(ReplyRow, ReplyRow.draft_id == DraftRow.id)
    )


def _narrowing(f: InboxFilter) -> list[ColumnElement[bool]]:
    """The brand, platform, sentiment and urgency filters (the lanes' badges use these)."""
    conditions: list[ColumnElement[bool]] = []
    if f.brand_id is not None:
        conditions.append(MentionRow.brand_id == f.brand_id)
    if f.platform:
        conditions.append(MentionRow.platform == f.platform)
    if f.sentiment:
        conditions.append(ScoreRow.sentiment == f.sentiment)
    if f.urgency_level:
        conditions.append(ScoreRow.urgency_level == f.urgency_level)
    if f.language:
        conditions.append(ScoreRow.language == f.language)
    return conditions


def _filtered(stmt: _Lane, f: InboxFilter) -> _Lane:
    stmt = stmt.where(*_narrowing(f))
    if f.text and f.text.strip():
        pattern = _like(f.text.strip().lower())
        stmt = stmt.where(
            or_(
                func.lower(MentionRow.text).like(pattern, escape="\\"),
                func.lower(MentionRow.author_handle).like(pattern, escape="\\"),
                func.lower(DraftRow.text).like(pattern, escape="\\"),
            )
        )
    return stmt


def lane_items(session: Session, f: InboxFilter) -> list[InboxItem]:
    """One lane of the inbox, in the order agents should work it.

    Waiting lanes (pending, skipped) put the most urgent first, then the larger reach,
    then the longest wait; the others show the latest activity first. Posts deleted on
    the platform leave the waiting lanes: there is nothing left to answer.
    """
    states = LANES.get(f.lane)
    if states is None:
        raise ValueError(f"unknown lane {f.lane!r}; expected one of {', '.join(LANES)}")
    stmt = _filtered(_base().where(DraftRow.state.in_(states)), f)
    if f.lane in ("pending", "skipped"):
        stmt = stmt.where(MentionRow.deleted_at.is_(None)).order_by(
            # A mention set aside unscored (state error) could be anything: it counts as
            # most urgent until a person has read it, rather than sinking to the bottom.
            # Urgency to the two decimals the inbox shows, so that a visible tie ("high
            # 1.00" twice) is broken by what is also shown: reach, then the wait.
            func.round(cast(func.coalesce(ScoreRow.urgency, 1.0), Numeric(8, 6)), 2).desc(),
            func.coalesce(MentionRow.author_followers, 0).desc(),
            MentionRow.created_at.asc(),
            DraftRow.id.asc(),
        )
    else:
        stmt = stmt.order_by(DraftRow.updated_at.desc(), DraftRow.id.desc())
    rows = session.execute(stmt.limit(max(1, min(f.limit, 500))))
    return [InboxItem(d, m, s, b, r) for d, m, s, b, r in rows]


def lane_counts(session: Session, f: InboxFilter) -> dict[str, int]:
    """How many drafts each lane holds under the same filters (the lane tabs' badges)."""
    stmt = (
        select(DraftRow.state, func.count())
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .group_by(DraftRow.state)
    )
    if f.sentiment or f.urgency_level or f.language:  # only these filters need the score
        stmt = stmt.outerjoin(ScoreRow, latest_score_of_mention())
    stmt = stmt.where(*_narrowing(f))
    by_state = {str(state): int(n) for state, n in session.execute(stmt)}
    return {lane: sum(by_state.get(s, 0) for s in states) for lane, states in LANES.items()}


def item(session: Session, draft_id: int) -> InboxItem | None:
    """One draft with its context, or None."""
    row = session.execute(_base().where(DraftRow.id == draft_id)).first()
    if row is None:
        return None
    d, m, s, b, r = row
    return InboxItem(d, m, s, b, r)


def thread(session: Session, mention: MentionRow, limit: int = 10) -> list[ThreadPost]:
    """Earlier posts by the same author or in the same conversation, newest first."""
    same_author = and_(
        MentionRow.platform == mention.platform, MentionRow.author_id == mention.author_id
    )
    related = (
        or_(same_author, MentionRow.conversation_id == mention.conversation_id)
        if mention.conversation_id
        else same_author
    )
    stmt = (
        select(MentionRow, DraftRow.state)
        .outerjoin(DraftRow, DraftRow.mention_id == MentionRow.id)
        .where(related, MentionRow.id != mention.id, MentionRow.brand_id == mention.brand_id)
        .order_by(MentionRow.created_at.desc())
        .limit(limit)
    )
    return [
        ThreadPost(
            m,
            state,
            "same author"
            if (m.platform, m.author_id) == (mention.platform, mention.author_id)
            else "same conversation",
        )
        for m, state in session.execute(stmt)
    ]


def replies_in_thread(session: Session, draft: DraftRow, mention: MentionRow) -> list[DraftRow]:
    """Other drafts in this conversation that were approved or sent: answering again
    would give the customer two replies from the brand."""
    if not mention.conversation_id:
        return []
    stmt = (
        select(DraftRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .where(
            MentionRow.conversation_id == mention.conversation_id,
            MentionRow.platform == mention.platform,
            DraftRow.id != draft.id,
            DraftRow.state.in_(("approved", "sending", "sent")),
        )
        .order_by(DraftRow.updated_at.desc())
    )
    return list(session.scalars(stmt))


def audit_log(session: Session, mention_id: int, draft_id: int | None) -> list[EventRow]:
    """Everything that happened to a mention and its draft, oldest first."""
    cond = EventRow.mention_id == mention_id
    if draft_id is not None:
        cond = or_(cond, EventRow.draft_id == draft_id)
    return list(session.scalars(select(EventRow).where(cond).order_by(EventRow.at, EventRow.id)))


def corrections(session: Session, mention_id: int) -> list[CorrectionRow]:
    stmt = select(CorrectionRow).where(CorrectionRow.mention_id == mention_id)
    return list(session.scalars(stmt.order_by(CorrectionRow.at, CorrectionRow.id)))


def claim(
    session: Session, draft_id: int, user: str, ttl: dt.timedelta, now: dt.datetime | None = None
) -> Claim:
    """Hold a draft for ``user`` unless someone else holds it; returns the holder.

    One conditional UPDATE, so two agents opening the same draft at once cannot both
    get it. Re-opening extends one's own claim. Claims do not bump the draft's
    version: holding a draft is not changing it.
    """
    now = now or utcnow()
    session.execute(
        update(_draft_t)
        .where(
            _draft_t.c.id == draft_id,
            or_(
                _draft_t.c.claimed_by.is_(None),
                _draft_t.c.claimed_by == user,
                _draft_t.c.claimed_until <= now,
            ),
        )
        .values(claimed_by=user, claimed_until=now + ttl)
    )
    holder, until = session.execute(
        select(_draft_t.c.claimed_by, _draft_t.c.claimed_until).where(_draft_t.c.id == draft_id)
    ).one()
    session.expire_all()
    return Claim(str(holder), until if until.tzinfo else until.replace(tzinfo=dt.UTC))


def release(session: Session, draft_id: int, user: str) -> bool:
    """Let go of a draft one holds (after acting on it, or on leaving it); False when
    ``user`` held nothing to let go of (someone else's claim is left as it is)."""
    result = session.execute(
        update(_draft_t)
        .where(_draft_t.c.id == draft_id, _draft_t.c.claimed_by == user)
        .values(claimed_by=None, claimed_until=None)
    )
    session.expire_all()
    return bool(getattr(result, "rowcount", 0))


def held_by_other(draft: DraftRow, user: str, now: dt.datetime | None = None) -> Claim | None:
    """The live claim of someone else on ``draft``, if any."""
    now = now or utcnow()
    if draft.claimed_by and draft.claimed_by != user and draft.claimed_until:
        return Claim(draft.claimed_by, draft.claimed_until) if draft.claimed_until > now else None
    return None


def brands(session: Session) -> Sequence[BrandRow]:
    return list(session.scalars(select(BrandRow).order_by(BrandRow.name)))


def languages(session: Session) -> list[str]:
    """The languages scored mentions are in, for the inbox's filter."""
    return sorted(str(x) for x in session.scalars(select(ScoreRow.language).distinct()) if x)
