"""The shared datasets (``../shared/datasets``) and the fixed splits we train and report on.

Splits are seeded and keyed by example id, so ``brandcare train`` and
``brandcare evaluate`` agree on what was held out without storing any data in the repo.
Every care-label item is kept out of the encoder's training data (its airline items
come from ``airline/train.jsonl``), so the care heads are measured on text the encoder
never trained on.
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLIT_SEED = 2026
AIRLINE_HELDOUT_FRACTION = 0.15
CARE_HELDOUT_FRACTION = 0.4


class DatasetMissingError(FileNotFoundError):
    """The shared datasets are not where we looked."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labeled text of one task."""

    id: str
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class CareItem:
    """One care-labeled mention (see ``care_labels/README.md``)."""

    id: str
    source: str
    text: str
    sentiment: str
    needs_reply: bool
    troll: bool
    urgency: str
    issue: str


def shared_dir() -> Path:
    """Where ``../shared`` is: ``$BRANDCARE_SHARED``, else beside the repo or the working dir."""
    env = os.environ.get("BRANDCARE_SHARED")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parent.parent
    candidates += [repo.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"]
    for candidate in candidates:
        if (candidate / "datasets").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise DatasetMissingError(
        f"no shared datasets found (looked in {looked}); set BRANDCARE_SHARED to the folder "
        "that holds datasets/"
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines file; a broken line names its file and number."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            yield row


def _examples(rows: Iterable[dict[str, Any]], field: str = "label") -> list[Example]:
    return [Example(str(r["id"]), str(r["text"]), str(r[field])) for r in rows]


def _heldout(ids: list[str], fraction: float, salt: str) -> set[str]:
    rng = random.Random(f"{SPLIT_SEED}:{salt}")
    shuffled = sorted(ids)
    rng.shuffle(shuffled)
    return set(shuffled[: round(len(shuffled) * fraction)])


@dataclass(frozen=True, slots=True)
class Corpus:
    """Every training and evaluation set, split."""

    train: dict[str, list[Example]]
    care_train: list[CareItem]
    care_heldout: list[CareItem]
    sentiment_test: list[Example]
    offensive_val: list[Example]
    airline_heldout: list[Example]


def load_care(root: Path) -> list[CareItem]:
    """The 500 care-labeled mentions."""
    return [
        CareItem(
            id=str(r["id"]),
            source=str(r["source"]),
            text=str(r["text"]),
            sentiment=str(r["sentiment"]),
            needs_reply=bool(r["needs_reply"]),
            troll=bool(r["troll"]),
            urgency=str(r["urgency"]),
            issue=str(r["issue"]),
        )
        for r in read_jsonl(root / "datasets" / "care_labels" / "dev.jsonl")
    ]


def split_care(items: list[CareItem]) -> tuple[list[CareItem], list[CareItem]]:
    """A held-out part of the care labels, stratified by source, troll and urgency."""
    strata: dict[tuple[str, bool, str], list[str]] = defaultdict(list)
    for item in items:
        strata[(item.source, item.troll, item.urgency)].append(item.id)
    held: set[str] = set()
    for key, ids in sorted(strata.items()):
        held |= _heldout(ids, CARE_HELDOUT_FRACTION, f"care:{key}")
    return [i for i in items if i.id not in held], [i for i in items if i.id in held]


def load_corpus(root: Path | None = None) -> Corpus:
    """Read every dataset and apply the fixed splits."""
    root = root or shared_dir()
    data = root / "datasets"
    care = load_care(root)
    care_ids = {item.id for item in care}
    care_train, care_heldout = split_care(care)

    airline_rows = [
        r for r in read_jsonl(data / "airline" / "train.jsonl") if r["id"] not in care_ids
    ]
    airline_held = _heldout([r["id"] for r in airline_rows], AIRLINE_HELDOUT_FRACTION, "airline")
    airline_train = [r for r in airline_rows if r["id"] not in airline_held]

    def tweeteval(task: str, split: str) -> list[Example]:
        rows = read_jsonl(data / "tweeteval" / task / f"{split}.jsonl")
        return _examples(r for r in rows if r["id"] not in care_ids)

    train = {
        # TweetEval's sentiment train split is not shared; its val split is our
        # tweet-domain sentiment data, and test_a stays untouched for reporting.
        "sentiment": _examples(airline_train) + tweeteval("sentiment", "val"),
        "offensive": tweeteval("offensive", "train"),
        "hate": tweeteval("hate", "train"),
        "irony": tweeteval("irony", "train"),
        "emotion": tweeteval("emotion", "train"),
        "reason": _examples(
            (r for r in airline_train if r.get("negative_reason")), field="negative_reason"
        ),
    }
    return Corpus(
        train=train,
        care_train=care_train,
        care_heldout=care_heldout,
        sentiment_test=tweeteval("sentiment", "test_a"),
        offensive_val=tweeteval("offensive", "val"),
        airline_heldout=_examples(r for r in airline_rows if r["id"] in airline_held),
    )
