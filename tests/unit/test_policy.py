from dataclasses import replace

import pytest

from responders.policy import (
    Action,
    Thresholds,
    decide,
    format_followers,
    is_troll_reason,
    reach_boost,
)
from sentiment.base import Scores, Sentiment, SentimentProbs, Signal


def scores(**changes: object) -> Scores:
    base = Scores(
        sentiment=Sentiment.NEGATIVE,
        probs=SentimentProbs(0.8, 0.15, 0.05),
        urgency=0.5,
        needs_reply_prob=0.9,
        troll_prob=0.1,
        offensive_prob=0.2,
        issue="lost_luggage",
        issue_prob=0.7,
        urgency_reasons=("negative",),
        troll_reasons=(),
        signals=(),
        model_version="test",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_complaint_needing_a_reply_is_drafted():
    decision = decide(scores())
    assert decision.action is Action.REPLY
    assert decision.urgency_level == "medium"


def test_trolling_is_skipped_with_its_reasons():
    reason = "abuse with no actionable issue: 'useless clowns'"
    decision = decide(scores(troll_prob=0.9, troll_reasons=(reason,)))
    assert decision.action is Action.SKIP_TROLL
    assert not decision.needs_reply
    assert reason in decision.reasons
    assert is_troll_reason(reason)
    assert not is_troll_reason("outage: 'the whole thing is dead'")


def test_trolling_that_mentions_safety_still_reaches_a_human():
    threat = Signal("safety", "smoke in the cabin", 1.0)
    decision = decide(scores(troll_prob=0.9, signals=(threat,)))
    assert decision.action is Action.REPLY
    assert any("mentions safety" in r for r in decision.reasons)


def test_reach_raises_a_complaint_and_says_so():
    quiet = decide(scores(urgency=0.6), followers=50)
    loud = decide(scores(urgency=0.6), followers=48_213)
    assert quiet.urgency_level == "medium"
    assert loud.urgency > quiet.urgency
    assert "reach: 48k followers" in loud.reasons
    assert loud.urgency_level == "high"


def test_reach_does_not_raise_praise():
    praise = scores(sentiment=Sentiment.POSITIVE, urgency=0.1)
    assert decide(praise, followers=2_000_000).urgency == 0.1


def test_reach_boost_grows_per_tenfold_and_is_capped():
    assert reach_boost(9_999) == 0
    assert reach_boost(10_000) == 0.1
    assert reach_boost(100_000) == 0.2
    assert reach_boost(10**9) == 0.3


def test_chatter_is_ignored():
    assert decide(scores(needs_reply_prob=0.1)).action is Action.IGNORE


def test_a_brand_can_move_the_thresholds():
    strict = Thresholds(troll=0.3)
    assert decide(scores(troll_prob=0.4), thresholds=strict).action is Action.SKIP_TROLL


def test_followers_are_written_as_agents_say_them():
    assert [format_followers(n) for n in (950, 1500, 48_213, 1_250_000, 2_000_000)] == [
        "950",
        "1.5k",
        "48k",
        "1.2M",
        "2M",
    ]


@pytest.mark.parametrize("kind", ["safety", "fraud", "account_takeover", "legal"])
def test_serious_signals_are_never_skipped_as_trolling(kind: str) -> None:
    decision = decide(scores(troll_prob=0.95, signals=(Signal(kind, "words", 0.9),)))
    assert decision.action is Action.REPLY
    assert decision.needs_reply
    assert not decision.troll
    assert any(f"mentions {kind}" in r for r in decision.reasons)


def test_an_outage_in_an_abusive_post_follows_the_troll_head() -> None:
    # Outage is not on the never-skip list: the model's troll decision already needs
    # "no actionable issue", so a troll verdict here means the heads saw no real report.
    decision = decide(scores(troll_prob=0.9, signals=(Signal("outage", "down", 0.6),)))
    assert decision.action is Action.SKIP_TROLL


def test_a_post_the_model_cannot_read_goes_to_a_human_with_its_language_first() -> None:
    decision = decide(scores(language="ar", needs_reply_prob=0.1, troll_prob=0.7, urgency=0.1))
    assert decision.action is Action.REPLY
    assert decision.needs_reply
    assert not decision.troll
    assert decision.reasons[0] == "language: ar"


def test_english_posts_get_no_language_reason() -> None:
    assert not any(r.startswith("language:") for r in decide(scores()).reasons)
