"""Reply memory for drafting: vectors kept per process, filled and searched by brand.

The drafting stage holds the encoder, so it is the one that embeds remembered mentions
(an import arrives without vectors: it needs no model; a sent reply brings the vector
its mention was scored with). Each process keeps one index per brand and reads only
rows it has not seen since, so a draft batch costs one small query, its mentions'
vectors as the score stage stored them (a forward pass only for mentions scored before
migration 0011 or by another encoder) and a matrix product, and a brand with nothing
remembered costs nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session, sessionmaker

from brandcare.store import memory as store
from brandcare.store import transaction
from brandcare.store.models import ReplyMemoryRow
from listener.base import Mention, ReplyRules
from responders.retrieval import (
    CANDIDATES,
    DEFAULT_THRESHOLD,
    Adapted,
    Match,
    PastReply,
    draft_from_matches,
)
from responders.vector_index import GrowingIndex, from_bytes, to_bytes
from responders.voice import Voice
from sentiment.base import Embedder

log = logging.getLogger(__name__)

#: Remembered mentions embedded per draft batch at most: a large import is worked
#: through over a few batches instead of stalling one.
EMBED_PER_BATCH = 2048


@dataclass
class _BrandVectors:
    index: GrowingIndex = field(default_factory=GrowingIndex)
    last_id: int = 0
    #: Rows seen without a vector from the current encoder: read again until they have one.
    waiting: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Request:
    """One mention to draft from memory."""

    key: int | str
    brand_id: int
    mention: Mention
    voice: Voice
    rules: ReplyRules
    #: The mention's vector from the pass that scored it (stored bytes), and its
    #: encoder: used when the encoder is the one drafting, else the text is embedded.
    vector: bytes | None = None
    encoder: str | None = None


class ReplyMemory:
    """The process's view of reply memory: one index per brand, refreshed incrementally."""

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._brands: dict[tuple[int, str], _BrandVectors] = {}
        self._lock = threading.Lock()

    def _may_lack_vectors(self, brand_id: int, encoder: str) -> bool:
        state = self._brands.get((brand_id, encoder))
        return state is None or bool(state.waiting)

    def _refresh(self, s: Session, brand_id: int, encoder: str) -> _BrandVectors:
        state = self._brands.setdefault((brand_id, encoder), _BrandVectors())
        fresh = store.vectors_after(s, brand_id, state.last_id)
        while fresh:
            state.last_id = fresh[-1][0]
            self._take(state, fresh, encoder)
            fresh = store.vectors_after(s, brand_id, state.last_id)
        if state.waiting:
            self._take(state, store.vectors_of(s, list(state.waiting)[:1000]), encoder)
        return state

    @staticmethod
    def _take(
        state: _BrandVectors, found: Sequence[tuple[int, bytes | None, str | None]], encoder: str
    ) -> None:
        ready = [(i, data) for i, data, enc in found if data is not None and enc == encoder]
        state.waiting.update(i for i, data, enc in found if data is None or enc != encoder)
        if ready:
            state.waiting.difference_update(i for i, _ in ready)
            ids = np.array([i for i, _ in ready], dtype=np.int64)
            state.index.add(ids, np.stack([from_bytes(data) for _, data in ready]))

    def embed_missing(
        self, sessions: sessionmaker[Session], embedder: Embedder, brand_ids: Sequence[int]
    ) -> int:
        """Give remembered mentions of these brands their vectors; returns how many."""
        encoder = embedder.embedding_version
        with transaction(sessions) as s:
            todo = store.unembedded(s, brand_ids, encoder, EMBED_PER_BATCH)
        if not todo:
            return 0
        vectors = embedder.embed([text for _, text in todo])
        with transaction(sessions) as s:
            store.set_embeddings(
                s, [(i, to_bytes(v)) for (i, _), v in zip(todo, vectors, strict=True)], encoder
            )
        log.info("embedded %d remembered mentions", len(todo))
        return len(todo)

    def suggest(
        self,
        sessions: sessionmaker[Session],
        embedder: Embedder,
        requests: Sequence[Request],
        *,
        threshold: float | None = None,
    ) -> dict[int | str, Adapted]:
        """Adapted past replies for the requests that have one close enough, by key."""
        if not requests:
            return {}
        with transaction(sessions) as s:
            remembering = store.brands_with_memory(s, {r.brand_id for r in requests})
        wanted = [r for r in requests if r.brand_id in remembering]
        if not wanted:
            return {}
        encoder = embedder.embedding_version
        # Rows without a vector are looked for only where this process has not read the
        # brand yet or saw such rows: the query reads every row a brand remembers.
        unread = [b for b in sorted(remembering) if self._may_lack_vectors(b, encoder)]
        if unread:
            self.embed_missing(sessions, embedder, unread)
        queries = _queries(embedder, wanted)
        matches: dict[int | str, list[tuple[int, float]]] = {}
        with self._lock, transaction(sessions) as s:
            for brand_id in sorted({r.brand_id for r in wanted}):
                index = self._refresh(s, brand_id, encoder).index
                rows = [i for i, r in enumerate(wanted) if r.brand_id == brand_id]
                for i, found in zip(rows, index.search(queries[rows], CANDIDATES), strict=True):
                    matches[wanted[i].key] = found
            needed = {mid for found in matches.values() for mid, _ in found}
            past = {mid: past_reply(row) for mid, row in store.rows(s, needed).items()}
        out: dict[int | str, Adapted] = {}
        for r in wanted:
            candidates = [
                Match(past[mid], sim) for mid, sim in matches.get(r.key, []) if mid in past
            ]
            adapted = draft_from_matches(
                r.mention,
                candidates,
                r.voice,
                rules=r.rules,
                threshold=self.threshold if threshold is None else threshold,
            )
            if adapted is not None:
                out[r.key] = adapted
        return out


def _queries(embedder: Embedder, wanted: Sequence[Request]) -> NDArray[np.float32]:
    """The requests' vectors: stored by the score stage where its encoder is this one
    (no forward pass), the others embedded now in one batch."""
    encoder = embedder.embedding_version
    rows: list[NDArray[np.float32] | None] = [
        from_bytes(r.vector) if r.vector is not None and r.encoder == encoder else None
        for r in wanted
    ]
    todo = [i for i, row in enumerate(rows) if row is None]
    if todo:
        for i, row in zip(
            todo, embedder.embed([wanted[i].mention.text for i in todo]), strict=True
        ):
            rows[i] = row
    return np.stack([row for row in rows if row is not None])


def past_reply(row: ReplyMemoryRow) -> PastReply:
    """The retrieval value of a stored memory row."""
    return PastReply(
        memory_id=row.id,
        mention_text=row.mention_text,
        reply_text=row.reply_text,
        author_handle=row.author_handle,
        author_name=row.author_name,
        platform=row.platform,
        mentioned_at=row.mentioned_at,
    )
