"""The traced encoder: used by the production scorer, scores as the eager one, and a
tracer that fails or disagrees leaves the scorer eager instead of wrong."""

from __future__ import annotations

import logging

import pytest
import torch

from sentiment import traced
from sentiment.transformer import TransformerScorer

TEXTS = [
    "@SkywayAir thank you, lovely crew!",
    "@SkywayAir you lost my bag and nobody answers. Booking ABC123, call me on 0612345678",
    "hello",
    "",
    "my bag is lost " * 400,  # truncated at the model's length
    "✈️😡😡😡🧳❓",
    "@SkywayAir رحلتي تأخرت ثلاث ساعات ولا أحد يجيب",
    "<script>alert('x')</script> where is my refund",
    "great, another cancelled flight. thanks for nothing",
]


@pytest.fixture(scope="module")
def eager():  # type: ignore[no-untyped-def]
    return TransformerScorer(quantize=True, trace=False)


def test_the_production_scorer_runs_traced(scorer, scorer_fp32, eager):
    assert scorer.traced
    assert scorer_fp32.traced
    assert not eager.traced


def test_traced_scores_equal_the_eager_ones(scorer, eager):
    # One batch of mixed lengths (padding inside the traced pass) and each text alone.
    for batch in [TEXTS, *([t] for t in TEXTS)]:
        for fast, slow in zip(scorer.score(batch), eager.score(batch), strict=True):
            assert fast.sentiment is slow.sentiment
            assert fast.issue == slow.issue
            assert fast.urgency_reasons == slow.urgency_reasons
            for a, b in (
                (fast.probs.negative, slow.probs.negative),
                (fast.probs.positive, slow.probs.positive),
                (fast.urgency, slow.urgency),
                (fast.troll_prob, slow.troll_prob),
                (fast.needs_reply_prob, slow.needs_reply_prob),
            ):
                assert a == pytest.approx(b, abs=2e-4)


def test_a_tracer_that_fails_leaves_the_scorer_eager(scorer, monkeypatch, caplog):
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("torch.jit is gone")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    with caplog.at_level(logging.WARNING, logger="sentiment.traced"):
        assert traced.traced_embed(scorer.network, scorer.device) is None
    assert "could not trace the encoder (RuntimeError: torch.jit is gone)" in caplog.text


def test_a_trace_that_disagrees_with_the_eager_pass_is_not_used(scorer, monkeypatch, caplog):
    real_trace = torch.jit.trace

    def off_by_a_little(module, example, **kwargs):  # type: ignore[no-untyped-def]
        good = real_trace(module, example, **kwargs)
        return lambda ids, mask: good(ids, mask) + 1e-2

    monkeypatch.setattr(torch.jit, "trace", off_by_a_little)
    with caplog.at_level(logging.WARNING, logger="sentiment.traced"):
        assert traced.traced_embed(scorer.network, scorer.device) is None
    assert "differs from the eager one by 0.01" in caplog.text
