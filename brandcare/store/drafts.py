"""Drafts: one per mention, moved by compare-and-set, queued for agents most urgent first."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from brandcare.store.events import SYSTEM, add_event
from brandcare.store.models import (
    DRAFT_STATES,
    MENTION_STATES,
    DraftRow,
    EventRow,
    MentionRow,
    ScoreRow,
    utcnow,
)
from brandcare.store.scores import latest_score_of_mention
from brandcare.store.sql import checked, dialect_insert, expire_cached

log = logging.getLogger(__name__)

_draft_t: Table = DraftRow.__table__  # type: ignore[assignment]
_event_t: Table = EventRow.__table__  # type: ignore[assignment]


#: Draft columns a transition may set besides the state.
TRANSITION_FIELDS = frozenset(
    {
        "text",
        "template",
        "skip_reason",
        "reject_reason",
        "failure_reason",
        "approved_by",
        "approved_at",
        "edited_by",
        "first_approved_by",
        "first_approved_at",
    }
)


@dataclass(frozen=True, slots=True)
class NewDraft:
    """A mention's first draft, ready to store (see ``create_drafts``)."""

    mention_id: int
    text: str
    template: str | None = None
    state: Literal["pending", "skipped"] = "pending"
    skip_reason: str | None = None
    #: The remembered reply (``reply_memory`` id) the text was adapted from.
    based_on: int | None = None
    #: Why drafting failed (the text is then empty): the pipeline sets the mention aside.
    error: str | None = None


def create_draft(
    session: Session,
    mention_id: int,
    text: str,
    *,
    template: str | None = None,
    state: Literal["pending", "skipped"] = "pending",
    skip_reason: str | None = None,
    actor: str = SYSTEM,
) -> int | None:
    """Create the one draft of a mention; None if it already has one (see ``create_drafts``)."""
    draft = NewDraft(mention_id, text, template=template, state=state, skip_reason=skip_reason)
    return create_drafts(session, [draft], actor=actor).get(mention_id)


def create_drafts(
    session: Session, drafts: Sequence[NewDraft], *, actor: str = SYSTEM
) -> dict[int, int]:
    """Create each mention's one draft; return mention id -> id of the drafts created.

    ``ON CONFLICT (mention_id) DO NOTHING``: drafting twice (a redelivered message, two
    workers) leaves the first draft and any agent edits alone, and leaves that mention
    out of the result. Trolling gets a ``skipped`` draft with the reason agents see (and
    can override). Every created draft gets its ``draft.created`` event, the start of
    its audit log. Two executemany statements for the whole batch: a round trip and a
    statement per draft cost more than the drafting.
    """
    if not drafts:
        return {}
    now = utcnow()
    by_mention = {d.mention_id: d for d in drafts}
    rows = [
        {
            "mention_id": d.mention_id,
            "text": d.text,
            "original_text": d.text,
            "template": d.template,
            "state": d.state,
            "skip_reason": d.skip_reason,
            "based_on": d.based_on,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for d in sorted(by_mention.values(), key=lambda d: d.mention_id)  # lock order
    ]
    stmt = (
        dialect_insert(session, _draft_t)
        .on_conflict_do_nothing(index_elements=["mention_id"])
        .returning(_draft_t.c.mention_id, _draft_t.c.id)
    )
    created = {
        int(mention_id): int(draft_id) for mention_id, draft_id in session.execute(stmt, rows)
    }
    if not created:
        return {}
    events = [
        {
            "at": now,
            "actor": actor,
            "action": "draft.created",
            "mention_id": mention_id,
            "draft_id": draft_id,
            "detail": _created_detail(by_mention[mention_id]),
        }
        for mention_id, draft_id in sorted(created.items())
    ]
    session.execute(dialect_insert(session, _event_t), events)
    return created


def _created_detail(draft: NewDraft) -> dict[str, Any]:
    """What a ``draft.created`` event records: the state, template and any skip reason."""
    detail: dict[str, Any] = {"state": draft.state, "template": draft.template}
    if draft.skip_reason is not None:
        detail["skip_reason"] = draft.skip_reason
    if draft.based_on is not None:
        detail["based_on"] = draft.based_on
    return detail


def transition_draft(
    session: Session,
    draft_id: int,
    from_states: Collection[str],
    to_state: str,
    actor: str,
    *,
    version: int | None = None,
    **fields: Any,
) -> bool:
    """Move a draft to ``to_state`` if it is in one of ``from_states``; True if it moved.

    One conditional UPDATE (compare-and-set): of two workers or two clicks racing from
    the same state exactly one wins, and the loser gets False instead of a double send.
    ``version``, when given, must match too: a decision made on what the draft was
    then (a requeue's check of the platform) must not land if the draft moved since,
    even if it came back to the same state.
    ``fields`` (see ``TRANSITION_FIELDS``) are set in the same statement; the winner
    appends a ``draft.<to_state>`` event. Which transitions are legal is the business
    of ``responders.approval``.
    """
    if to_state not in DRAFT_STATES:
        raise ValueError(f"unknown draft state {to_state!r}; expected one of {DRAFT_STATES}")
    unknown = set(fields) - TRANSITION_FIELDS
    if unknown:
        raise TypeError(
            f"transition_draft cannot set {sorted(unknown)}; allowed: {sorted(TRANSITION_FIELDS)}"
        )
    where = [_draft_t.c.id == draft_id, checked(_draft_t.c.state).in_(list(from_states))]
    if version is not None:
        where.append(_draft_t.c.version == version)
    stmt = (
        update(_draft_t)
        .where(*where)
        .values(
            state=to_state,
            updated_at=utcnow(),
            # Bump the ORM's optimistic lock too: an agent's stale edit must not land.
            version=_draft_t.c.version + 1,
            **fields,
        )
        .returning(_draft_t.c.mention_id)
    )
    mention_id = session.execute(stmt).scalar_one_or_none()
    if mention_id is None:
        return False
    expire_cached(session, DraftRow, [draft_id])
    add_event(
        session,
        actor,
        f"draft.{to_state}",
        mention_id=int(mention_id),
        draft_id=draft_id,
        detail={"from": sorted(from_states), "to": to_state, **fields},
    )
    log.info("draft %d -> %s by %s", draft_id, to_state, actor)
    return True


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A pending draft with the mention it answers and that mention's latest score."""

    draft: DraftRow
    mention: MentionRow
    score: ScoreRow | None


def pending_queue(
    session: Session, limit: int = 50, *, brand_id: int | None = None
) -> list[QueueEntry]:
    """Pending drafts in the order agents should handle them.

    Most urgent first, then the author with the larger reach, then the oldest post;
    urgency comes from the mention's latest score. Posts deleted on the platform are
    left out: there is nothing left to answer.
    """
    stmt = (
        select(DraftRow, MentionRow, ScoreRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .outerjoin(ScoreRow, latest_score_of_mention())
        .where(DraftRow.state == "pending", MentionRow.deleted_at.is_(None))
        .order_by(
            func.coalesce(ScoreRow.urgency, -1.0).desc(),
            func.coalesce(MentionRow.author_followers, 0).desc(),
            MentionRow.created_at.asc(),
            DraftRow.id.asc(),
        )
        .limit(limit)
    )
    if brand_id is not None:
        stmt = stmt.where(MentionRow.brand_id == brand_id)
    return [QueueEntry(draft, mention, score) for draft, mention, score in session.execute(stmt)]


def count_by_state(
    session: Session, what: Literal["mentions", "drafts"], *, brand_id: int | None = None
) -> dict[str, int]:
    """How many mentions or drafts are in each state (every state listed, zeros too)."""
    if what == "mentions":
        stmt = select(MentionRow.state, func.count()).group_by(MentionRow.state)
        if brand_id is not None:
            stmt = stmt.where(MentionRow.brand_id == brand_id)
        counts = dict.fromkeys(MENTION_STATES, 0)
    elif what == "drafts":
        stmt = select(DraftRow.state, func.count()).group_by(DraftRow.state)
        if brand_id is not None:
            stmt = stmt.join(MentionRow, MentionRow.id == DraftRow.mention_id).where(
                MentionRow.brand_id == brand_id
            )
        counts = dict.fromkeys(DRAFT_STATES, 0)
    else:
        raise ValueError(f"count_by_state counts 'mentions' or 'drafts', not {what!r}")
    for state, n in session.execute(stmt):
        counts[state] = int(n)
    return counts
