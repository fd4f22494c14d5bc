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
#: Part of ``care_judgment`` (stratified by ``kind``) that nothing is fitted or tuned on.
JUDGMENT_HELDOUT_FRACTION = 0.3
#: Part of the care training items kept aside to tune thresholds on.
TUNE_FRACTION = 0.15
#: Part of TweetEval's sentiment ``test_a`` (stratified by label) that is reported and
#: never trained on. Its tweets come from a later period than the train split, so the
#: other half is trained on: the issue allows it, and drift is what production meets.
SENTIMENT_TEST_HELDOUT_FRACTION = 0.5

#: The care signals the scorer learns to recognise, in head order.
SIGNAL_KINDS: tuple[str, ...] = (
    "safety",
    "fraud",
    "account_takeover",
    "outage",
    "legal",
    "disruption",
    "time_pressure",
)


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
    #: Which case a judgment item probes (``care_judgment``'s ``kind``), else "".
    kind: str = ""
    lang: str = "en"
    #: Abuse, insult or mockery, with or without an issue; None where unlabeled.
    abusive: bool | None = None
    #: (signal kind, present) for the signals this item is labeled for; the rest are
    #: unknown and do not train their heads.
    signals: tuple[tuple[str, bool], ...] = ()


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


def _stratified(keyed: Iterable[tuple[object, str]], fraction: float, salt: str) -> set[str]:
    """Ids held out: ``fraction`` of every stratum (``key`` of ``(key, id)``), each stratum
    shuffled with its own seed, so adding items to one stratum moves no other."""
    strata: dict[object, list[str]] = defaultdict(list)
    for key, item_id in keyed:
        strata[key].append(item_id)
    held: set[str] = set()
    for key, ids in strata.items():
        held |= _heldout(ids, fraction, f"{salt}:{key}")
    return held


@dataclass(frozen=True, slots=True)
class Corpus:
    """Every training and evaluation set, split."""

    train: dict[str, list[Example]]
    care_train: list[CareItem]
    care_heldout: list[CareItem]
    #: The held-out part of ``care_judgment``: reported, never fitted or tuned on.
    judgment_heldout: list[CareItem]
    sentiment_test: list[Example]
    offensive_val: list[Example]
    airline_heldout: list[Example]


def load_care(root: Path) -> list[CareItem]:
    """The 500 care-labeled mentions."""
    path = root / "datasets" / "care_labels" / "dev.jsonl"
    return [_care_item(r, str(r["source"])) for r in read_jsonl(path)]


def split_care(items: list[CareItem]) -> tuple[list[CareItem], list[CareItem]]:
    """A held-out part of the care labels, stratified by source, troll and urgency."""
    held = _stratified(
        (((i.source, i.troll, i.urgency), i.id) for i in items), CARE_HELDOUT_FRACTION, "care"
    )
    return [i for i in items if i.id not in held], [i for i in items if i.id in held]


_CALM_KINDS = frozenset(
    {"praise_generic", "praise_notable", "chatter", "negation", "question_feedback", "troll"}
)
_ISSUE_SIGNALS = {"safety": "safety", "outage": "outage"}


def _derived_signals(
    kind: str, issue: str, urgency: str, needs_reply: bool
) -> list[tuple[str, bool]]:
    """Signal labels that follow from an item's other labels; the rest stay unknown.

    Low urgency rules every signal out (a signal is what makes a post urgent); a calm
    kind (praise, chatter, jokes, negations, questions, trolls) has none; an outage,
    safety or fraud item has its own, and an outage report saying it is back has none.
    """
    if urgency == "low" or kind in _CALM_KINDS:
        return [(k, False) for k in SIGNAL_KINDS]
    known: dict[str, bool] = {}
    if kind == "outage":
        known["outage"] = needs_reply
    elif kind == "safety":
        known["safety"] = True
    elif kind == "fraud_hacked":
        takeover = issue in {"security", "account_access"}
        known["account_takeover"] = takeover
        if not takeover:
            known["fraud"] = True
    signal = _ISSUE_SIGNALS.get(issue)
    if signal is not None and needs_reply:
        known.setdefault(signal, True)
    return sorted(known.items())


def _care_item(r: dict[str, Any], source: str) -> CareItem:
    kind = str(r.get("kind") or "")
    urgency = str(r["urgency"])
    issue = str(r["issue"])
    needs_reply = bool(r["needs_reply"])
    if "signals" in r:
        present = set(r["signals"])
        unknown = set(SIGNAL_KINDS) - present if r.get("signals_partial") else set()
        signals = tuple((k, k in present) for k in SIGNAL_KINDS if k not in unknown)
    else:
        signals = tuple(_derived_signals(kind, issue, urgency, needs_reply))
    abusive = r.get("abusive")
    if abusive is None and kind in {"troll", "rude_legit"}:
        abusive = True
    elif abusive is None and kind in _CALM_KINDS - {"troll"}:
        abusive = False
    elif abusive is None and bool(r["troll"]):
        abusive = True
    return CareItem(
        id=str(r["id"]),
        source=source,
        text=str(r["text"]),
        sentiment=str(r["sentiment"]),
        needs_reply=needs_reply,
        troll=bool(r["troll"]),
        urgency=urgency,
        issue=issue,
        kind=kind,
        lang=str(r.get("lang") or "en"),
        abusive=None if abusive is None else bool(abusive),
        signals=signals,
    )


def load_judgment(root: Path) -> list[CareItem]:
    """``care_judgment``: brand-addressed posts written for the triage decisions."""
    path = root / "datasets" / "care_judgment" / "dev.jsonl"
    return [_care_item(r, "care_judgment") for r in read_jsonl(path)]


def split_judgment(items: list[CareItem]) -> tuple[list[CareItem], list[CareItem]]:
    """(train, held out): a stratified 30% of every ``kind`` is held out."""
    held = _stratified(((i.kind, i.id) for i in items), JUDGMENT_HELDOUT_FRACTION, "judgment")
    return [i for i in items if i.id not in held], [i for i in items if i.id in held]


def corpus_dir() -> Path:
    """Our own written training posts (``sentiment/corpus``), shipped with the package."""
    return Path(__file__).resolve().parent / "corpus"


def load_written(folder: Path | None = None) -> list[CareItem]:
    """The posts we wrote from the care guide (see ``sentiment/corpus/README.md``)."""
    folder = folder or corpus_dir()
    items: list[CareItem] = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, r in enumerate(read_jsonl(path), 1):
            row = dict(r)
            row.setdefault("id", f"{path.stem}-{number}")
            try:
                items.append(_care_item(row, f"written:{path.stem}"))
            except KeyError as exc:
                raise ValueError(f"{path}:{number}: missing field {exc}") from exc
    return items


def split_tune(items: list[CareItem]) -> tuple[list[CareItem], list[CareItem]]:
    """(fit, tune): thresholds are chosen on items the heads were not fitted on."""
    held = _stratified(
        (((i.source.split(":")[0], i.troll, i.urgency), i.id) for i in items),
        TUNE_FRACTION,
        "tune",
    )
    return [i for i in items if i.id not in held], [i for i in items if i.id in held]


def split_sentiment_test(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(trained on, kept out) halves of ``test_a``, stratified by label."""
    kept = _stratified(
        ((str(r["label"]), str(r["id"])) for r in rows), SENTIMENT_TEST_HELDOUT_FRACTION, "test_a"
    )
    return [r for r in rows if r["id"] not in kept], [r for r in rows if r["id"] in kept]


def load_corpus(root: Path | None = None) -> Corpus:
    """Read every dataset and apply the fixed splits."""
    root = root or shared_dir()
    data = root / "datasets"
    care = load_care(root)
    care_ids = {item.id for item in care}
    care_fit, care_heldout = split_care(care)
    judgment_train, judgment_heldout = split_judgment(load_judgment(root))
    care_train = care_fit + judgment_train + load_written()

    airline_rows = [
        r for r in read_jsonl(data / "airline" / "train.jsonl") if r["id"] not in care_ids
    ]
    airline_held = _heldout([r["id"] for r in airline_rows], AIRLINE_HELDOUT_FRACTION, "airline")
    airline_train = [r for r in airline_rows if r["id"] not in airline_held]
    test_fit, test_kept = split_sentiment_test(
        [
            r
            for r in read_jsonl(data / "tweeteval" / "sentiment" / "test_a.jsonl")
            if r["id"] not in care_ids
        ]
    )

    def tweeteval(task: str, split: str) -> list[Example]:
        rows = read_jsonl(data / "tweeteval" / task / f"{split}.jsonl")
        return _examples(r for r in rows if r["id"] not in care_ids)

    train = {
        # TweetEval's full sentiment train split, its val split and half of test_a,
        # listed twice so the per-epoch sample holds the later period's tweets at twice
        # their share; the other half of test_a is kept out for reporting.
        "sentiment": _examples(airline_train)
        + tweeteval("sentiment", "train")
        + tweeteval("sentiment", "val")
        + _examples(test_fit) * 2,
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
        judgment_heldout=judgment_heldout,
        sentiment_test=_examples(test_kept),
        offensive_val=tweeteval("offensive", "val"),
        airline_heldout=_examples(r for r in airline_rows if r["id"] in airline_held),
    )
