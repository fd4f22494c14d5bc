"""One thread per process runs every torch operation of the pipeline's scorer.

Dramatiq runs actors in several worker threads; left alone, whichever thread takes a
score message runs the forward pass. Torch's CPU build parallelises each operation
with OpenMP (libgomp), which keeps one team of threads per calling thread and stops
spinning between operations as soon as it manages more threads than there are cores.
Measured on the 2-core machine this project runs on, scoring batches of 64: a model
loaded and run by one thread, 124-159 mentions/s; the same work from two alternating
threads, or from a thread other than the one that had already run torch, 97-118/s.
Sending every load, ``score`` and ``embed`` to one long-lived thread keeps one team,
whatever thread the message arrived on.

The thread is per process (a forked worker process starts its own) and callers wait
for their result, so a stage still sees ``score`` as an ordinary blocking call and an
exception raised by the scorer reaches the caller with its traceback.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from sentiment.base import Embedder, Scorer, Scores

_T = TypeVar("_T")

_lock = threading.Lock()
#: The torch thread by process id: a forked child inherits the parent's entry, not its
#: thread, and gets its own.
_pools: dict[int, ThreadPoolExecutor] = {}
_local = threading.local()


def _mark() -> None:
    _local.is_torch_thread = True


def _pool() -> ThreadPoolExecutor:
    with _lock:
        pid = os.getpid()
        if pid not in _pools:
            _pools[pid] = ThreadPoolExecutor(1, "torch", initializer=_mark)
        return _pools[pid]


def on_torch_thread(work: Callable[[], _T]) -> _T:
    """Run ``work`` on the torch thread and return its result (or raise its error).

    Called from the torch thread itself (a scorer's factory that scores), it runs in
    place rather than wait for itself.
    """
    if getattr(_local, "is_torch_thread", False):
        return work()
    return _pool().submit(work).result()


class TorchThreadScorer:
    """A scorer built and run on the torch thread; a ``Scorer`` and, when the one it
    wraps embeds, an ``Embedder``."""

    def __init__(self, factory: Callable[[], Scorer]) -> None:
        self._inner = on_torch_thread(factory)
        self.model_version = self._inner.model_version

    @property
    def inner(self) -> Scorer:
        """The wrapped scorer; its methods must be called through ``on_torch_thread``."""
        return self._inner

    @property
    def embedding_version(self) -> str:
        """The wrapped scorer's encoder name; AttributeError when it cannot embed, so
        ``isinstance(scorer, Embedder)`` stays false."""
        if not isinstance(self._inner, Embedder):
            raise AttributeError(f"{type(self._inner).__name__} does not embed")
        return self._inner.embedding_version

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """The wrapped scorer's scores, computed on the torch thread."""
        inner = self._inner
        return on_torch_thread(lambda: inner.score(texts))

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The wrapped scorer's embeddings, computed on the torch thread."""
        inner = self._inner
        if not isinstance(inner, Embedder):
            raise AttributeError(f"{type(inner).__name__} does not embed")
        return on_torch_thread(lambda: inner.embed(texts))
