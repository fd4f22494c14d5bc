import json

import pytest

from brandcare.contracts import MalformedInputError, parse_lines, score_records
from sentiment.base import Scores, Sentiment, SentimentProbs
from tests.contract import ADDED_KEYS, SCORE_KEYS


def test_valid_lines_parse_and_blank_lines_are_skipped():
    lines = ['{"id": "a", "text": "hi"}', "", '{"id": 7, "text": "", "followers": 10}']
    requests = parse_lines(lines)
    assert [r.id for r in requests] == ["a", 7]
    assert requests[1].followers == 10


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["id", "text"]', "expected a JSON object, got list"),
        ('{"id": "a"}', "'text' field required"),
        ('{"id": "a", "text": 5}', "'text' input should be a valid string"),
        ('{"text": "hi"}', "'id' field required"),
        ('{"id": "a", "text": "hi", "followers": -1}', "'followers'"),
    ],
)
def test_malformed_lines_are_named_with_their_line_number(line: str, message: str):
    with pytest.raises(MalformedInputError) as info:
        parse_lines(['{"id": "ok", "text": "fine"}', line])
    assert "line 2:" in str(info.value)
    assert message in str(info.value)


def test_every_bad_line_is_counted_but_only_the_first_ten_listed():
    with pytest.raises(MalformedInputError) as info:
        parse_lines(["nope"] * 25)
    assert len(info.value.errors) == 10
    assert "25 malformed input line(s) (and 15 more)" in str(info.value)


class FixedScorer:
    """Returns one fixed score per text: enough to check the output shape."""

    model_version = "fixed"

    def score(self, texts):  # type: ignore[no-untyped-def]
        return [
            Scores(
                sentiment=Sentiment.NEGATIVE,
                probs=SentimentProbs(0.7, 0.2, 0.1),
                urgency=0.4,
                needs_reply_prob=0.8,
                troll_prob=0.05,
                offensive_prob=0.1,
                issue="billing",
                issue_prob=0.6,
                urgency_reasons=("negative", "money: 'charged twice'"),
                troll_reasons=(),
                signals=(),
                model_version="fixed",
            )
            for _ in texts
        ]


def test_output_objects_follow_the_contract_keys_exactly():
    (record,) = score_records(FixedScorer(), parse_lines(['{"id": "x", "text": "charged twice"}']))
    assert set(record) == SCORE_KEYS | ADDED_KEYS
    assert set(record["probs"]) == {"negative", "neutral", "positive"}
    assert record["urgency_level"] == "medium"
    assert record["needs_reply"] is True
    json.dumps(record)  # serialisable as one JSON line
