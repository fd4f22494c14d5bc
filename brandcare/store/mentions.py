"""What the poll stage writes: mentions (new, edited, deleted), their states, query cursors."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.orm import Session

from brandcare.store.events import SYSTEM, add_event
from brandcare.store.models import (
    MENTION_STATES,
    CursorRow,
    MentionRevisionRow,
    MentionRow,
    NaiveDatetimeError,
    utcnow,
)
from brandcare.store.sql import checked, chunks, dialect_insert, expire_cached, jsonable, rowcount

log = logging.getLogger(__name__)

_mention_t: Table = MentionRow.__table__  # type: ignore[assignment]
_revision_t: Table = MentionRevisionRow.__table__  # type: ignore[assignment]
_cursor_t: Table = CursorRow.__table__  # type: ignore[assignment]


class AuthorLike(Protocol):
    """What the store reads from a mention's author (``listener.base.Author`` fits)."""

    @property
    def id(self) -> str:
        """The platform's user id."""
        ...

    @property
    def handle(self) -> str:
        """The @handle or username."""
        ...

    @property
    def name(self) -> str:
        """The display name."""
        ...

    @property
    def followers(self) -> int | None:
        """Reach, when the platform reports it."""
        ...

    @property
    def verified(self) -> bool:
        """Whether the platform marks the account verified."""
        ...


class MentionLike(Protocol):
    """What the store reads from a mention (``listener.base.Mention`` fits).

    A protocol rather than an import keeps the store free of the listener package.
    """

    @property
    def platform(self) -> str:
        """``"twitter"``, ``"reddit"``, ..."""
        ...

    @property
    def external_id(self) -> str:
        """The platform's id of the post."""
        ...

    @property
    def text(self) -> str:
        """The post's text as last seen."""
        ...

    @property
    def author(self) -> AuthorLike:
        """Who posted it."""
        ...

    @property
    def created_at(self) -> dt.datetime:
        """When it was posted (timezone-aware)."""
        ...

    @property
    def url(self) -> str:
        """A link to the post."""
        ...

    @property
    def conversation_id(self) -> str | None:
        """The thread it belongs to."""
        ...

    @property
    def in_reply_to_id(self) -> str | None:
        """The post it answers."""
        ...

    @property
    def lang(self) -> str | None:
        """The language the platform detected."""
        ...

    @property
    def raw(self) -> Mapping[str, Any]:
        """The platform's payload (JSON-serialisable)."""
        ...

    @property
    def visibility(self) -> str | None:
        """Who may see it (public, unlisted, private, direct), where the platform says."""
        ...

    @property
    def content_warning(self) -> str | None:
        """The warning it is posted behind, where the platform has them."""
        ...

    @property
    def reply_limit(self) -> int | None:
        """The longest reply the server that read it takes, where the server sets it."""
        ...


def _mention_values(
    brand_id: int, query_id: int | None, m: MentionLike, now: dt.datetime
) -> dict[str, Any]:
    """Column values for a new mention row."""
    if m.created_at.tzinfo is None or m.created_at.utcoffset() is None:
        # Checked here: inside the statement it would surface wrapped in a StatementError.
        raise NaiveDatetimeError(
            f"{m.platform} {m.external_id}: created_at {m.created_at!r} has no timezone"
        )
    return {
        "brand_id": brand_id,
        "query_id": query_id,
        "platform": m.platform,
        "external_id": m.external_id,
        "author_id": m.author.id,
        "author_handle": m.author.handle,
        "author_name": m.author.name,
        "author_followers": m.author.followers,
        "author_verified": m.author.verified,
        "text": m.text,
        "url": m.url,
        "created_at": m.created_at,
        "fetched_at": now,
        "conversation_id": m.conversation_id,
        "in_reply_to_id": m.in_reply_to_id,
        "lang": m.lang,
        "raw": jsonable(m.raw),
        "visibility": None if m.visibility is None else str(m.visibility),
        "content_warning": m.content_warning,
        "reply_limit": m.reply_limit,
        "edited_at": None,
        "deleted_at": None,
        "state": "new",
        "error": None,
    }


def upsert_mentions(
    session: Session,
    brand_id: int,
    query_id: int | None,
    mentions: Sequence[MentionLike],
) -> list[int]:
    """Store mentions not seen before (see ``store_new_mentions``); their new ids."""
    return [id_ for id_, _ in store_new_mentions(session, brand_id, query_id, mentions)]


def store_new_mentions(
    session: Session,
    brand_id: int,
    query_id: int | None,
    mentions: Sequence[MentionLike],
) -> list[tuple[int, str]]:
    """Store mentions not seen before; record edits of those already stored.

    Returns the newly inserted mentions only (in input order), the ones the next stage
    must score, each id with its text (the poll stage's first pass reads it); a page
    fetched twice, or by two workers at once, yields each id once overall because the
    insert is ``ON CONFLICT (platform, external_id) DO NOTHING``. A stored mention
    whose text changed gets its old text kept in ``mention_revision`` and an
    ``mention.edited`` event.
    """
    if not mentions:
        return []
    now = utcnow()
    latest: dict[tuple[str, str], MentionLike] = {}
    for m in mentions:
        latest[(m.platform, m.external_id)] = m  # a repeat in one page: its last version
    # Insert in key order so concurrent workers take row locks in the same order
    # (PostgreSQL would otherwise be free to deadlock them). One executemany of one
    # cached statement: a multi-row ``.values([...])`` is compiled afresh for every page,
    # which cost more CPU than the database's own work.
    ordered = sorted(latest)
    values = [_mention_values(brand_id, query_id, latest[key], now) for key in ordered]
    stmt = (
        dialect_insert(session, _mention_t)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(_mention_t.c.id, _mention_t.c.platform, _mention_t.c.external_id)
    )
    inserted = {
        (platform, external_id): int(id_)
        for id_, platform, external_id in session.execute(stmt, values)
    }

    existing = [key for key in ordered if key not in inserted]
    for chunk_keys in chunks(existing):
        rows = session.execute(
            select(
                _mention_t.c.id,
                _mention_t.c.platform,
                _mention_t.c.external_id,
                _mention_t.c.text,
                _mention_t.c.raw,
            ).where(tuple_(_mention_t.c.platform, _mention_t.c.external_id).in_(chunk_keys))
        ).all()
        for id_, platform, external_id, old_text, old_raw in rows:
            new = latest[(platform, external_id)]
            if new.text.strip() in DELETED_MARKERS:
                mark_deleted(session, int(id_), reason=new.text.strip(), at=now)
            elif new.text != old_text:
                _record_edit(session, int(id_), new, old_text, old_raw, now)

    stored = [(inserted[key], latest[key].text) for key in latest if key in inserted]
    log.debug("stored %d new of %d mentions for brand %s", len(stored), len(latest), brand_id)
    return stored


#: What platforms put in place of a post's text once it is deleted or removed.
DELETED_MARKERS = frozenset({"[deleted]", "[removed]"})


def mark_deleted(session: Session, mention_id: int, *, reason: str, at: dt.datetime) -> bool:
    """Record that the post is gone; its text stays as it was for the agents and the log.

    True the first time (one ``mention.deleted`` event), False if already recorded.
    """
    changed = rowcount(
        session,
        update(_mention_t)
        .where(_mention_t.c.id == mention_id, _mention_t.c.deleted_at.is_(None))
        .values(deleted_at=at),
    )
    if not changed:
        return False
    expire_cached(session, MentionRow, [mention_id])
    add_event(session, SYSTEM, "mention.deleted", mention_id=mention_id, detail={"why": reason})
    log.info("mention %d deleted on the platform (%s)", mention_id, reason)
    return True


def _record_edit(
    session: Session,
    mention_id: int,
    new: MentionLike,
    old_text: str,
    old_raw: Mapping[str, Any],
    now: dt.datetime,
) -> None:
    """Replace a mention's text with its edit, keeping the old text as a revision.

    Compare-and-set on the old text, so two workers that both saw the edit record it
    once.
    """
    changed = rowcount(
        session,
        update(_mention_t)
        .where(_mention_t.c.id == mention_id, _mention_t.c.text == old_text)
        .values(
            text=new.text,
            raw=jsonable(new.raw),
            content_warning=new.content_warning,
            edited_at=now,
        ),
    )
    if not changed:
        return
    session.execute(
        dialect_insert(session, _revision_t).values(
            mention_id=mention_id, text=old_text, raw=dict(old_raw), seen_at=now
        )
    )
    expire_cached(session, MentionRow, [mention_id])
    add_event(session, SYSTEM, "mention.edited", mention_id=mention_id, detail={"old": old_text})
    log.info("%s %s: mention %d edited", new.platform, new.external_id, mention_id)


def set_mention_state(
    session: Session,
    mention_ids: Collection[int],
    to_state: str,
    *,
    from_states: Collection[str] | None = None,
    error: str | None = None,
) -> int:
    """Move mentions to ``to_state`` (only those in ``from_states``, when given).

    Returns how many moved. ``error`` is stored with the ``error`` state and cleared
    otherwise.
    """
    if to_state not in MENTION_STATES:
        raise ValueError(f"unknown mention state {to_state!r}; expected one of {MENTION_STATES}")
    if not mention_ids:
        return 0
    stmt = update(_mention_t).where(_mention_t.c.id.in_(list(mention_ids)))
    if from_states is not None:
        stmt = stmt.where(checked(_mention_t.c.state).in_(list(from_states)))
    moved = rowcount(session, stmt.values(state=to_state, error=error))
    expire_cached(session, MentionRow, mention_ids)
    return moved


def get_cursor(session: Session, query_id: int) -> str | None:
    """The position a query's last stored page ended at; None before the first poll."""
    return session.execute(
        select(_cursor_t.c.position).where(_cursor_t.c.query_id == query_id)
    ).scalar_one_or_none()


def set_cursor(session: Session, query_id: int, position: str) -> None:
    """Advance a query's cursor; call it in the transaction that stores the page."""
    now = utcnow()
    stmt = dialect_insert(session, _cursor_t).values(
        query_id=query_id, position=position, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["query_id"], set_={"position": position, "updated_at": now}
        )
    )
    expire_cached(session, CursorRow, [query_id])
