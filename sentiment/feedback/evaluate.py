"""Before and after a retraining on corrections: held-out corrections and validation sets.

Both models are measured on the same texts. The validation sets lose every text the new
model was trained on as a correction (an agent may well correct a post that is also in
a public dataset), for the old model too, so "before" and "after" stay comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sentiment.base import Scorer
from sentiment.data import Corpus
from sentiment.evaluate import Metric, evaluate_scorer
from sentiment.feedback.corrections import LABELS, CorrectionSplit, model_answer
from sentiment.text import clean_text

#: A validation metric may fall by at most this much (1 point) after retraining.
TOLERANCE = 0.01


@dataclass(frozen=True, slots=True)
class FieldResult:
    """Share of held-out corrections each model labels as the agents did."""

    field: str
    n: int
    before: float
    after: float


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    """What retraining on corrections changed, measured on data it did not train on."""

    before_version: str
    after_version: str
    heldout: tuple[FieldResult, ...]
    validation_before: tuple[Metric, ...]
    validation_after: tuple[Metric, ...]
    #: Validation texts left out because the new model trained on them as corrections.
    excluded: int
    tolerance: float = TOLERANCE

    @property
    def regressions(self) -> list[tuple[str, float, float]]:
        """(metric, before, after) for each validation metric that fell past the tolerance."""
        return [
            (b.name, b.value, a.value)
            for b, a in zip(self.validation_before, self.validation_after, strict=True)
            if a.value < b.value - self.tolerance - 1e-12
        ]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (the model card's ``feedback.json``)."""
        return {
            "before_version": self.before_version,
            "after_version": self.after_version,
            "heldout_corrections": [
                {"field": r.field, "n": r.n, "before": r.before, "after": r.after}
                for r in self.heldout
            ],
            "validation": [
                {
                    "metric": b.name,
                    "dataset": b.dataset,
                    "n": b.n,
                    "before": b.value,
                    "after": a.value,
                }
                for b, a in zip(self.validation_before, self.validation_after, strict=True)
            ],
            "validation_texts_excluded": self.excluded,
            "tolerance": self.tolerance,
            "regressions": [m for m, _, _ in self.regressions],
        }


def without_texts(corpus: Corpus, texts: frozenset[str]) -> tuple[Corpus, int]:
    """The corpus minus evaluation items whose text is in ``texts``; and how many went."""
    removed = 0

    def keep(items: Sequence[Any]) -> list[Any]:
        nonlocal removed
        kept = [i for i in items if clean_text(i.text)[0] not in texts]
        removed += len(items) - len(kept)
        return kept

    if not texts:
        return corpus, 0
    filtered = replace(
        corpus,
        care_heldout=keep(corpus.care_heldout),
        sentiment_test=keep(corpus.sentiment_test),
        offensive_val=keep(corpus.offensive_val),
        airline_heldout=keep(corpus.airline_heldout),
    )
    return filtered, removed


def heldout_results(
    before: Scorer, after: Scorer, split: CorrectionSplit
) -> tuple[FieldResult, ...]:
    """Per corrected label, and for all together: how often each model agrees with agents."""
    items = list(split.heldout)
    if not items:
        return ()
    texts = [c.text for c in items]
    said_before = [
        model_answer(s, c.field) for s, c in zip(before.score(texts), items, strict=True)
    ]
    said_after = [model_answer(s, c.field) for s, c in zip(after.score(texts), items, strict=True)]
    results = []
    for field in (*LABELS, "all"):
        rows = [i for i, c in enumerate(items) if field in ("all", c.field)]
        if not rows:
            continue
        results.append(
            FieldResult(
                field,
                len(rows),
                sum(said_before[i] == items[i].label for i in rows) / len(rows),
                sum(said_after[i] == items[i].label for i in rows) / len(rows),
            )
        )
    return tuple(results)


def compare(
    before: Scorer,
    after: Scorer,
    corpus: Corpus,
    split: CorrectionSplit,
    *,
    limit: int | None = None,
) -> FeedbackReport:
    """Measure both models on the held-out corrections and the validation sets."""
    filtered, excluded = without_texts(corpus, split.training_texts())
    return FeedbackReport(
        before_version=before.model_version,
        after_version=after.model_version,
        heldout=heldout_results(before, after, split),
        validation_before=tuple(evaluate_scorer(before, filtered, limit=limit)),
        validation_after=tuple(evaluate_scorer(after, filtered, limit=limit)),
        excluded=excluded,
    )


def format_report(report: FeedbackReport, split: CorrectionSplit) -> str:
    """Markdown tables: held-out corrections, then validation sets with any regression flagged."""
    lines = [
        f"before: {report.before_version}; after: {report.after_version}",
        "",
        f"Held-out corrections ({len(split.heldout)} not trained on; {len(split.train)} trained "
        f"on; {split.dropped} held-out left out as duplicates of training texts): share the "
        "model labels as the agents did",
        "",
        "| label | n | before | after |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.field} | {r.n} | {r.before:.3f} | {r.after:.3f} |" for r in report.heldout]
    if not report.heldout:
        lines.append("| (no held-out corrections) | 0 | | |")
    lines += [
        "",
        f"Validation sets ({report.excluded} texts the new model trained on left out of both "
        f"columns); a fall of more than {report.tolerance * 100:.0f} point is a REGRESSION",
        "",
        "| metric | before | after | change (points) | data (n) |",
        "|---|---|---|---|---|",
    ]
    flagged = {name for name, _, _ in report.regressions}
    for b, a in zip(report.validation_before, report.validation_after, strict=True):
        flag = " REGRESSION" if b.name in flagged else ""
        lines.append(
            f"| {b.name} | {b.value:.3f} | {a.value:.3f} | {(a.value - b.value) * 100:+.1f}{flag} "
            f"| {b.dataset} ({b.n}) |"
        )
    return "\n".join(lines)
