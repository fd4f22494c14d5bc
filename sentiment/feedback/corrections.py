"""Agents' label corrections as training data: the file format and the held-out split.

The format is JSON Lines, one corrected label per line, as ``brandcare feedback export``
writes it. Only three keys are required::

    {"text": "...", "field": "sentiment", "label": "negative"}

``field`` is ``sentiment`` (label ``negative``/``neutral``/``positive``),
``urgency_level`` (``low``/``medium``/``high``) or ``troll`` (``true``/``false``, as a
JSON boolean or a string). ``platform`` and ``external_id``, when present, name the
post: they key the held-out split, so a post's corrections stay on one side of it even
as the file grows. Every other key (``model_said``, ``corrected_by``, ...) is ignored.

The split is a hash of that key, not a shuffle of the file: a correction exported again
next month lands on the same side, so a held-out correction is never trained on by a
later model that was trained on the longer file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentiment.base import PROB_DECISION, Scores, urgency_level
from sentiment.text import clean_text

#: Correctable labels and the values each takes (the inbox offers the same).
LABELS: dict[str, tuple[str, ...]] = {
    "sentiment": ("negative", "neutral", "positive"),
    "urgency_level": ("low", "medium", "high"),
    "troll": ("false", "true"),
}

HELDOUT_FRACTION = 0.2
SPLIT_SEED = 2026


class CorrectionsFileError(ValueError):
    """The corrections file cannot be read or has malformed lines (all are listed)."""


@dataclass(frozen=True, slots=True)
class Correction:
    """One corrected label: the text as the model saw it and what an agent says it is."""

    key: str
    text: str
    field: str
    label: str

    @property
    def model_text(self) -> str:
        """The text as the scorer reads it (entities decoded, whitespace collapsed)."""
        return clean_text(self.text)[0]


@dataclass(frozen=True, slots=True)
class CorrectionSplit:
    """Corrections to train on and corrections kept for measuring."""

    train: tuple[Correction, ...]
    heldout: tuple[Correction, ...]
    #: Held-out corrections left out because a training correction has the same text.
    dropped: int

    def training_texts(self) -> frozenset[str]:
        """Texts the retrained model has seen labeled: left out of every evaluation."""
        return frozenset(c.model_text for c in self.train)


def _label(field: str, value: object) -> str:
    if field == "troll" and isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        raise ValueError(f"label must be a string, not {type(value).__name__}")
    label = value.strip().lower()
    if label not in LABELS[field]:
        raise ValueError(f"{value!r} is not a {field}; use one of {', '.join(LABELS[field])}")
    return label


def _key(row: dict[str, object], text: str) -> str:
    platform, external = row.get("platform"), row.get("external_id")
    if platform is not None and external is not None:
        return f"{platform}:{external}"
    return "text:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def parse_corrections(lines: Iterable[str], source: str = "<corrections>") -> list[Correction]:
    """Corrections from JSON Lines; a later line for the same post and label wins.

    Every bad line is reported at once (line number and reason), so a file exported by
    hand or by another tool can be fixed in one go.
    """
    latest: dict[tuple[str, str], Correction] = {}
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            text, field = row.get("text"), row.get("field")
            if not isinstance(text, str):
                raise ValueError("no text (a string)")
            if field not in LABELS:
                raise ValueError(f"field {field!r} is not one of {', '.join(LABELS)}")
            label = _label(field, row.get("label"))
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        key = _key(row, text)
        latest[(key, field)] = Correction(key, text, field, label)
    if problems:
        raise CorrectionsFileError(
            f"{len(problems)} malformed correction(s):\n" + "\n".join(problems[:20])
        )
    return list(latest.values())


def read_corrections(path: Path) -> list[Correction]:
    """Corrections from a JSON Lines file (see the module docstring for the format)."""
    try:
        with path.open(encoding="utf-8") as fh:
            return parse_corrections(fh, str(path))
    except OSError as exc:
        raise CorrectionsFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CorrectionsFileError(f"{path} is not UTF-8 text (byte {exc.start})") from exc


def is_heldout(key: str, fraction: float = HELDOUT_FRACTION, seed: int = SPLIT_SEED) -> bool:
    """Whether a post's corrections are kept for measuring (a hash, stable across exports)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_corrections(
    corrections: Sequence[Correction],
    fraction: float = HELDOUT_FRACTION,
    seed: int = SPLIT_SEED,
) -> CorrectionSplit:
    """Training and held-out corrections; held-out texts that also train are dropped."""
    train = tuple(c for c in corrections if not is_heldout(c.key, fraction, seed))
    seen = frozenset(c.model_text for c in train)
    held = [c for c in corrections if is_heldout(c.key, fraction, seed)]
    kept = tuple(c for c in held if c.model_text not in seen)
    return CorrectionSplit(train, kept, len(held) - len(kept))


def model_answer(scores: Scores, field: str) -> str:
    """What the model says for a correctable label, in the corrections' vocabulary.

    Trolling is the troll head at its decision point and urgency the model's level,
    before the policy adds author reach: what retraining can change.
    """
    if field == "sentiment":
        return scores.sentiment.value
    if field == "urgency_level":
        return urgency_level(scores.urgency)
    if field == "troll":
        return "true" if scores.troll_prob >= PROB_DECISION else "false"
    raise KeyError(field)


def of_field(corrections: Sequence[Correction], name: str) -> list[Correction]:
    """The corrections of one label; each head learns from its own."""
    return [c for c in corrections if c.field == name]
