"""The JSON Lines contracts other tools rely on (see DESIGN.md), at the edge of the app.

``brandcare score`` reads ``ScoreRequest`` lines and writes ``score_records``;
``brandcare draft`` reads ``DraftRequest`` lines (its drafts: ``replies.drafting``);
``brandcare import conversations`` validates its lines here too (``parse_requests``).
Input lines are validated before anything is scored, so a malformed file produces no
partial output: the command reports every bad line (up to a limit) and exits 2.
``POST /api/v1/score`` takes the same objects as a JSON list (``parse_items``): the same
rules and messages, an item named by its index instead of a line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from responders.policy import decide
from sentiment.base import Scorer

MAX_REPORTED_ERRORS = 10
SCORE_SHAPE = '{"id": <string or integer>, "text": <string>}'
DRAFT_SHAPE = (
    '{"id": <string or integer>, "text": <string>, "brand": <string>, '
    '"author": <string>, "platform": "twitter"|"reddit"}'
)


class ScoreRequest(BaseModel):
    """One input line: ``{"id": ..., "text": ...}``; ``followers`` is optional author reach."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr | StrictInt
    text: StrictStr
    followers: StrictInt | None = Field(default=None, ge=0)


class DraftRequest(BaseModel):
    """One input line of ``brandcare draft``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr | StrictInt
    text: StrictStr
    brand: StrictStr = Field(min_length=1)
    author: StrictStr = ""
    author_name: StrictStr = ""
    platform: StrictStr = "twitter"
    followers: StrictInt | None = Field(default=None, ge=0)


@dataclass(frozen=True, slots=True)
class LineError:
    """A malformed input line (or list item, numbered from 0) and what is wrong with it."""

    line: int
    message: str
    unit: str = "line"

    def __str__(self) -> str:
        where = f"items[{self.line}]" if self.unit == "item" else f"{self.unit} {self.line}"
        return f"{where}: {self.message}"


class MalformedInputError(ValueError):
    """Input lines (or items) that do not follow the contract; nothing was scored."""

    def __init__(
        self,
        errors: Sequence[LineError],
        total: int,
        expected: str = SCORE_SHAPE,
        unit: str = "line",
    ) -> None:
        self.errors = list(errors)
        self.total = total
        more = f" (and {total - len(errors)} more)" if total > len(errors) else ""
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(
            f"{total} malformed input {unit}(s){more}; expected {expected} per {unit}:\n{lines}"
        )


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "line"
        parts.append(f"'{where}' {err['msg'].lower()}")
    return "; ".join(parts)


_Request = TypeVar("_Request", bound=BaseModel)


def parse_lines(lines: Iterable[str]) -> list[ScoreRequest]:
    """Validate every line; raise MalformedInputError naming the bad ones."""
    return parse_requests(lines, ScoreRequest, SCORE_SHAPE)


def parse_requests(lines: Iterable[str], model: type[_Request], expected: str) -> list[_Request]:
    """Validate every line as ``model``; raise MalformedInputError naming the bad ones
    (``expected`` describes a good line in the message)."""
    requests: list[_Request] = []
    errors: list[LineError] = []
    total_errors = 0
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        value, problem = load_json(raw)
        if problem is None:
            problem = _check(value, model, requests)
        if problem is not None:
            total_errors += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(LineError(number, problem))
    if total_errors:
        raise MalformedInputError(errors, total_errors, expected)
    return requests


def parse_items(items: Sequence[object], model: type[_Request], expected: str) -> list[_Request]:
    """Validate already-decoded objects (a JSON list's items) as ``model`` by the lines'
    rules; raise MalformedInputError naming the bad ones by index (``items[3]``)."""
    requests: list[_Request] = []
    errors: list[LineError] = []
    total_errors = 0
    for index, value in enumerate(items):
        problem = _check(value, model, requests)
        if problem is not None:
            total_errors += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(LineError(index, problem, "item"))
    if total_errors:
        raise MalformedInputError(errors, total_errors, expected, "item")
    return requests


def load_json(raw: str | bytes) -> tuple[Any, str | None]:
    """The JSON value of ``raw``, or None and what keeps it from being read, in words."""
    try:
        return json.loads(raw), None
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at" ("Invalid control character at").
        return None, f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8 (a subclass of ValueError)
        return None, f"not UTF-8 text (byte {exc.start}): {exc.reason}"
    except ValueError:  # valid syntax, but a number of more than 4,300 digits
        return None, "not readable JSON (a number is too long)"
    except RecursionError:
        return None, "not readable JSON (nested too deeply)"


def _check(value: object, model: type[_Request], into: list[_Request]) -> str | None:
    """Append ``value`` validated as ``model`` to ``into``; else what is wrong with it."""
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    try:
        into.append(model.model_validate(value))
    except ValidationError as exc:
        return _describe(exc)
    return None


def score_records(scorer: Scorer, requests: Sequence[ScoreRequest]) -> list[dict[str, Any]]:
    """Score validated requests and shape each result as the contract's output object."""
    scores = scorer.score([r.text for r in requests])
    out = []
    for request, s in zip(requests, scores, strict=True):
        decision = decide(s, followers=request.followers)
        out.append(
            {
                "id": request.id,
                "sentiment": s.sentiment.value,
                "probs": s.probs.as_dict(),
                "urgency": decision.urgency,
                "urgency_level": decision.urgency_level,
                "troll": decision.troll,
                "troll_prob": s.troll_prob,
                "needs_reply": decision.needs_reply,
                "issue": s.issue,
                "reasons": list(decision.reasons),
                # Added to the DESIGN.md contract (readers ignore keys they do not know):
                "abusive_prob": s.abusive_prob,
                "language": s.language,
                "signals": [{"kind": x.kind, "evidence": x.evidence} for x in s.signals],
            }
        )
    return out
