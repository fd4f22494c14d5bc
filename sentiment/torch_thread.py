"""Scoring lanes: each lane is one thread that loads a scorer and runs all of its torch work.

Dramatiq runs actors in several worker threads; left alone, whichever thread takes a
score message runs the forward pass. Torch's CPU build parallelises each operation
with OpenMP (libgomp), which keeps one team of threads per calling thread and stops
spinning between operations as soon as it manages more threads than there are cores.
Measured on a 2-core machine, scoring batches of 64: a model loaded and run by one
thread, 124-159 mentions/s; the same work from two alternating threads, or from a
thread other than the one that had already run torch, 97-118/s. So every load,
``score`` and ``embed`` goes to the lane that loaded the model, whatever thread the
message arrived on.

Several lanes, each with its own copy of the model and one torch thread, run forward
passes side by side without OpenMP at all; on small batches that uses cores better
than one pass split across them (measured on a 2-core machine: two lanes of one
thread 346 mentions/s, one lane of two threads 264/s). ``runtime.scoring_layout``
chooses the lanes and threads per lane.

Lanes belong to the process that made them: a forked worker process starts its own
threads (the parent's do not exist there) and keeps the loaded models. Callers wait
for their result, so a stage still sees ``score`` as an ordinary blocking call, and an
exception raised by the scorer reaches the caller with its traceback.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from sentiment.base import Embedder, Scorer, Scores, ScoringEmbedder

_T = TypeVar("_T")

#: On a lane's thread: (the owning scorer's id, the lane's index).
_local = threading.local()


class TorchThreadScorer:
    """``lanes`` scorers, each built and run on a thread of its own; a call takes a free
    lane. A ``Scorer`` and, when the scorers it wraps embed, an ``Embedder``."""

    def __init__(self, factory: Callable[[], Scorer], lanes: int = 1) -> None:
        if lanes < 1:
            raise ValueError(f"a scorer needs at least one lane, got {lanes}")
        self._lanes = lanes
        self._lock = threading.Lock()
        self._pid = -1
        self._threads: list[ThreadPoolExecutor] = []
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        threads, _ = self._for_this_process()
        # One after the other: loads running side by side race in transformers' lazy
        # imports, and memory peaks once rather than ``lanes`` times.
        self._scorers = [threads[i].submit(factory).result() for i in range(lanes)]
        self.model_version = self._scorers[0].model_version

    def _for_this_process(self) -> tuple[list[ThreadPoolExecutor], queue.SimpleQueue[int]]:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._threads = [
                    ThreadPoolExecutor(1, f"torch-{i}", initializer=_mark, initargs=(id(self), i))
                    for i in range(self._lanes)
                ]
                self._free = queue.SimpleQueue()
                for i in range(self._lanes):
                    self._free.put(i)
            return self._threads, self._free

    def run(self, work: Callable[[Scorer], _T]) -> _T:
        """``work(scorer)`` on a free lane, with that lane's scorer; its result or error.

        Called from one of this scorer's lanes (a scorer that scores while scoring), it
        runs in place rather than wait for a lane held by its own caller.
        """
        if getattr(_local, "owner", None) == id(self):
            return work(self._scorers[_local.index])
        threads, free = self._for_this_process()
        lane = free.get()
        try:
            return threads[lane].submit(work, self._scorers[lane]).result()
        finally:
            free.put(lane)

    @property
    def lanes(self) -> int:
        """How many forward passes can run at once."""
        return self._lanes

    @property
    def inner(self) -> Scorer:
        """The first lane's scorer; call it only through ``run``."""
        return self._scorers[0]

    @property
    def embedding_version(self) -> str:
        """The wrapped scorer's encoder name; AttributeError when it cannot embed, so
        ``isinstance(scorer, Embedder)`` stays false."""
        inner = self._scorers[0]
        if not isinstance(inner, Embedder):
            raise AttributeError(f"{type(inner).__name__} does not embed")
        return inner.embedding_version

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """The wrapped scorer's scores, computed on a free lane."""
        return self.run(lambda scorer: scorer.score(texts))

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The wrapped scorer's embeddings, computed on a free lane."""
        if not isinstance(self._scorers[0], Embedder):
            raise AttributeError(f"{type(self._scorers[0]).__name__} does not embed")
        return self.run(lambda scorer: _embedder(scorer).embed(texts))

    def score_and_embed(self, texts: Sequence[str]) -> tuple[list[Scores], NDArray[np.float32]]:
        """The wrapped scorer's scores and embeddings, on a free lane: from one pass when
        it can, else from its ``score`` and ``embed``."""
        if isinstance(self._scorers[0], ScoringEmbedder):
            return self.run(lambda scorer: _scoring_embedder(scorer).score_and_embed(texts))
        return self.score(texts), self.embed(texts)


def _mark(owner: int, index: int) -> None:
    _local.owner = owner
    _local.index = index


def _scoring_embedder(scorer: Scorer) -> ScoringEmbedder:
    assert isinstance(scorer, ScoringEmbedder)
    return scorer


def _embedder(scorer: Scorer) -> Embedder:
    assert isinstance(scorer, Embedder)
    return scorer
