"""Scoring lanes: each lane's thread loads its scorer and runs all its work, whoever asks."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.typing import NDArray

from sentiment.base import Embedder, Scorer, Scores, ScoringEmbedder
from sentiment.torch_thread import TorchThreadScorer
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
    assert scorer.run(lambda _: threading.get_ident()) == torch_thread


class Meets(ThreadRecorder):
    """Scores only once ``parties`` calls are inside ``score`` at the same time."""

    barrier = threading.Barrier(2, timeout=10)

    def score(self, texts: Sequence[str]) -> list[Scores]:
        self.barrier.wait()
        return super().score(texts)


def test_lanes_score_side_by_side_each_on_the_thread_that_loaded_its_scorer() -> None:
    Meets.barrier = threading.Barrier(2, timeout=10)
    built: list[Meets] = []

    def factory() -> Scorer:
        built.append(Meets())
        return built[-1]

    scorer = TorchThreadScorer(factory, lanes=2)
    assert scorer.lanes == 2
    assert len(built) == 2
    with ThreadPoolExecutor(2) as callers:
        # Two calls meet inside ``score``: a single lane would break the barrier.
        results = list(callers.map(lambda i: scorer.score([f"text {i}"]), range(8)))
    assert [r[0].urgency_reasons for r in results] == [(f"text {i}",) for i in range(8)]
    assert [len(b.threads) for b in built] == [1, 1], "each copy stays on its own lane"
    assert built[0].threads != built[1].threads
    assert threading.get_ident() not in built[0].threads | built[1].threads


def test_one_lane_runs_one_call_at_a_time() -> None:
    Meets.barrier = threading.Barrier(2, timeout=1)
    scorer = TorchThreadScorer(Meets)
    with ThreadPoolExecutor(2) as callers, pytest.raises(threading.BrokenBarrierError):
        list(callers.map(lambda i: scorer.score([f"text {i}"]), range(2)))


def test_a_lane_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one lane"):
        TorchThreadScorer(ThreadRecorder, lanes=0)


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
    assert not isinstance(plain, ScoringEmbedder)


class OnePass(EmbeddingRecorder):
    passes = 0

    def score_and_embed(self, texts: Sequence[str]) -> tuple[list[Scores], NDArray[np.float32]]:
        OnePass.passes += 1
        return self.score(texts), np.full((len(texts), 3), 2.0, dtype=np.float32)


def test_scoring_and_embedding_take_one_pass_where_the_wrapped_scorer_can() -> None:
    """The score stage asks for both at once; a wrapped scorer with one pass for both is
    called once on its lane, another gets its ``score`` and ``embed``."""
    one = TorchThreadScorer(OnePass)
    assert isinstance(one, ScoringEmbedder)
    scores, vectors = one.score_and_embed(["a", "b"])
    assert (len(scores), OnePass.passes, float(vectors[0, 0])) == (2, 1, 2.0)
    two = TorchThreadScorer(EmbeddingRecorder)
    scores, vectors = two.score_and_embed(["a"])
    assert (len(scores), float(vectors[0, 0])) == (1, 1.0)


def test_work_sent_from_a_lane_itself_runs_in_place() -> None:
    """A scorer that calls back into its wrapper (scoring while scoring) must not wait
    for the lane its own caller holds."""
    holder: list[TorchThreadScorer] = []

    class CallsBack(EmbeddingRecorder):
        def score(self, texts: Sequence[str]) -> list[Scores]:
            holder[0].embed(texts)
            return super().score(texts)

    scorer = TorchThreadScorer(CallsBack)
    holder.append(scorer)
    assert [s.urgency_reasons for s in scorer.score(["nested"])] == [("nested",)]
    assert len(scorer.inner.threads) == 1  # type: ignore[attr-defined]


def _child(scorer: TorchThreadScorer, out: multiprocessing.Queue[str]) -> None:
    for text in ("from the child", "and again"):
        out.put(scorer.score([text])[0].urgency_reasons[0])


def test_a_forked_process_starts_its_own_lanes_and_keeps_the_loaded_scorers() -> None:
    """Dramatiq forks worker processes; the parent's threads do not exist in a child."""
    scorer = TorchThreadScorer(ThreadRecorder, lanes=2)
    scorer.score(["in the parent"])  # the parent's lanes exist before the fork
    context = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_child, args=(scorer, out))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the child hung or failed waiting for the parent's thread"
    assert [out.get(timeout=5), out.get(timeout=5)] == ["from the child", "and again"]
