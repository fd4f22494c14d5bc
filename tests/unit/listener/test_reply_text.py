"""Reply length and address as each platform's rules say, never by its name."""

from __future__ import annotations

import dataclasses

import pytest

from listener.base import Counting, ReplyRules
from listener.registry import label, reply_rules
from listener.text import address_of, addressed, graphemes, reply_length
from responders.drafting import draft_reply
from responders.policy import decide
from tests.unit.responders.builders import VOICE, make_mention, make_scores

MASTODON = reply_rules("mastodon")
BLUESKY = reply_rules("bluesky")
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, five code points
FLAG = "\U0001f1fa\U0001f1e6"  # one grapheme, two code points


def test_graphemes_count_what_a_reader_sees_as_one_character() -> None:
    assert graphemes(FAMILY) == 1
    assert graphemes(FLAG + FLAG) == 2
    assert graphemes("e\u0301") == 1  # e + combining acute
    assert graphemes("a\r\nb") == 3
    assert len(FAMILY) == 5


def test_bluesky_counts_graphemes_against_300() -> None:
    assert (BLUESKY.limit, BLUESKY.counting) == (300, Counting.GRAPHEMES)
    assert reply_length(f"thanks {FAMILY}", BLUESKY) == 8
    assert reply_length(FLAG * 300, BLUESKY) == 300  # 600 code points, still fits


def test_mastodon_counts_links_as_23_and_remote_mentions_by_their_local_part() -> None:
    link = "https://support.example.com/a/very/long/path/that/goes/on/and/on"
    assert reply_length(f"see {link}.", MASTODON) == 4 + 23 + 1
    assert reply_length("@kim@mastodon.example hi", MASTODON) == len("@kim hi")
    assert reply_length(f"{FAMILY} hi", MASTODON) == 4


def test_a_servers_limit_replaces_the_platform_default() -> None:
    assert reply_rules("mastodon", 11_000).limit == 11_000
    assert reply_rules("mastodon", None).limit == 500
    assert reply_rules("mastodon", 0).limit == 500
    assert reply_rules("nowhere").limit == 280  # a replayed platform: X's limit


def test_platforms_have_the_names_people_use() -> None:
    assert [label(p) for p in ("twitter", "x", "reddit", "mastodon", "bluesky", "odd")] == [
        "X",
        "X",
        "Reddit",
        "Mastodon",
        "Bluesky",
        "odd",
    ]


@pytest.mark.parametrize(
    ("handle", "rules", "address"),
    [
        ("kim_t", reply_rules("twitter"), "@kim_t"),
        ("kim_t", reply_rules("reddit"), "u/kim_t"),
        ("kim@mastodon.example", MASTODON, "@kim@mastodon.example"),
        ("kim.bsky.social", BLUESKY, "@kim.bsky.social"),
        ("kim <script>", BLUESKY, ""),
        ("kim\u202e", MASTODON, ""),  # a bidi override is never echoed
    ],
)
def test_the_address_follows_the_rules_and_never_echoes_odd_text(
    handle: str, rules: ReplyRules, address: str
) -> None:
    assert address_of(handle, rules) == address


def test_addressed_puts_the_author_first_once_where_the_rules_ask() -> None:
    assert addressed("Hi, sorry!", "@kim@m.example", MASTODON) == "@kim@m.example Hi, sorry!"
    assert addressed("@kim@m.example sorry", "@kim@m.example", MASTODON) == "@kim@m.example sorry"
    assert addressed("@kim@m.example.x sorry", "@kim@m.example", MASTODON).startswith(
        "@kim@m.example @kim@m.example.x"
    )
    assert addressed("Hi, sorry!", "@kim", reply_rules("twitter")) == "Hi, sorry!"


def test_a_draft_for_a_platform_that_names_the_author_first_opens_with_the_address() -> None:
    scores = make_scores()
    mention = make_mention("@brand help", platform="mastodon")
    mention = dataclasses.replace(
        mention, author=dataclasses.replace(mention.author, handle="kim@mastodon.example")
    )
    draft = draft_reply(mention, scores, decide(scores), VOICE, rules=MASTODON)
    assert draft.text.startswith("@kim@mastodon.example Hi, ")
    assert draft.text.count("@kim") == 1
    tight = dataclasses.replace(MASTODON, limit=60)
    short = draft_reply(mention, scores, decide(scores), VOICE, rules=tight)
    assert short.text.startswith("@kim@mastodon.example ")  # trimming never drops it
    assert reply_length(short.text, tight) <= 60
