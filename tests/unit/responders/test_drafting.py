import re
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from listener.base import ReplyRules
from listener.registry import reply_rules
from responders.drafting import LimitTooSmall, NotDraftable, draft_reply, reply_length
from responders.policy import Action, Decision, decide
from responders.privacy import contains_personal_data
from responders.templates import TEMPLATES, check_templates, choose_template
from responders.voice import Voice
from sentiment.base import ISSUES, Scores, Sentiment, Signal
from tests.unit.responders.builders import VOICE, make_mention, make_scores
from tests.unit.responders.strategies import booking_codes, filler, flight_before, phones

X = reply_rules("twitter").limit


def rules(platform: str = "twitter", limit: int = X) -> ReplyRules:
    """``platform``'s reply rules with ``limit`` (any number: the tests try small ones)."""
    return replace(reply_rules(platform), limit=limit)


def draft(text: str, scores: Scores, voice: Voice = VOICE, limit: int = X, **mention: object):
    m = make_mention(text, **mention)
    return draft_reply(m, scores, decide(scores), voice, rules=rules(m.platform, limit))


# --- fitted to the issue -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("issue", "next_step"),
    [
        ("cancelled_flight", "rebooking options"),
        ("delayed_flight", "latest times"),
        ("lost_luggage", "bag report"),
        ("damaged_luggage", "damage claim"),
        ("booking", "booking reference"),
        ("billing", "look into the charge"),
        ("refund", "look into it"),
        ("account_access", "https://skyway.example/help"),
        ("security", "secure your account at https://skyway.example/help"),
        ("outage", "https://status.skyway.example"),
        ("technical_issue", "troubleshoot"),
        ("moderation", "appeal"),
        ("safety", "safety team"),
        ("delivery", "track it down"),
        ("question", "get you an answer"),
        ("customer_service", "follow up"),
        ("loyalty", "membership number"),
    ],
)
def test_complaints_get_an_apology_and_the_issue_s_next_step(issue: str, next_step: str) -> None:
    d = draft("@Skyway this is not ok", make_scores(issue))
    assert d.template == issue
    assert next_step in d.text
    assert re.search(r"\b(sorry|apolog)", d.text, re.IGNORECASE)


def test_a_neutral_question_gets_help_without_an_apology() -> None:
    d = draft("@Skyway can I bring my dog?", make_scores("question", sentiment=Sentiment.NEUTRAL))
    assert "sorry" not in d.text.lower()
    assert "send us a DM" in d.text


@pytest.mark.parametrize("issue", ["account_access", "security"])
def test_account_replies_never_ask_for_a_password(issue: str) -> None:
    for voice in (VOICE, replace(VOICE, support_link="")):
        text = draft("@Skyway I'm locked out", make_scores(issue), voice=voice).text
        assert "never ask for your password" in text.lower() or "never share your password" in (
            text.lower()
        )
        assert not re.search(r"(send|dm|tell|give)[^.]*password", text, re.IGNORECASE)


def test_a_reply_whose_link_is_missing_falls_back_to_the_dm_route() -> None:
    voice = replace(VOICE, support_link="")
    d = draft("@Skyway locked out", make_scores("account_access"), voice=voice)
    assert "send us a DM" in d.text
    assert any("DM route" in n for n in d.notes)


def test_outage_without_a_status_page_promises_updates_here() -> None:
    voice = replace(VOICE, status_link="")
    d = draft("@Skyway app down?", make_scores("outage"), voice=voice)
    assert "updates here" in d.text


def test_praise_names_the_staff_member_the_post_names() -> None:
    scores = make_scores("praise", sentiment=Sentiment.POSITIVE, urgency=0.1)
    d = draft("Shoutout to Maria at the gate @Skyway, she was amazing!", scores)
    assert "Maria" in d.text
    assert "sorry" not in d.text.lower()
    d2 = draft("@Skyway flight attendant Jo-Anne was lovely", scores)
    assert "Jo-Anne" in d2.text


def test_praise_without_a_name_thanks_the_team_and_never_names_the_brand_as_staff() -> None:
    scores = make_scores("praise", sentiment=Sentiment.POSITIVE, urgency=0.1)
    d = draft("Thank you Skyway, best airline!", scores)
    assert "kind words!" in d.text
    assert "Skyway hears" not in d.text


def test_feedback_is_thanked_and_passed_on() -> None:
    d = draft("@Skyway add vegan meals", make_scores("feedback", sentiment=Sentiment.NEUTRAL))
    assert "Thanks for the feedback" in d.text or "thanks for the feedback" in d.text
    assert "pass it on" in d.text


def test_positive_posts_about_a_flight_are_thanked() -> None:
    scores = make_scores("flight_experience", sentiment=Sentiment.POSITIVE, urgency=0.1)
    assert draft("@Skyway lovely crew today", scores).template == "praise"


def test_every_issue_category_has_a_reply() -> None:
    for issue in ISSUES:
        name, _ = choose_template(make_scores(issue))
        assert name in TEMPLATES


def test_trolling_with_a_safety_signal_gets_the_safety_reply() -> None:
    scores = make_scores(
        "abuse", troll_prob=0.9, signals=(Signal("safety", "smoke in the cabin", 1.0),)
    )
    d = draft("@Skyway you idiots, smoke in the cabin", scores)
    assert d.template == "safety"


@pytest.mark.parametrize(
    ("issue", "kind", "template", "words"),
    [
        # An oxygen-mask diversion read as a delay still gets the safety reply.
        ("delayed_flight", "safety", "safety", "safety team"),
        ("flight_experience", "safety", "safety", "safety team"),
        ("billing", "fraud", "fraud", "fraud team"),
        ("security", "account_takeover", "account_takeover", "secure your account now"),
        ("technical_issue", "outage", "outage", "status.skyway.example"),
    ],
)
def test_a_care_signal_picks_the_reply_written_for_it(
    issue: str, kind: str, template: str, words: str
) -> None:
    scores = make_scores(issue, urgency=0.9, signals=(Signal(kind, "words", 0.9),))
    d = draft("@Skyway something serious happened", scores)
    assert d.template == template
    assert words in d.text
    assert "sorry about the delay" not in d.text
    assert "up to standard" not in d.text


def test_the_most_serious_signal_wins() -> None:
    both = (Signal("fraud", "charged twice", 0.8), Signal("account_takeover", "hacked", 0.9))
    name, _ = choose_template(
        make_scores("billing", signals=(Signal("outage", "down", 0.9), *both))
    )
    assert name == "account_takeover"


def test_praise_that_mentions_a_past_problem_stays_praise() -> None:
    scores = make_scores(
        "praise", sentiment=Sentiment.POSITIVE, signals=(Signal("fraud", "fraud", 0.6),)
    )
    assert choose_template(scores)[0] == "praise"


def test_templates_are_sound() -> None:
    assert check_templates() == []


# --- personalised -------------------------------------------------------------------------


def test_the_reply_greets_the_author_by_handle() -> None:
    assert draft("@Skyway help", make_scores()).text.startswith("Hi @kim_t, ")


def test_a_greeting_without_punctuation_gets_a_comma() -> None:
    voice = replace(VOICE, greeting="Hey {handle}")
    assert draft("@Skyway help", make_scores(), voice=voice).text.startswith("Hey @kim_t, we")


def test_reddit_authors_are_greeted_as_u_slash_name() -> None:
    d = draft("help", make_scores(), limit=10_000, platform="reddit")
    assert d.text.startswith("Hi u/kim_t, ")


def test_a_handle_with_odd_characters_is_not_echoed() -> None:
    mention = make_mention("help")
    mention = replace(mention, author=replace(mention.author, handle="kim <script>"))
    scores = make_scores()
    d = draft_reply(mention, scores, decide(scores), VOICE, rules=rules())
    assert d.text.startswith("Hi, ")


def test_the_flight_and_route_they_named_are_named_back() -> None:
    d = draft("@Skyway flight UA 1234 from ORF to PHL cancelled!", make_scores("cancelled_flight"))
    assert "your flight UA 1234 from ORF to PHL was cancelled" in d.text


def test_a_count_after_flight_is_not_read_as_a_flight_number() -> None:
    d = draft("@Skyway flight 45 minutes late", make_scores("delayed_flight"))
    assert "flight 45" not in d.text


def test_the_product_they_named_is_named_back_the_brand_s_way() -> None:
    d = draft("@Skyway my pixel 8 pro keeps crashing", make_scores("technical_issue"))
    assert "your Pixel 8 Pro is giving you trouble" in d.text


def test_complaints_do_not_name_staff() -> None:
    d = draft("@Skyway agent Maria was rude", make_scores("customer_service"))
    assert "Maria" not in d.text


# --- urgency --------------------------------------------------------------------------------


def test_high_urgency_says_we_are_on_it_now() -> None:
    urgent = draft("@Skyway stranded at the gate", make_scores("cancelled_flight", urgency=0.9))
    calm = draft("@Skyway stranded at the gate", make_scores("cancelled_flight", urgency=0.4))
    assert "We're on it now." in urgent.text
    assert "on it now" not in calm.text


def test_praise_is_never_urgent() -> None:
    scores = make_scores("praise", sentiment=Sentiment.POSITIVE, urgency=0.95)
    assert "on it now" not in draft("@Skyway wow", scores).text


# --- privacy ------------------------------------------------------------------------------


def test_personal_data_is_never_repeated_and_the_customer_is_advised() -> None:
    text = "@Skyway flight UA12 cancelled!! conf XKQWZP, call +1 555 123 4567 or kim@mail.com"
    d = draft(text, make_scores("cancelled_flight"))
    for value in ("XKQWZP", "555 123 4567", "kim@mail.com"):
        assert value not in d.text
    assert "For your privacy" in d.text
    assert any("personal data" in n for n in d.notes)


def test_a_shouted_word_is_not_called_a_booking_reference() -> None:
    d = draft("@Skyway HIGHLY disappointed", make_scores("other"))
    assert "privacy" not in d.text


def test_a_booking_code_after_flight_is_a_flight_number() -> None:
    d = draft("@Skyway flight AB1234 cancelled", make_scores("cancelled_flight"))
    assert "flight AB1234" in d.text


# --- length --------------------------------------------------------------------------------


def test_x_counts_every_link_as_23() -> None:
    link = "https://skyway.example/a/very/long/path/that/goes/on/and/on/for/ever"
    assert reply_length(f"see {link}", reply_rules("twitter")) == 4 + 23
    assert reply_length(f"see {link}.", reply_rules("twitter")) == 4 + 23 + 1
    assert reply_length(f"see {link}", reply_rules("reddit")) == 4 + len(link)


def test_x_counts_wide_characters_as_two() -> None:
    assert reply_length("日本", reply_rules("twitter")) == 4
    assert reply_length("– café", reply_rules("twitter")) == 6


def test_the_link_goes_first_then_what_they_named_when_space_is_short() -> None:
    scores = make_scores("cancelled_flight")
    full = draft("@Skyway flight UA12 cancelled", scores, limit=10_000)
    assert "https://" in full.text
    assert "UA12" in full.text
    no_link = draft(
        "@Skyway flight UA12 cancelled", scores, limit=reply_length(full.text, reply_rules("x")) - 1
    )
    assert "https://" not in no_link.text
    assert "UA12" in no_link.text
    assert any("extra link" in n for n in no_link.notes)
    short = draft(
        "@Skyway flight UA12 cancelled",
        scores,
        limit=reply_length(no_link.text, reply_rules("x")) - 1,
    )
    assert "UA12" not in short.text
    assert not any(n.startswith("named ") for n in short.notes)


def test_a_limit_too_small_for_any_word_is_refused() -> None:
    with pytest.raises(LimitTooSmall):
        draft("@Skyway help", make_scores(), limit=2)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(TEMPLATES)),
    st.sampled_from(list(Sentiment)),
    st.floats(0, 1),
    st.integers(12, 320),
    st.sampled_from(["twitter", "reddit"]),
)
def test_a_draft_never_exceeds_the_limit_nor_cuts_a_word(
    issue: str, sentiment: Sentiment, urgency: float, limit: int, platform: str
) -> None:
    scores = make_scores(issue, sentiment=sentiment, urgency=urgency)
    text = "@Skyway flight UA 1234 from ORF to PHL, my Pixel 8 broke; thanks to Maria at the gate"
    full = draft(text, scores, limit=10_000, platform=platform)
    try:
        d = draft(text, scores, limit=limit, platform=platform)
    except LimitTooSmall:
        return
    assert reply_length(d.text, reply_rules(platform)) <= limit
    # Every word is a whole word the reply could hold (capitalised once the greeting goes).
    assert all(w.lower().rstrip(",") in _whole_words(d.template, full.text) for w in d.text.split())


def _whole_words(issue: str, full_text: str) -> set[str]:
    fields = [getattr(TEMPLATES[issue], f) for f in TEMPLATES[issue].__dataclass_fields__]
    text = " ".join([full_text, *(f for f in fields if isinstance(f, str))])
    for key, value in {
        "{dm}": VOICE.render_dm(),
        "{support_link}": VOICE.support_link,
        "{status_link}": VOICE.status_link,
    }.items():
        text = text.replace(key, value)
    return {w.lower().rstrip(",") for w in text.split()}


# --- deterministic; no draft for trolls -----------------------------------------------------


def test_the_same_input_gives_the_same_draft() -> None:
    scores = make_scores("lost_luggage", urgency=0.8)
    text = "@Skyway bag lost on flight UA12, call 555-123-4567"
    assert draft(text, scores) == draft(text, scores)


@pytest.mark.parametrize("action", [Action.SKIP_TROLL, Action.IGNORE])
def test_no_draft_is_made_when_policy_says_not_to_reply(action: Action) -> None:
    decision = Decision(action, False, action is Action.SKIP_TROLL, 0.1, "low", ())
    with pytest.raises(NotDraftable, match=action.value):
        draft_reply(make_mention("you suck"), make_scores("abuse"), decision, VOICE, rules=rules())


# --- properties: personal data never echoed --------------------------------------------------

personal = st.one_of(
    st.emails().map(lambda v: ("email", v)),
    phones.map(lambda v: ("phone", v)),
    booking_codes.map(lambda v: ("code", v)),
)


@settings(max_examples=150, deadline=None)
@given(
    filler, personal, filler, st.sampled_from(sorted(TEMPLATES)), st.sampled_from(list(Sentiment))
)
def test_a_draft_never_contains_personal_data_from_the_mention(
    prefix: str, item: tuple[str, str], suffix: str, issue: str, sentiment: Sentiment
) -> None:
    kind, value = item
    assume(not flight_before(prefix))
    scores = make_scores(issue, sentiment=sentiment)
    d = draft(f"{prefix} {value} {suffix}", scores)
    assert value not in d.text
    if kind == "phone":
        assert re.sub(r"\D", "", value) not in re.sub(r"\D", "", d.text)
    assert contains_personal_data(d.text) == []
