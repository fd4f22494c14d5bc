"""Reply memory for drafting: vectors kept per process, filled and searched by brand.

The drafting stage holds the encoder, so it is the one that embeds remembered mentions
(rows arrive without vectors: a sent reply or an import needs no model). Each process
keeps one index per brand and reads only rows it has not seen since, so a draft batch
costs one small query, a forward pass for its mentions and a matrix product, and a brand
with nothing remembered costs no forward pass at all.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
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

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLES = re.compile(r"(?<![\w])(?:@|u/|/u/)[A-Za-z0-9_]{1,40}")


def embedding_text(text: str) -> str:
    """What is compared: the words, without handles and links (the same complaint from
    two customers differs in nothing else)."""
    return " ".join(_HANDLES.sub(" ", _URL.sub(" ", text)).split())


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


class ReplyMemory:
    """The process's view of reply memory: one index per brand, refreshed incrementally."""

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._brands: dict[tuple[int, str], _BrandVectors] = {}
        self._lock = threading.Lock()

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
        vectors = embedder.embed([embedding_text(text) for _, text in todo])
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
        self.embed_missing(sessions, embedder, sorted(remembering))
        encoder = embedder.embedding_version
        queries = embedder.embed([embedding_text(r.mention.text) for r in wanted])
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
