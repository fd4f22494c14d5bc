from sentiment import Scorer
from sentiment.base import Sentiment
from sentiment.baseline import BaselineScorer


def test_baseline_follows_the_scorer_protocol_and_keeps_order():
    scorer = BaselineScorer()
    assert isinstance(scorer, Scorer)
    out = scorer.score(["@A thanks, great crew!", "@A you lost my bag", "hello"])
    assert [s.sentiment for s in out] == [Sentiment.POSITIVE, Sentiment.NEGATIVE, Sentiment.NEUTRAL]


def test_baseline_negation_flips_a_word():
    (s,) = BaselineScorer().score(["@A not great, never helpful"])
    assert s.sentiment is Sentiment.NEGATIVE


def test_baseline_marks_insults_without_an_issue_as_trolling():
    troll, complaint = BaselineScorer().score(
        ["@A you are a clown", "@A you idiots cancelled my flight"]
    )
    assert troll.troll_prob > 0.5
    assert complaint.troll_prob < 0.5
    assert complaint.issue == "cancelled_flight"
