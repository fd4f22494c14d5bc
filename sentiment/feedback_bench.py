"""``brandcare bench feedback``: learning from corrections, measured on a simulated inbox.

Agents correct live mentions; the only brand mentions with labels we have are the care
labels' hold-out. So half of it (by a hash of the item id) plays the inbox: wherever the
model disagrees with the label, an agent "corrects" it, and those corrections are
written in the export format. The other half stays the care validation set.

Why half and not all: evaluating on the hold-out minus the corrected posts would keep
mostly posts the old model got right, and any change to the model could only look like
a regression there. A half chosen without looking at the model is a fair before/after.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from sentiment.corrections import model_answer
from sentiment.data import CareItem, load_corpus
from sentiment.feedback_eval import format_report
from sentiment.feedback_train import FeedbackConfig, train_with_feedback
from sentiment.transformer import TransformerScorer

#: Share of the care hold-out that plays the inbox.
INBOX_FRACTION = 0.5


def in_inbox(item_id: str, seed: int = 0, fraction: float = INBOX_FRACTION) -> bool:
    """Whether a care hold-out item is in the simulated inbox (a hash of its id)."""
    digest = hashlib.sha256(f"inbox:{seed}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def simulate_corrections(scorer: TransformerScorer, items: list[CareItem]) -> list[dict[str, Any]]:
    """Export-format records for every label the model gets wrong on ``items``."""
    records = []
    for item, scores in zip(items, scorer.score([i.text for i in items]), strict=True):
        gold = {"sentiment": item.sentiment, "urgency_level": item.urgency, "troll": item.troll}
        for field, label in gold.items():
            said = model_answer(scores, field)
            if said != (("true" if label else "false") if field == "troll" else label):
                records.append(
                    {
                        "platform": "care_labels",
                        "external_id": item.id,
                        "text": item.text,
                        "field": field,
                        "label": label,
                        "model_said": said,
                        "model_version": scorer.model_version,
                        "corrected_by": "simulated",
                    }
                )
    return records


def run_feedback_benchmark(
    model_dir: Path,
    shared: Path | None = None,
    out: Path | None = None,
    config: FeedbackConfig | None = None,
    cache_dir: Path | None = None,
    seed: int = 0,
) -> str:
    """Simulate the inbox's corrections, retrain on them, report before and after.

    ``seed`` picks another half of the hold-out as the inbox.
    """
    corpus = load_corpus(shared)
    inbox = [i for i in corpus.care_heldout if in_inbox(i.id, seed)]
    rest = [i for i in corpus.care_heldout if not in_inbox(i.id, seed)]
    scorer = TransformerScorer(model_dir, quantize=True)
    records = simulate_corrections(scorer, inbox)
    with tempfile.TemporaryDirectory() as tmp:
        folder = out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "corrections.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        result = train_with_feedback(
            model_dir,
            path,
            folder / "model",
            shared,
            config,
            cache_dir,
            corpus=dataclasses.replace(corpus, care_heldout=rest),
        )
    lines = [
        f"Simulated inbox: {len(inbox)} of the {len(corpus.care_heldout)} care hold-out posts; "
        f"the model disagrees with {len(records)} of their labels (agents' corrections). "
        f"Care validation: the other {len(rest)} posts.",
        "",
        *(f"- {c.describe()}" for c in result.choices),
        "",
        format_report(result.report, result.split),
    ]
    return "\n".join(lines)
