"""Any text into the scorer and ``brandcare score``: one valid result per input, never a crash.

The scorer is the committed int8 model (the session fixture ``scorer``; loading it is
the slow part, so every test here shares it). What a result must be, whatever the text
(empty, 100k characters, control and bidi characters, RTL, emoji, lone surrogates):
probabilities in [0, 1] that sum to 1 (each is rounded to 4 places), urgency in [0, 1],
a known issue and level, reasons in words, the scorer's version; and a long text is
scored on its beginning and says so.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brandcare.contracts import MalformedInputError, parse_lines, score_records
from responders.policy import decide
from sentiment.base import ISSUES, Scores, Sentiment
from sentiment.text import MAX_CHARS
from sentiment.transformer import TransformerScorer
from tests.contract import ADDED_KEYS, SCORE_KEYS
from tests.property.strategies import json_values, nasty_text

pytestmark = pytest.mark.model

LEVELS = {"low", "medium", "high"}
CONTRACT_KEYS = SCORE_KEYS | ADDED_KEYS
# The scorer fixture is session-scoped; the health check cannot tell.
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _unit(value: float) -> bool:
    return math.isfinite(value) and 0.0 <= value <= 1.0


def assert_valid(scores: Scores, text: str, version: str) -> None:
    """Everything a consumer of ``Scores`` relies on."""
    assert isinstance(scores.sentiment, Sentiment)
    probs = scores.probs.as_dict()
    assert all(_unit(p) for p in probs.values()), probs
    assert math.isclose(sum(probs.values()), 1.0, abs_tol=2e-4), probs
    for value in (
        scores.urgency,
        scores.needs_reply_prob,
        scores.troll_prob,
        scores.offensive_prob,
        scores.issue_prob,
    ):
        assert _unit(value), scores
    assert scores.issue in ISSUES
    assert all(isinstance(r, str) and r for r in scores.urgency_reasons + scores.troll_reasons)
    assert scores.model_version == version
    assert scores.truncated == (len(text) > MAX_CHARS)
    decision = decide(scores, followers=10**12)
    assert _unit(decision.urgency)
    assert decision.urgency_level in LEVELS


@settings(max_examples=40, deadline=None, suppress_health_check=_SHARED)
@given(texts=st.lists(nasty_text(), min_size=1, max_size=5))
def test_the_scorer_gives_one_valid_result_per_text_whatever_the_text(
    scorer: TransformerScorer, texts: list[str]
) -> None:
    results = scorer.score(texts)
    assert len(results) == len(texts)
    for text, scores in zip(texts, results, strict=True):
        assert_valid(scores, text, scorer.model_version)


@settings(max_examples=30, deadline=None, suppress_health_check=_SHARED)
@given(text=nasty_text())
def test_the_scorer_is_pure_for_any_text(scorer: TransformerScorer, text: str) -> None:
    assert scorer.score([text]) == scorer.score([text])


valid_lines = st.builds(
    lambda id_, text, followers: json.dumps(
        {"id": id_, "text": text} | ({} if followers is None else {"followers": followers})
    ),
    st.one_of(st.integers(), nasty_text(30)),
    nasty_text(),
    st.one_of(st.none(), st.integers(0, 10**30)),
)
any_lines = st.one_of(
    valid_lines,
    json_values.map(json.dumps),
    nasty_text(200),
    st.just("[" * 50_000 + "]" * 50_000),
    st.just('{"id": 1, "text": "x", "followers": 1' + "0" * 5000 + "}"),
)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(any_lines, min_size=1, max_size=5))
def test_brandcare_score_reads_every_line_or_refuses_the_input_naming_the_bad_lines(
    lines: list[str],
) -> None:
    try:
        requests = parse_lines(lines)
    except MalformedInputError as exc:
        problems, message = exc.errors, str(exc)
        assert problems
        assert all(1 <= p.line <= len(lines) and p.message for p in problems)
        assert "malformed input line" in message
        return
    assert len(requests) == sum(1 for line in lines if line.strip())


@settings(max_examples=40, deadline=None, suppress_health_check=_SHARED)
@given(lines=st.lists(valid_lines, min_size=1, max_size=5))
def test_brandcare_score_writes_one_contract_line_per_input_line(
    scorer: TransformerScorer, lines: list[str]
) -> None:
    requests = parse_lines(lines)
    records = score_records(scorer, requests)
    assert len(records) == len(requests) == len(lines)
    for request, record in zip(requests, records, strict=True):
        assert set(record) == CONTRACT_KEYS
        assert record["id"] == request.id
        assert math.isclose(sum(record["probs"].values()), 1.0, abs_tol=2e-4)
        assert record["urgency_level"] in LEVELS
        assert _unit(record["urgency"])
        assert _unit(record["troll_prob"])
        # What the command writes: one UTF-8 line, even for an id holding half an emoji.
        out = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace")
        assert out.count(b"\n") == 1
        assert json.loads(out)["id"] is not None
