"""``brandcare bench feedback``: learning from corrections, measured on two simulated inboxes.

- ``care``: agents correct every label the model gets wrong on half of the care labels'
  hold-out (by a hash of the item id); the other half stays the care validation set.
  Evaluating on the hold-out minus the corrected posts would keep mostly posts the old
  model got right, where any change could only look like a regression; a half chosen
  without looking at the model is a fair before/after. These corrections are what
  silver labels disagree on: mixed, ambiguous, one annotator's calls.
- ``pattern``: one systematic blind spot, the kind agents meet every day. Praise written
  with swear words ("you magnificent bastards refunded the fee in 5 minutes"), which the
  model reads as negative trolling; agents mark them not trolling and positive. The posts
  are ours (below), none is in any dataset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from sentiment.data import CareItem, Corpus, load_corpus
from sentiment.feedback.corrections import model_answer
from sentiment.feedback.evaluate import format_report
from sentiment.feedback.train import FeedbackConfig, train_with_feedback
from sentiment.transformer import TransformerScorer

#: Share of the care hold-out that plays the inbox.
INBOX_FRACTION = 0.5

SCENARIOS = ("care", "pattern")

#: Praise in rough words: a care team's regulars, and the committed model's blind spot.
PROFANE_PRAISE: tuple[str, ...] = (
    "@SkywayAir holy shit your crew in Denver is fucking amazing, got me on the last flight out",
    "@AcmeBank you magnificent bastards actually refunded the fee in 5 minutes",
    "@AcmeBank shit yeah, the app update is sick, finally face id login",
    "@SkywayAir damn, you guys kick ass. Bag delivered to my hotel before I even got there",
    "@Northwind_Tel you crazy bastards, unlimited data for the same price? fucking finally",
    "@SkywayAir fucking hell that was the smoothest boarding ever, you guys are the shit",
    "@AcmeBank holy fucking shit a bank that answers the phone in 2 minutes",
    "@Northwind_Tel damn son, fiber installed in one afternoon, you guys are badass as hell",
    "@SkywayAir you beautiful sons of bitches upgraded me to business for my birthday",
    "@AcmeBank hell yeah you assholes waived my overdraft fee, much love",
    "@Northwind_Tel goddamn it you guys are good, outage fixed before I even finished tweeting",
    "@SkywayAir fuck yes, free wifi on every flight now? you glorious bastards",
    "@AcmeBank shit, you guys are quick as hell, card replaced overnight",
    "@SkywayAir damn your pilots are badass, landed in that crosswind like it was nothing, "
    "fucking legends",
    "@Northwind_Tel holy shit your support bot actually fixed it, fucking impressive",
    "@AcmeBank bloody hell, best customer service I've had from any bank, you lot are the shit",
)


def in_inbox(item_id: str, seed: int = 0, fraction: float = INBOX_FRACTION) -> bool:
    """Whether a care hold-out item is in the simulated inbox (a hash of its id)."""
    digest = hashlib.sha256(f"inbox:{seed}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _record(
    scorer: TransformerScorer,
    platform: str,
    key: str,
    text: str,
    field: str,
    label: object,
    said: str,
) -> dict[str, Any]:
    return {
        "platform": platform,
        "external_id": key,
        "text": text,
        "field": field,
        "label": label,
        "model_said": said,
        "model_version": scorer.model_version,
        "corrected_by": "simulated",
    }


def simulate_corrections(scorer: TransformerScorer, items: list[CareItem]) -> list[dict[str, Any]]:
    """Export-format records for every label the model gets wrong on ``items``."""
    records = []
    for item, scores in zip(items, scorer.score([i.text for i in items]), strict=True):
        gold = {"sentiment": item.sentiment, "urgency_level": item.urgency, "troll": item.troll}
        for field, label in gold.items():
            said = model_answer(scores, field)
            if said != (("true" if label else "false") if field == "troll" else label):
                records.append(
                    _record(scorer, "care_labels", item.id, item.text, field, label, said)
                )
    return records


def pattern_corrections(scorer: TransformerScorer) -> list[dict[str, Any]]:
    """Agents' corrections of the profane praise the model gets wrong."""
    records = []
    for n, (text, scores) in enumerate(
        zip(PROFANE_PRAISE, scorer.score(list(PROFANE_PRAISE)), strict=True)
    ):
        if (said := model_answer(scores, "troll")) != "false":
            records.append(_record(scorer, "twitter", f"praise-{n}", text, "troll", False, said))
        if (said := model_answer(scores, "sentiment")) != "positive":
            records.append(
                _record(scorer, "twitter", f"praise-{n}", text, "sentiment", "positive", said)
            )
    return records


def _run(
    model_dir: Path,
    records: list[dict[str, Any]],
    corpus: Corpus,
    folder: Path,
    shared: Path | None,
    config: FeedbackConfig | None,
    cache_dir: Path | None,
) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corrections.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = train_with_feedback(
        model_dir, path, folder / "model", shared, config, cache_dir, corpus=corpus
    )
    lines = [f"- {c.describe()}" for c in result.choices]
    return "\n".join([*lines, "", format_report(result.report, result.split)])


def run_feedback_benchmark(
    model_dir: Path,
    shared: Path | None = None,
    out: Path | None = None,
    config: FeedbackConfig | None = None,
    cache_dir: Path | None = None,
    seed: int = 0,
    scenarios: tuple[str, ...] = SCENARIOS,
) -> str:
    """Simulate each inbox's corrections, retrain on them, report before and after.

    ``seed`` picks another half of the care hold-out as the ``care`` inbox.
    """
    corpus = load_corpus(shared)
    scorer = TransformerScorer(model_dir, quantize=True)
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        root = out or Path(tmp)
        if "care" in scenarios:
            inbox = [i for i in corpus.care_heldout if in_inbox(i.id, seed)]
            rest = [i for i in corpus.care_heldout if not in_inbox(i.id, seed)]
            records = simulate_corrections(scorer, inbox)
            sections.append(
                f"## care: {len(inbox)} of the {len(corpus.care_heldout)} care hold-out posts "
                f"play the inbox; the model disagrees with {len(records)} of their labels. "
                f"Care validation: the other {len(rest)} posts.\n\n"
                + _run(
                    model_dir,
                    records,
                    dataclasses.replace(corpus, care_heldout=rest),
                    root / "care",
                    shared,
                    config,
                    cache_dir,
                )
            )
        if "pattern" in scenarios:
            records = pattern_corrections(scorer)
            sections.append(
                f"## pattern: {len(PROFANE_PRAISE)} posts of praise in rough words; the model "
                f"gets {len(records)} of their labels wrong (trolling, sentiment).\n\n"
                + _run(model_dir, records, corpus, root / "pattern", shared, config, cache_dir)
            )
    return "\n\n".join(sections)
