"""Nearest past replies by embedding: exact search, and an inverted-file index past a size.

Kept apart from adapting a reply (``responders.retrieval``) because it is plain vector
search: it knows nothing of replies, brands or text, and the benchmark swaps its indexes.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

#: Past this many remembered replies of one brand, search goes through an inverted-file
#: index instead of a full matrix product (``brandcare bench drafts --search``).
EXACT_LIMIT = 100_000


class VectorIndex(Protocol):
    """Nearest neighbours by inner product over unit vectors (so: cosine similarity)."""

    def __len__(self) -> int:
        """How many vectors are held."""
        ...

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add rows; ``ids`` name them in search results."""
        ...

    def search(self, queries: NDArray[np.float32], k: int) -> list[list[tuple[int, float]]]:
        """The ``k`` nearest (id, similarity) per query row, most similar first."""
        ...


class ExactIndex:
    """Every vector compared: one matrix product. Exact, and fast enough to 100,000 rows."""

    def __init__(self) -> None:
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        #: Rows with room to grow: ``_matrix`` is a view of its first ``len(_ids)``.
        #: Joining new rows used to copy the whole matrix, at every draft batch after a
        #: reply was remembered (12 MB at 8,000 replies); now a copy only doubles it.
        self._buffer = np.zeros((0, 0), dtype=np.float32)
        self._pending: list[tuple[NDArray[np.int64], NDArray[np.float32]]] = []

    def __len__(self) -> int:
        return len(self._ids) + sum(len(i) for i, _ in self._pending)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Queue rows; they are joined into the matrix at the next search."""
        if len(ids):
            self._pending.append((np.asarray(ids, np.int64), np.asarray(vectors, np.float32)))

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = np.concatenate([v for _, v in self._pending])
        held, needed = len(self._ids), len(self._ids) + len(rows)
        if self._buffer.shape[0] < needed or self._buffer.shape[1] != rows.shape[1]:
            grown = np.empty(
                (max(needed, 2 * self._buffer.shape[0], 64), rows.shape[1]), np.float32
            )
            if held:
                grown[:held] = self._buffer[:held]
            self._buffer = grown
        self._buffer[held:needed] = rows
        self._ids = np.concatenate([self._ids, *(i for i, _ in self._pending)])
        self._matrix = self._buffer[:needed]
        self._pending = []

    def vectors(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """All ids and rows (to build a bigger index from)."""
        self._flush()
        return self._ids, self._matrix

    def search(self, queries: NDArray[np.float32], k: int) -> list[list[tuple[int, float]]]:
        """Exact top ``k`` by inner product."""
        self._flush()
        if not len(self._ids) or k <= 0:
            return [[] for _ in range(len(queries))]
        sims = queries @ self._matrix.T  # (queries, rows)
        k = min(k, len(self._ids))
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out = []
        for row, cols in zip(sims, top, strict=True):
            ordered = cols[np.argsort(-row[cols], kind="stable")]
            out.append([(int(self._ids[c]), float(row[c])) for c in ordered])
        return out


class IvfIndex:
    """An inverted-file index (faiss ``IndexIVFFlat``): vectors grouped around sqrt(n)
    centroids, and a query compares only the ``nprobe`` nearest groups.

    Built once from the vectors at hand (k-means on a sample); later rows join the
    groups they fall in. Approximate: ``brandcare bench drafts --search`` prints its
    recall of near-duplicates against exact search.
    """

    def __init__(self, ids: NDArray[np.int64], vectors: NDArray[np.float32], *, nprobe: int = 16):
        import faiss

        dim = vectors.shape[1]
        nlist = max(1, int(math.sqrt(len(ids))))
        self._quantizer = faiss.IndexFlatIP(dim)
        self._index: Any = faiss.IndexIVFFlat(
            self._quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT
        )
        sample = vectors
        if len(vectors) > 64 * nlist:
            chosen = np.random.default_rng(0).choice(len(vectors), 64 * nlist, replace=False)
            sample = vectors[np.sort(chosen)]
        self._index.train(np.ascontiguousarray(sample, dtype=np.float32))
        self._index.nprobe = min(nprobe, nlist)
        self.add(ids, vectors)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add rows to their nearest groups."""
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )

    def search(self, queries: NDArray[np.float32], k: int) -> list[list[tuple[int, float]]]:
        """Approximate top ``k`` by inner product."""
        if not len(self) or k <= 0:
            return [[] for _ in range(len(queries))]
        sims, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_sims, strict=True) if i >= 0]
            for row_ids, row_sims in zip(ids, sims, strict=True)
        ]


class GrowingIndex:
    """Exact search while small; an inverted-file index once past ``exact_limit`` rows.

    The switch happens once, when an ``add`` crosses the limit (a few seconds at
    100,000 rows); without faiss installed it stays exact and says so once.
    """

    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.exact_limit = exact_limit
        self._exact: ExactIndex | None = ExactIndex()
        self._ivf: IvfIndex | None = None

    @property
    def kind(self) -> str:
        """ "exact" or "ivf": what searches go through now."""
        return "ivf" if self._ivf is not None else "exact"

    def __len__(self) -> int:
        return len(self._ivf) if self._ivf is not None else len(self._exact or ())

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add rows, moving to the index when the exact search outgrows its limit."""
        if self._ivf is not None:
            self._ivf.add(ids, vectors)
            return
        assert self._exact is not None
        self._exact.add(ids, vectors)
        if len(self._exact) > self.exact_limit:
            try:
                all_ids, matrix = self._exact.vectors()
                self._ivf = IvfIndex(all_ids, matrix)
            except ImportError:
                logger.warning(
                    "%d remembered replies and no faiss: searching exactly (slower); "
                    "pip install faiss-cpu",
                    len(self._exact),
                )
                self.exact_limit = math.inf  # type: ignore[assignment]
                return
            self._exact = None

    def search(self, queries: NDArray[np.float32], k: int) -> list[list[tuple[int, float]]]:
        """The ``k`` nearest per query, most similar first."""
        if self._ivf is not None:
            return self._ivf.search(queries, k)
        assert self._exact is not None
        return self._exact.search(queries, k)


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    """A vector as stored: float32 little-endian."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> NDArray[np.float32]:
    """A stored vector back (see ``to_bytes``)."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
