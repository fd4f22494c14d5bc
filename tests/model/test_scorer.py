"""The scorer contract on the committed artifacts: shapes, edge inputs, and hard cases."""

from __future__ import annotations

import math

import pytest

from responders.policy import Action, decide
from sentiment import Scorer
from sentiment.base import Sentiment, urgency_level


def test_it_is_a_scorer_with_a_version(scorer):
    assert isinstance(scorer, Scorer)
    assert scorer.model_version.startswith("care-minilm-l6-")
    assert scorer.model_version.endswith("-int8")


def test_same_length_and_order_and_empty_batch(scorer):
    texts = ["@SkywayAir thank you, lovely crew!", "@SkywayAir you lost my bag", "hello"]
    out = scorer.score(texts)
    assert len(out) == 3
    assert out[0].sentiment is Sentiment.POSITIVE
    assert out[1].sentiment is Sentiment.NEGATIVE
    assert scorer.score([]) == []


EDGE_TEXTS = {
    "empty": "",
    "whitespace": " \n\t ",
    "huge": "my bag is lost " * 7000,  # ~100k characters
    "emoji": "✈️😡😡😡🧳❓",
    "rtl": "@SkywayAir رحلتي تأخرت ثلاث ساعات ولا أحد يجيب",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)> where is my refund",
    "control": "bag\x00 lost\x1b[31m \u202egnorw\u202c \ufeff at gate",
    "surrogates": "broken \ud83d text",
    "zalgo": "h̵̛̪e̷͕͝l̶̞̈p̶̣̄ my flight",
}


@pytest.mark.parametrize("name", sorted(EDGE_TEXTS))
def test_edge_inputs_score_without_crashing(scorer, name):
    (s,) = scorer.score([EDGE_TEXTS[name]])
    probs = s.probs
    assert math.isclose(probs.negative + probs.neutral + probs.positive, 1.0, abs_tol=1e-3)
    assert 0.0 <= s.urgency <= 1.0
    assert 0.0 <= s.troll_prob <= 1.0
    assert urgency_level(s.urgency) in {"low", "medium", "high"}


def test_empty_text_is_reported_as_such_and_needs_nothing(scorer):
    for text in ("", "   "):
        (s,) = scorer.score([text])
        assert s.urgency_reasons == ("empty text",)
        assert s.needs_reply_prob == 0.0


def test_huge_text_is_marked_truncated(scorer):
    (s,) = scorer.score([EDGE_TEXTS["huge"]])
    assert s.truncated


def test_batch_composition_barely_moves_a_score(scorer):
    # int8 dynamic quantization scales activations per batch: allow a small wobble in
    # the number (0.072 measured on care-minilm-l6-ft2-20261208-07abf309, 0.95 against
    # 0.88), none in the decisions read from it.
    text = "@SkywayAir my flight leaves in 2 hours and it's cancelled"
    alone = scorer.score([text])[0]
    crowd = scorer.score(["x" * 300, "ok", text, "lovely day"])[2]
    assert alone.sentiment == crowd.sentiment
    assert decide(alone).urgency_level == decide(crowd).urgency_level
    assert abs(alone.urgency - crowd.urgency) < 0.1


def test_scores_are_repeatable(scorer):
    texts = ["@NimbusBank charged twice", "@StreamlyHelp love it"]
    assert scorer.score(texts) == scorer.score(texts)


@pytest.mark.parametrize(
    "text",
    [
        "@SkywayAir great, another cancelled flight. Love spending my birthday at O'Hare.",
        pytest.param(
            "@SkywayAir wow thanks for losing my bag again, really stellar service",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known miss of care-minilm-l6-ft2-20261208-07abf309 (positive 0.65); "
                "the 20261207 model read it negative",
            ),
        ),
        pytest.param(
            "@StreamlyHelp oh perfect, the app crashed right at the finale. just perfect.",
            marks=pytest.mark.xfail(strict=True, reason="known miss: sarcasm read as praise"),
        ),
    ],
)
def test_sarcastic_complaints_are_negative(scorer, text):
    assert scorer.score([text])[0].sentiment is Sentiment.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "@SkywayAir no problems at all with check-in today, smoothest trip in years",
        "@NimbusBank not a single issue with the new app, really impressed",
    ],
)
def test_negated_problems_are_not_negative(scorer, text):
    assert scorer.score([text])[0].sentiment is not Sentiment.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "@SkywayAir you are a bunch of clowns and idiots, go die in a fire",
        "@NimbusBank your staff are pathetic losers and morons",
        "@user you are a disgusting liar and a moron",
    ],
)
def test_brand_addressed_abuse_is_trolling(scorer, text):
    (s,) = scorer.score([text])
    assert decide(s).action is Action.SKIP_TROLL, s


@pytest.mark.parametrize(
    "text",
    [
        "@SkywayAir where the f*** is my bag?? landed 3 hours ago, nothing at the carousel",
        "@NimbusBank this is bullshit, you charged me twice and nobody answers the phone",
    ],
)
def test_profane_complaints_with_a_real_issue_are_not_trolling(scorer, text):
    (s,) = scorer.score([text])
    decision = decide(s)
    assert decision.action is Action.REPLY, s
    assert decision.urgency_level in {"medium", "high"}


def quoted(reason: str) -> str:
    """The words a reason quotes ("kind: 'words'")."""
    return reason.split(": '", 1)[1].rstrip("'") if ": '" in reason else ""


def test_urgent_mentions_explain_themselves_with_their_own_words(scorer):
    text = "@SkywayAir my flight leaves in 2 hours and the app says cancelled!"
    (s,) = scorer.score([text])
    assert urgency_level(s.urgency) == "high"
    assert s.urgency_reasons
    for reason in s.urgency_reasons:
        assert quoted(reason)
        assert quoted(reason) in text


def test_double_charge_is_urgent_fraud(scorer):
    (s,) = scorer.score(["@NimbusBank you charged me twice for the same order, $89 each"])
    assert any(r.startswith("fraud or money taken:") for r in s.urgency_reasons), s
    assert urgency_level(s.urgency) == "high"


def test_praise_is_low_urgency(scorer):
    (s,) = scorer.score(["Shoutout to Maria at the @SkywayAir gate, she was amazing!"])
    assert s.sentiment is Sentiment.POSITIVE
    assert urgency_level(s.urgency) == "low"


def test_quantized_and_fp32_agree_on_clear_cases(scorer, scorer_fp32):
    texts = [
        "@SkywayAir thank you so much, best flight ever",
        "@SkywayAir you lost my luggage and nobody helps",
        "@NimbusBank what are your opening hours on Sunday?",
    ]
    a = scorer.score(texts)
    b = scorer_fp32.score(texts)
    assert [x.sentiment for x in a] == [y.sentiment for y in b]


def test_one_pass_gives_the_scores_and_the_vectors_of_two(scorer_fp32):
    """The score stage keeps the vector of its scoring pass, and reply memory compares it
    with vectors from ``embed``: the two must be the same vectors."""
    texts = [
        "@SkywayAir my bag never arrived in Denver https://t.co/abc",
        "thanks for the upgrade!",
        "",
    ]
    scores, vectors = scorer_fp32.score_and_embed(texts)
    assert scores == scorer_fp32.score(texts)
    alone = scorer_fp32.embed(texts)
    assert vectors.shape == alone.shape == (3, 384)
    assert float(abs(vectors - alone).max()) < 1e-5
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-5
    assert not vectors[2].any()  # an empty text is similar to nothing


def test_handles_and_links_barely_move_a_vector(scorer):
    """Two customers with one complaint differ in handles and links; similarity must see
    the complaint, and a text of nothing but handles and links is similar to nothing."""
    a, b, c, bare = scorer.embed([
        "@SkywayAir my bag never arrived in Denver, it is lost https://t.co/Xy12",
        "@skyway_help @jo_77 my bag never arrived in Denver, it is lost",
        "@SkywayAir thank you for the lovely flight to Denver",
        "@SkywayAir @jo_77 https://t.co/Xy12",
    ])  # fmt: skip
    assert float(a @ b) > 0.9
    assert float(a @ b) > float(a @ c) + 0.2
    assert not bare.any()
