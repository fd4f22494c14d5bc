"""The torch thread: one thread per process loads and runs the scorer, whoever asks."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.typing import NDArray

from sentiment.base import Embedder, Scorer, Scores
from sentiment.torch_thread import TorchThreadScorer, on_torch_thread
from tests.unit.responders.builders import make_scores


def _scores(text: str) -> Scores:
    return make_scores(urgency_reasons=(text,))


class ThreadRecorder:
    """Records the thread of every call; fails on a text that says so."""

    model_version = "test"

    def __init__(self) -> None:
        self.threads = {threading.get_ident()}

    def score(self, texts: Sequence[str]) -> list[Scores]:
        self.threads.add(threading.get_ident())
        if "boom" in texts:
            raise ValueError("the scorer chokes on boom")
        return [_scores(t) for t in texts]


class EmbeddingRecorder(ThreadRecorder):
    embedding_version = "enc-test"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.threads.add(threading.get_ident())
        return np.ones((len(texts), 3), dtype=np.float32)


def test_every_call_from_any_thread_runs_on_the_one_thread_that_loaded_the_scorer() -> None:
    scorer = TorchThreadScorer(EmbeddingRecorder)
    inner = scorer.inner
    assert isinstance(inner, EmbeddingRecorder)
    with ThreadPoolExecutor(4) as callers:
        results = list(callers.map(lambda i: scorer.score([f"text {i}"]), range(40)))
        list(callers.map(lambda i: scorer.embed([f"text {i}"]), range(10)))
    assert [r[0].urgency_reasons for r in results] == [(f"text {i}",) for i in range(40)]
    assert len(inner.threads) == 1, "load, score and embed must share one thread"
    (torch_thread,) = inner.threads
    assert torch_thread != threading.get_ident()
    assert on_torch_thread(threading.get_ident) == torch_thread


def test_a_scorer_error_reaches_the_caller_and_the_thread_carries_on() -> None:
    scorer = TorchThreadScorer(ThreadRecorder)
    with pytest.raises(ValueError, match="chokes on boom"):
        scorer.score(["fine", "boom"])
    assert [s.urgency_reasons for s in scorer.score(["after"])] == [("after",)]


def test_a_load_error_reaches_the_caller() -> None:
    def broken() -> Scorer:
        raise FileNotFoundError("models/scorer/weights.safetensors is missing")

    with pytest.raises(FileNotFoundError, match=r"weights\.safetensors"):
        TorchThreadScorer(broken)


def test_it_embeds_only_when_the_scorer_it_wraps_does() -> None:
    plain = TorchThreadScorer(ThreadRecorder)
    embedding = TorchThreadScorer(EmbeddingRecorder)
    assert isinstance(plain, Scorer)
    assert isinstance(embedding, Scorer)
    assert not isinstance(plain, Embedder)
    assert isinstance(embedding, Embedder)
    assert embedding.embedding_version == "enc-test"
    assert embedding.model_version == "test"
    with pytest.raises(AttributeError, match="does not embed"):
        plain.embed(["x"])


def test_work_sent_from_the_torch_thread_itself_runs_in_place() -> None:
    """A factory that scores while loading (a warm-up) must not wait for itself."""

    class WarmsUp(ThreadRecorder):
        def __init__(self) -> None:
            super().__init__()
            on_torch_thread(lambda: self.score(["warm-up"]))

    scorer = TorchThreadScorer(WarmsUp)
    assert len(scorer.inner.threads) == 1  # type: ignore[attr-defined]


def _child(out: multiprocessing.Queue[str]) -> None:
    out.put(TorchThreadScorer(ThreadRecorder).score(["from the child"])[0].urgency_reasons[0])


def test_a_forked_process_starts_its_own_torch_thread() -> None:
    """Dramatiq forks worker processes; the parent's thread does not exist in a child."""
    on_torch_thread(lambda: None)  # the parent's thread exists before the fork
    context = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_child, args=(out,))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the child hung or failed waiting for the parent's thread"
    assert out.get(timeout=5) == "from the child"
