"""A reason is shown only when it explains the priority: praise that names the problem
it thanks us for solving gets no "issue: ..." reason, a complaint does."""

from __future__ import annotations

import pytest

from sentiment.transformer import _Draft


def _draft(*, praise: bool, urgency: float = 0.5) -> _Draft:
    return _Draft(
        index=0,
        text="your support refunded AND re-sent it",
        sentiment_probs=[0.05, 0.05, 0.9] if praise else [0.9, 0.05, 0.05],
        urgency=urgency,
        needs_reply=0.9,
        troll=0.0,
        abusive=0.0,
        issue="refund",
        issue_col=3,
        issue_prob=0.8,
        fired=[],
        language="en",
        praise=praise,
    )


QUOTE = {(0, "issue", 3): "refunded AND re-sent it"}


def test_a_complaint_above_low_quotes_its_issue() -> None:
    draft = _draft(praise=False)
    assert (0, "issue", 3) in draft.wanted()
    scores = draft.finish(QUOTE, False, 0.0, "v")
    assert scores.urgency_reasons == ("issue: refund ('refunded AND re-sent it')",)


def test_praise_naming_a_solved_problem_gets_no_issue_reason() -> None:
    draft = _draft(praise=True)
    assert (0, "issue", 3) not in draft.wanted()
    assert draft.finish(QUOTE, False, 0.0, "v").urgency_reasons == ()


@pytest.mark.parametrize("praise", [True, False])
def test_a_low_priority_has_no_reason_to_explain(praise: bool) -> None:
    assert _draft(praise=praise, urgency=0.2).finish(QUOTE, False, 0.0, "v").urgency_reasons == ()
