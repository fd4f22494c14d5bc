"""Builders shared by the responder tests: a mention, scores and a voice, with overrides."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from listener.base import Author, Mention
from responders.voice import Voice
from sentiment.base import Scores, Sentiment, SentimentProbs

WHEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def make_mention(text: str = "@Skyway help", **changes: object) -> Mention:
    """A mention on X by @kim_t, with any field replaced."""
    base = Mention(
        platform="twitter",
        external_id="1001",
        text=text,
        author=Author(id="42", handle="kim_t", name="Kim"),
        created_at=WHEN,
        url="https://x.com/kim_t/status/1001",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def make_scores(issue: str = "other", **changes: object) -> Scores:
    """Negative, medium-urgency scores for ``issue``, with any field replaced."""
    base = Scores(
        sentiment=Sentiment.NEGATIVE,
        probs=SentimentProbs(0.8, 0.15, 0.05),
        urgency=0.5,
        needs_reply_prob=0.9,
        troll_prob=0.05,
        offensive_prob=0.05,
        issue=issue,
        issue_prob=0.8,
        urgency_reasons=(),
        troll_reasons=(),
        signals=(),
        model_version="test",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


VOICE = Voice(
    brand="Skyway",
    greeting="Hi {handle},",
    sign_off="^MK",
    dm_invitation="send us a DM",
    support_link="https://skyway.example/help",
    status_link="https://status.skyway.example",
    products=("Pixel 8", "Pixel 8 Pro", "Skyway app"),
)
