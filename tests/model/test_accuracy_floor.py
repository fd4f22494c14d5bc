"""A broken or mismatched artifact must fail CI: accuracy floors on validation slices.

Floors sit a few points under the measured values (see models/scorer/MODEL_CARD.md),
far enough for noise, close enough that a corrupted artifact cannot pass.
"""

from __future__ import annotations

import pytest

from sentiment.data import load_corpus
from sentiment.evaluate import evaluate_scorer

FLOORS = {  # measured on these slices (int8): 0.697, 0.767, 0.832, 0.917, 0.596, 0.658
    "TweetEval sentiment macro-recall": 0.64,
    "TweetEval offensive macro-F1": 0.70,
    "airline sentiment accuracy": 0.80,
    "care needs-reply F1": 0.85,
    "care troll F1": 0.45,
    "care urgency macro-F1": 0.60,
}


@pytest.fixture(scope="module")
def metrics(scorer, shared_dir):
    corpus = load_corpus(shared_dir)
    return {m.name: m for m in evaluate_scorer(scorer, corpus, limit=500)}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_committed_model_stays_above_its_floor(metrics, name):
    metric = metrics[name]
    assert metric.n >= 200
    assert metric.value >= FLOORS[name], f"{name} = {metric.value:.3f} on {metric.n} items"
