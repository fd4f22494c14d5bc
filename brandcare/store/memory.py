"""Reply memory in the database: what is remembered, and the vectors drafting searches.

None of these commits (the caller owns the transaction). Remembering is an ``INSERT ...
ON CONFLICT DO NOTHING`` on (brand, source, source_ref), so a history imported twice,
or a send recorded twice, is stored once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, exists, func, or_, select, update
from sqlalchemy.orm import Session

from brandcare.store.models import BrandRow, DraftRow, MentionRow, ReplyMemoryRow, ScoreRow, utcnow
from brandcare.store.sql import chunks, dialect_insert

_memory_t: Table = ReplyMemoryRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """A reply to remember with the mention it answered (see ``ReplyMemoryRow``)."""

    brand_id: int
    source: str
    source_ref: str
    mention_text: str
    reply_text: str
    author_handle: str
    platform: str
    author_name: str = ""
    url: str | None = None
    mentioned_at: dt.datetime | None = None
    mention_id: int | None = None
    draft_id: int | None = None
    #: The mention's vector where the score stage kept one (else drafting embeds it).
    embedding: bytes | None = None
    encoder: str | None = None


def remember(session: Session, records: Sequence[MemoryRecord]) -> int:
    """Store the records not stored yet; returns how many were new."""
    if not records:
        return 0
    now = utcnow()
    rows = [
        {
            "brand_id": r.brand_id,
            "source": r.source,
            "source_ref": r.source_ref,
            "mention_id": r.mention_id,
            "draft_id": r.draft_id,
            "platform": r.platform,
            "author_handle": r.author_handle,
            "author_name": r.author_name,
            "mention_text": r.mention_text,
            "reply_text": r.reply_text,
            "url": r.url,
            "mentioned_at": r.mentioned_at,
            "embedding": r.embedding,
            "encoder": r.encoder if r.embedding is not None else None,
            "created_at": now,
        }
        for r in records
    ]
    stmt = (
        dialect_insert(session, _memory_t)
        .on_conflict_do_nothing(index_elements=["brand_id", "source", "source_ref"])
        .returning(_memory_t.c.id)
    )
    return len(session.execute(stmt, rows).all())


def remember_sent(session: Session, draft_id: int) -> bool:
    """Remember a sent draft's final words (agents' edits included); True if new."""
    found = session.execute(
        select(DraftRow, MentionRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .where(DraftRow.id == draft_id)
    ).first()
    if found is None:
        return False
    draft, mention = found
    # The newest picked here: ORDER BY score.id made PostgreSQL walk the primary key.
    vectors = session.execute(
        select(ScoreRow.id, ScoreRow.embedding, ScoreRow.encoder).where(
            ScoreRow.mention_id == mention.id, ScoreRow.embedding.is_not(None)
        )
    ).all()
    vector = max(vectors, key=lambda row: row.id) if vectors else None
    record = MemoryRecord(
        brand_id=mention.brand_id,
        source="approved",
        source_ref=f"draft:{draft.id}",
        mention_text=mention.text,
        reply_text=draft.text,
        author_handle=mention.author_handle,
        author_name=mention.author_name,
        platform=mention.platform,
        url=mention.url,
        mentioned_at=mention.created_at,
        mention_id=mention.id,
        draft_id=draft.id,
        embedding=vector.embedding if vector else None,
        encoder=vector.encoder if vector else None,
    )
    return remember(session, [record]) == 1


def brands_with_memory(session: Session, brand_ids: Collection[int]) -> set[int]:
    """Which of ``brand_ids`` remember any reply (drafting skips the encoder for others)."""
    if not brand_ids:
        return set()
    # One index probe a brand: DISTINCT over the rows read every row a brand remembers.
    remembers = exists().where(_memory_t.c.brand_id == BrandRow.id)
    return set(
        session.scalars(select(BrandRow.id).where(BrandRow.id.in_(list(brand_ids)), remembers))
    )


def unembedded(
    session: Session, brand_ids: Collection[int], encoder: str, limit: int
) -> list[tuple[int, str]]:
    """(id, mention text) of rows with no vector from ``encoder`` yet, oldest first."""
    stmt = (
        select(_memory_t.c.id, _memory_t.c.mention_text)
        .where(
            _memory_t.c.brand_id.in_(list(brand_ids)),
            or_(_memory_t.c.embedding.is_(None), _memory_t.c.encoder != encoder),
        )
        .order_by(_memory_t.c.id)
        .limit(limit)
    )
    return [(int(i), str(t)) for i, t in session.execute(stmt)]


def set_embeddings(session: Session, vectors: Sequence[tuple[int, bytes]], encoder: str) -> None:
    """Store each row's vector and the encoder that made it."""
    for memory_id, data in vectors:
        session.execute(
            update(_memory_t)
            .where(_memory_t.c.id == memory_id)
            .values(embedding=data, encoder=encoder)
        )


def vectors_after(
    session: Session, brand_id: int, after_id: int, limit: int = 50_000
) -> list[tuple[int, bytes | None, str | None]]:
    """(id, vector, encoder) of the brand's rows past ``after_id``, in id order."""
    stmt = (
        select(_memory_t.c.id, _memory_t.c.embedding, _memory_t.c.encoder)
        .where(_memory_t.c.brand_id == brand_id, _memory_t.c.id > after_id)
        .order_by(_memory_t.c.id)
        .limit(limit)
    )
    return [(int(i), e, enc) for i, e, enc in session.execute(stmt)]


def vectors_of(
    session: Session, ids: Collection[int]
) -> list[tuple[int, bytes | None, str | None]]:
    """(id, vector, encoder) of the given rows."""
    out: list[tuple[int, bytes | None, str | None]] = []
    for chunk in chunks(sorted(ids)):
        stmt = select(_memory_t.c.id, _memory_t.c.embedding, _memory_t.c.encoder).where(
            _memory_t.c.id.in_(chunk)
        )
        out.extend((int(i), e, enc) for i, e, enc in session.execute(stmt))
    return out


def rows(session: Session, ids: Collection[int]) -> dict[int, ReplyMemoryRow]:
    """The remembered replies with these ids."""
    found: dict[int, ReplyMemoryRow] = {}
    for chunk in chunks(sorted(ids)):
        for row in session.scalars(select(ReplyMemoryRow).where(ReplyMemoryRow.id.in_(chunk))):
            found[row.id] = row
    return found


def count(session: Session, brand_id: int | None = None) -> int:
    """How many replies are remembered (for one brand, or all)."""
    stmt = select(func.count()).select_from(_memory_t)
    if brand_id is not None:
        stmt = stmt.where(_memory_t.c.brand_id == brand_id)
    return int(session.scalar(stmt) or 0)
