"""Hostile mentions, any scores, any voice: a draft within the limit, or a specific error.

What every draft must be, whatever the mention says (control characters, bidi
overrides, NUL, RTL, emoji, 100k characters, planted emails, phone and card numbers,
booking codes), whatever the scores and the platform's limit:

- within the limit as the platform counts it;
- free of raw control and bidi-override characters and of lone surrogates;
- free of the personal data the mention carries;
- or ``DraftingError`` (``NotDraftable`` unless the policy said reply; ``LimitTooSmall``
  when not one word fits), never another exception.

And a mention the policy skips as trolling always carries a reason for the agents.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from brandcare.pipeline.stages import Pipeline
from listener.registry import reply_rules
from responders.drafting import (
    DraftingError,
    LimitTooSmall,
    NotDraftable,
    draft_reply,
    reply_length,
)
from responders.policy import Action, decide
from responders.privacy import find_personal_data, scrub
from responders.voice import Voice, VoiceError, load_voice
from sentiment.base import ISSUES, Scores, Sentiment, SentimentProbs, Signal
from tests.conftest import REPO
from tests.property.strategies import nasty_text
from tests.unit.responders.builders import make_mention
from tests.unit.responders.strategies import booking_codes, cards, phones, spaced

BRANDS = json.loads((REPO / "brandcare/samples/demo_brands.json").read_text(encoding="utf-8"))
DEMO_VOICES = [load_voice({"brand": b["name"], **b["voice"]}) for b in BRANDS["brands"]]
SIGNAL_KINDS = (
    "time_pressure",
    "safety",
    "fraud",
    "outage",
    "account_takeover",
    "legal",
    "disruption",
)
# Raw control characters (C0, DEL, C1) and the bidi overrides and isolates that can
# turn a reply around on the customer's screen.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _probs(values: tuple[float, float, float]) -> SentimentProbs:
    total = sum(values) or 1.0
    return SentimentProbs(*(v / total for v in values))


unit = st.floats(0.0, 1.0)
scores_strategy = st.builds(
    Scores,
    sentiment=st.sampled_from(list(Sentiment)),
    probs=st.tuples(unit, unit, unit).map(_probs),
    urgency=unit,
    needs_reply_prob=unit,
    troll_prob=unit,
    offensive_prob=unit,
    issue=st.one_of(st.sampled_from(ISSUES), nasty_text(20)),
    issue_prob=unit,
    urgency_reasons=st.lists(nasty_text(40), max_size=3).map(tuple),
    troll_reasons=st.lists(
        st.one_of(
            nasty_text(40),
            st.sampled_from(["abuse with no actionable issue: 'clown'", "offensive language"]),
        ),
        max_size=3,
    ).map(tuple),
    signals=st.lists(
        st.builds(Signal, st.sampled_from(SIGNAL_KINDS), nasty_text(30), unit), max_size=3
    ).map(tuple),
    model_version=st.just("property"),
)


@st.composite
def voices(draw: st.DrawFn) -> Voice:
    """A demo brand's voice, or one with any names and products a brand could set."""
    if draw(st.booleans()):
        return draw(st.sampled_from(DEMO_VOICES))
    try:
        return Voice(
            brand=draw(nasty_text(30)),
            products=tuple(draw(st.lists(nasty_text(20), max_size=3))),
            sign_off=draw(st.sampled_from(["", "– Care team", "^MK", "Thanks, {brand}"])),
            support_link=draw(st.sampled_from(["", "https://help.example/a?b=c"])),
        )
    except VoiceError:
        return DEMO_VOICES[0]


personal = st.one_of(
    st.emails(),
    phones,
    booking_codes,
    cards,
    cards.map(spaced),
)


@st.composite
def hostile_posts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A post of hostile text with personal data planted between spaces, and that data."""
    planted = draw(st.lists(personal, max_size=3))
    pieces = [draw(nasty_text(200))]
    for value in planted:
        pieces += [value, draw(nasty_text(60))]
    return " ".join(pieces), planted


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _still_found(value: str, text: str) -> bool:
    """Whether ``text`` repeats a planted value as a word of its own (inside a run of
    letters it is not that value), or its digits spaced another way."""
    whole = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
    return bool(re.search(whole, text)) or (
        len(_digits(value)) >= 7 and _digits(value) in _digits(text)
    )


@settings(max_examples=60, deadline=None)
@given(
    post=hostile_posts(),
    handle=nasty_text(30),
    platform=st.sampled_from(["twitter", "x", "reddit", "mastodon", "bluesky", ""]),
    scores=scores_strategy,
    followers=st.one_of(st.none(), st.integers(0, 10**12)),
    action=st.sampled_from(list(Action)),
    voice=voices(),
    limit=st.one_of(st.sampled_from([280, 300, 500, 10_000]), st.integers(-5, 400)),
)
def test_a_draft_fits_and_holds_no_control_characters_nor_personal_data(
    post: tuple[str, list[str]],
    handle: str,
    platform: str,
    scores: Scores,
    followers: int | None,
    action: Action,
    voice: Voice,
    limit: int,
) -> None:
    text, planted = post
    mention = make_mention(text, platform=platform)
    author = dataclasses.replace(mention.author, handle=handle)
    mention = dataclasses.replace(mention, author=author)
    decision = dataclasses.replace(decide(scores, followers=followers), action=action)
    try:
        rules = dataclasses.replace(reply_rules(platform), limit=limit)
        draft = draft_reply(mention, scores, decision, voice, rules=rules)
    except NotDraftable:
        assert action is not Action.REPLY
        return
    except LimitTooSmall:
        assert action is Action.REPLY
        assert limit < 40 + len(handle)  # the shortest reply is a few words (and an address)
        return
    assert action is Action.REPLY
    assert draft.text
    assert reply_length(draft.text, rules) <= limit
    assert not _FORBIDDEN.search(draft.text), repr(draft.text)
    for value in planted:
        assert not _still_found(value, draft.text), (value, draft.text)
    assert all(isinstance(note, str) and note for note in draft.notes)


@settings(max_examples=40, deadline=None)
@given(post=hostile_posts())
def test_scrubbing_any_post_removes_the_planted_data_and_keeps_spans_in_bounds(
    post: tuple[str, list[str]],
) -> None:
    text, planted = post
    findings = find_personal_data(text)
    ends = [0]
    for finding in findings:
        assert ends[-1] <= finding.start < finding.end <= len(text)
        ends.append(finding.end)
    clean = scrub(text, findings)
    for value in planted:
        assert not _still_found(value, clean), (value, clean[:300])


@settings(max_examples=50, deadline=None)
@given(
    post=hostile_posts(),
    scores=scores_strategy,
    reasons=st.lists(
        st.one_of(nasty_text(40), st.sampled_from(["insult: 'clown'", "offensive language (80%)"])),
        max_size=4,
    ),
    voice=voices(),
    platform=st.sampled_from(["twitter", "reddit", "replay", "mastodon", "bluesky"]),
)
def test_a_mention_skipped_as_trolling_always_tells_agents_why(
    post: tuple[str, list[str]],
    scores: Scores,
    reasons: list[str],
    voice: Voice,
    platform: str,
) -> None:
    decision = dataclasses.replace(
        decide(scores), action=Action.SKIP_TROLL, troll=True, reasons=tuple(reasons)
    )
    mention = make_mention(post[0], platform=platform)
    new = Pipeline._compose(mention, 7, scores, decision, voice)
    assert new.state == "skipped"
    assert new.skip_reason
    assert new.skip_reason.strip()
    # A ready text, should an agent un-skip a misjudged customer: it obeys the same rules.
    assert not _FORBIDDEN.search(new.text)
    assert reply_length(new.text, reply_rules(platform)) <= reply_rules(platform).limit


def test_drafting_errors_are_one_family() -> None:
    """The pipeline catches ``DraftingError``; every refusal above must be one."""
    assert issubclass(NotDraftable, DraftingError)
    assert issubclass(LimitTooSmall, DraftingError)
    assert unicodedata.category("\u202e") == "Cf"  # what _FORBIDDEN adds to Cc
