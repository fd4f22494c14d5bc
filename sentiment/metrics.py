"""The few classification metrics we report, written out so their definitions are visible."""

from __future__ import annotations

from collections.abc import Sequence


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Share of exact matches."""
    _same_length(gold, pred)
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / max(len(gold), 1)


def recall(gold: Sequence[str], pred: Sequence[str], label: str) -> float:
    """Recall of one class (0 when the class is absent from gold)."""
    relevant = [p for g, p in zip(gold, pred, strict=True) if g == label]
    return sum(p == label for p in relevant) / len(relevant) if relevant else 0.0


def f1(gold: Sequence[str], pred: Sequence[str], label: str) -> float:
    """F1 of one class, as TweetEval and the care targets define it."""
    _same_length(gold, pred)
    tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
    fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
    fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def macro_recall(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Mean recall over the classes present in gold (TweetEval's sentiment metric)."""
    labels = sorted(set(gold))
    return sum(recall(gold, pred, label) for label in labels) / len(labels)


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Mean F1 over the classes present in gold."""
    labels = sorted(set(gold))
    return sum(f1(gold, pred, label) for label in labels) / len(labels)


def _same_length(gold: Sequence[str], pred: Sequence[str]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
