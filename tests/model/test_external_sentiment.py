"""BRANDCARE_SENTIMENT_MODEL: a local Hugging Face checkpoint reports the sentiment.

The checkpoint is a tiny BERT the tests build (2 layers, hidden 32) whose classifier
always answers one class by a wide margin, so any text shows whose answer is reported.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from brandcare.config import Settings
from brandcare.pipeline.runtime import default_scorer
from sentiment.base import Sentiment
from sentiment.external import ExternalSentiment, ExternalSentimentError
from tests.conftest import REPO

#: Texts the built-in scorer calls negative without any sarcasm (checked below).
COMPLAINTS = [
    "@SkywayAir you lost my bag and nobody answers",
    "@NimbusBank you charged me twice for the same order, $89 each",
    "@StreamlyHelp worst app ever, it crashes every single time",
]
SARCASM = "@SkywayAir great, another cancelled flight. Love spending my birthday at O'Hare."


def build_checkpoint(
    folder: Path, labels: dict[int, str], always: int, *, bare: bool = False
) -> Path:
    """A tiny sequence classifier that answers class ``always`` for every text."""
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    from sentiment.encoder import load_tokenizer

    tokenizer = load_tokenizer()
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(labels),
        id2label=labels,
        label2id={name: i for i, name in labels.items()},
    )
    torch.manual_seed(0)
    if bare:
        BertModel(config).save_pretrained(folder)
    else:
        model = BertForSequenceClassification(config)
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.fill_(-10.0)
            model.classifier.bias[always] = 10.0
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def positive_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("always-positive")
    return build_checkpoint(folder, {0: "negative", 1: "neutral", 2: "positive"}, always=2)


@pytest.fixture(scope="session")
def scorer_hf(positive_model: Path):  # type: ignore[no-untyped-def]
    """The production scorer built as the app builds it, with the setting."""
    return default_scorer(Settings(sentiment_model=positive_model, _env_file=None))  # type: ignore[call-arg]


def test_the_checkpoint_is_the_reported_sentiment(scorer, scorer_hf):
    builtin = scorer.score(COMPLAINTS)
    assert [s.sentiment for s in builtin] == [Sentiment.NEGATIVE] * len(COMPLAINTS)
    for s in scorer_hf.score(COMPLAINTS):
        assert s.sentiment is Sentiment.POSITIVE
        assert s.probs.positive > 0.99
        assert math.isclose(s.probs.negative + s.probs.neutral + s.probs.positive, 1, abs_tol=1e-3)
        assert "negative" not in s.urgency_reasons  # the reasons follow the reported label


def test_care_outputs_are_the_builtin_scorers(scorer, scorer_hf):
    texts = [*COMPLAINTS, "Shoutout to Maria at the @SkywayAir gate!", "", "hello"]
    for ours, theirs in zip(scorer.score(texts), scorer_hf.score(texts), strict=True):
        assert (ours.needs_reply_prob, ours.troll_prob, ours.urgency) == (
            theirs.needs_reply_prob,
            theirs.troll_prob,
            theirs.urgency,
        )
        assert (ours.issue, ours.issue_prob, ours.offensive_prob, ours.signals) == (
            theirs.issue,
            theirs.issue_prob,
            theirs.offensive_prob,
            theirs.signals,
        )
        assert ours.troll_reasons == theirs.troll_reasons


def test_an_empty_text_is_neutral_whatever_the_checkpoint_says(scorer_hf):
    for s in scorer_hf.score(["", "   "]):
        assert s.sentiment is Sentiment.NEUTRAL
        assert (s.probs.negative, s.probs.neutral, s.probs.positive) == (0.0, 1.0, 0.0)
        assert s.urgency_reasons == ("empty text",)


def test_the_model_version_names_the_checkpoint(scorer, scorer_hf, positive_model):
    assert scorer_hf.model_version != scorer.model_version
    assert scorer_hf.model_version.startswith(scorer.model_version + "+sent-")
    assert len(scorer_hf.model_version) <= 64  # the stores' column
    # The app runs the scorer on its torch thread; the checkpoint is the wrapped scorer's.
    assert scorer_hf.inner.external_sentiment.digest.startswith(scorer_hf.model_version[-10:])
    assert all(s.model_version == scorer_hf.model_version for s in scorer_hf.score(COMPLAINTS))


def test_the_reported_sentiment_is_the_checkpoints_and_the_care_decisions_ours(scorer, scorer_hf):
    # No rule overrides a sentiment model the operator chose; the care decisions stay
    # the built-in model's, whatever the checkpoint answers.
    (builtin,) = scorer.score([SARCASM])
    (s,) = scorer_hf.score([SARCASM])
    assert s.sentiment is Sentiment.POSITIVE
    assert (s.needs_reply_prob, s.urgency, s.signals, s.troll_prob) == (
        builtin.needs_reply_prob,
        builtin.urgency,
        builtin.signals,
        builtin.troll_prob,
    )


def test_a_two_class_checkpoint_has_no_neutral(tmp_path):
    folder = build_checkpoint(tmp_path / "neg-pos", {0: "NEG", 1: "POS"}, always=0)
    probs = ExternalSentiment(folder).probs(["lovely crew, thank you", "ok"])
    assert probs.shape == (2, 3)
    assert probs[:, 1].tolist() == [0.0, 0.0]
    assert probs[:, 0].min() > 0.99
    assert torch.allclose(probs.sum(-1), torch.ones(2))


def test_a_missing_folder_is_named_with_what_to_do(tmp_path):
    folder = tmp_path / "twitter-roberta-base-sentiment-latest"
    with pytest.raises(ExternalSentimentError, match="does not exist") as info:
        ExternalSentiment(folder)
    assert str(folder) in str(info.value)
    assert "BRANDCARE_SENTIMENT_MODEL" in str(info.value)


def test_unnamed_labels_are_refused_not_guessed(tmp_path):
    folder = build_checkpoint(tmp_path / "m", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, 2)
    with pytest.raises(ExternalSentimentError, match="id2label") as info:
        ExternalSentiment(folder)
    assert str(folder) in str(info.value)


def test_a_bare_encoder_is_not_a_classifier(tmp_path):
    folder = build_checkpoint(tmp_path / "bare", {0: "negative", 1: "positive"}, 0, bare=True)
    with pytest.raises(ExternalSentimentError, match="not a sequence-classification"):
        ExternalSentiment(folder)
    # Without the architecture in its config, the missing classifier weights give it away.
    config = json.loads((folder / "config.json").read_text())
    del config["architectures"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExternalSentimentError, match=r"lacks weights .*classifier"):
        ExternalSentiment(folder)


def run_score(env: dict[str, str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brandcare.cli", "score"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **env},
        check=False,
    )


def test_brandcare_score_reads_the_setting(positive_model, tmp_path):
    lines = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(COMPLAINTS))
    result = run_score({"BRANDCARE_SENTIMENT_MODEL": str(positive_model)}, lines)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["sentiment"] for line in result.stdout.splitlines()] == [
        "positive"
    ] * len(COMPLAINTS)
    missing = tmp_path / "nowhere"
    result = run_score({"BRANDCARE_SENTIMENT_MODEL": str(missing)}, lines)
    assert result.returncode == 9  # the model is missing
    assert result.stdout == ""
    assert str(missing) in result.stderr
