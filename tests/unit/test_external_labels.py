"""Which output of a sentiment checkpoint is which class: read from its labels, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandcare.config import Settings
from sentiment.external import ExternalSentimentError, label_order

FOLDER = Path("/models/some-checkpoint")


@pytest.mark.parametrize(
    ("labels", "order"),
    [
        ({0: "negative", 1: "neutral", 2: "positive"}, (0, 1, 2)),
        ({0: "POS", 1: "NEG", 2: "NEU"}, (1, 2, 0)),
        ({0: "Negative", 1: "Positive"}, (0, None, 1)),
        ({0: "positive", 1: "negative"}, (1, None, 0)),
    ],
)
def test_labels_are_read_in_any_case_and_order(labels, order):
    assert label_order(labels, FOLDER) == order


@pytest.mark.parametrize(
    "labels",
    [
        {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"},
        {0: "negative", 1: "neutral", 2: "positive", 3: "mixed"},
        {0: "negative", 1: "negative", 2: "positive"},
        {0: "1 star", 1: "5 stars"},
    ],
)
def test_labels_that_do_not_name_the_classes_are_refused(labels):
    with pytest.raises(ExternalSentimentError, match="id2label") as info:
        label_order(labels, FOLDER)
    assert str(FOLDER) in str(info.value)


def test_a_checkpoint_without_both_poles_is_refused():
    with pytest.raises(ExternalSentimentError, match="no negative and positive"):
        label_order({0: "neutral", 1: "positive"}, FOLDER)


def test_the_setting_comes_from_the_environment(monkeypatch, tmp_path):
    assert Settings(_env_file=None).sentiment_model is None  # type: ignore[call-arg]
    monkeypatch.setenv("BRANDCARE_SENTIMENT_MODEL", str(tmp_path))
    assert Settings(_env_file=None).sentiment_model == tmp_path  # type: ignore[call-arg]
