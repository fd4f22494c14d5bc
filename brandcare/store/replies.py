"""What the send stage records (a reply row per draft, how it ended) and the sweep of lost work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from brandcare.store.models import DraftRow, MentionRow, ReplyRow, utcnow
from brandcare.store.sql import checked, dialect_insert, expire_cached

_draft_t: Table = DraftRow.__table__  # type: ignore[assignment]
_reply_t: Table = ReplyRow.__table__  # type: ignore[assignment]


def start_reply(session: Session, draft_id: int, platform: str) -> bool:
    """Record that a send of ``draft_id`` begins; False if one was already recorded.

    The idempotency key is derived from the draft, so a second attempt, from a retry or
    a second worker, finds the first one's row instead of creating another.
    """
    stmt = (
        dialect_insert(session, _reply_t)
        .values(
            draft_id=draft_id,
            idempotency_key=f"draft-{draft_id}",
            platform=platform,
            state="sending",
        )
        .on_conflict_do_nothing(index_elements=["draft_id"])
        .returning(_reply_t.c.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def finish_reply(
    session: Session,
    draft_id: int,
    *,
    state: Literal["posted", "unknown", "refused"],
    external_id: str | None = None,
    url: str | None = None,
    posted_at: dt.datetime | None = None,
) -> None:
    """Record how a send ended: the platform's id and link once posted; ``refused`` when
    the platform refused the post before acting on it (a rate limit), so nothing is in
    flight and the retry may post without waiting out the settle window."""
    session.execute(
        update(_reply_t)
        .where(_reply_t.c.draft_id == draft_id)
        .values(state=state, external_id=external_id, url=url, posted_at=posted_at)
    )


def reply_state(session: Session, draft_id: int) -> str | None:
    """How the draft's last send attempt ended (``REPLY_STATES``), or None before any."""
    return session.scalar(select(_reply_t.c.state).where(_reply_t.c.draft_id == draft_id))


@dataclass(frozen=True, slots=True)
class StaleWork:
    """Work whose message was lost or dead-lettered: the scheduler enqueues it again."""

    unscored: list[int]
    undrafted: list[int]
    unsent: list[int]


def stale_work(session: Session, before: dt.datetime, limit: int = 1000) -> StaleWork:
    """Mentions and drafts stuck in an intermediate state since before ``before``."""
    unscored = session.scalars(
        select(MentionRow.id)
        .where(
            MentionRow.state == "new",
            MentionRow.fetched_at < before,
            MentionRow.deleted_at.is_(None),
        )
        .order_by(MentionRow.id)
        .limit(limit)
    )
    undrafted = session.scalars(
        select(MentionRow.id)
        .where(MentionRow.state == "scored", MentionRow.fetched_at < before)
        .order_by(MentionRow.id)
        .limit(limit)
    )
    unsent = session.scalars(
        select(DraftRow.id)
        .where(DraftRow.state.in_(["approved", "sending"]), DraftRow.updated_at < before)
        .order_by(DraftRow.id)
        .limit(limit)
    )
    return StaleWork(list(unscored), list(undrafted), list(unsent))


def still_in_state(session: Session, mention_ids: list[int], state: str) -> list[int]:
    """Those of ``mention_ids`` in ``state`` now, in the given order."""
    if not mention_ids:
        return []
    found = set(
        session.scalars(
            select(MentionRow.id).where(
                MentionRow.id.in_(mention_ids), checked(MentionRow.state) == state
            )
        )
    )
    return [m for m in mention_ids if m in found]


def claim_send(session: Session, draft_id: int, version: int) -> bool:
    """Take over a draft stuck in ``sending`` for another attempt; True for one caller only.

    A compare-and-set on the draft's version: of two workers that read the same draft
    (a redelivered message and the scheduler's sweep, say) exactly one may retry it.
    The caller checks first that no attempt is in flight (see ``Pipeline.send``).
    """
    stmt = (
        update(_draft_t)
        .where(
            _draft_t.c.id == draft_id,
            checked(_draft_t.c.state) == "sending",
            _draft_t.c.version == version,
        )
        .values(version=version + 1, updated_at=utcnow())
        .returning(_draft_t.c.id)
    )
    if session.execute(stmt).scalar_one_or_none() is None:
        return False
    session.execute(update(_reply_t).where(_reply_t.c.draft_id == draft_id).values(state="sending"))
    expire_cached(session, DraftRow, [draft_id])
    return True
