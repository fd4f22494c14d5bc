"""Drafts adapted from past replies: the right one is found, nothing of the old case stays."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from listener.base import Author, Mention
from listener.registry import reply_rules
from responders.privacy import find_personal_data
from responders.retrieval import (
    Match,
    NotAdaptable,
    PastReply,
    adapt,
    draft_from_matches,
    leaks,
)
from responders.vector_index import ExactIndex, GrowingIndex, from_bytes, to_bytes
from responders.voice import Voice

VOICE = Voice(brand="Skyway Air", products=("Skyway Plus",))
PAST = PastReply(
    memory_id=7,
    mention_text="@SkywayAir my bag never arrived in Denver, what do I do?",
    reply_text=(
        "@kim_travels Hi Kim, so sorry your bag is missing. File a report at "
        "https://skyway.example/bags and we'll trace it. Thanks, Kim!"
    ),
    author_handle="kim_travels",
    author_name="Kim Lee",
    mentioned_at=dt.datetime(2026, 5, 3, tzinfo=dt.UTC),
)


X = reply_rules("twitter")


def mention(text: str, handle: str = "sam_flies", name: str = "", platform: str = "twitter"):  # type: ignore[no-untyped-def]
    return Mention(
        platform=platform,
        external_id="m1",
        text=text,
        author=Author(id="1", handle=handle, name=name),
        created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        url="",
    )


def unit(*values: float) -> np.ndarray:
    v = np.zeros(384, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def test_a_near_duplicate_gets_the_approved_reply_for_its_own_author() -> None:
    new = mention("@SkywayAir my bag never arrived in Denver!! help", name="Sam Park")
    adapted = draft_from_matches(new, [Match(PAST, 0.95)], VOICE, rules=X, threshold=0.8)
    assert adapted is not None
    assert adapted.based_on.memory_id == 7
    assert adapted.text.startswith("@sam_flies Hi Sam, so sorry your bag is missing.")
    assert "https://skyway.example/bags" in adapted.text
    assert "kim" not in adapted.text.lower()


def test_an_unrelated_mention_falls_back_to_the_templates() -> None:
    new = mention("@SkywayAir love the new lounge in Austin")
    assert draft_from_matches(new, [Match(PAST, 0.41)], VOICE, rules=X, threshold=0.8) is None
    assert draft_from_matches(new, [], VOICE, rules=X) is None


def test_personal_data_in_the_old_reply_never_reaches_the_new_draft() -> None:
    past = PastReply(
        memory_id=1,
        mention_text="@SkywayAir refund for booking QX7P2M please, mail me at jo@mail.example",
        reply_text=(
            "@jo_h Hi Jo, we've sent the refund for booking QX7P2M to jo@mail.example. "
            "Call us on +44 20 7946 0958 if it hasn't arrived in 5 days. "
            "Refunds take up to 7 working days to show on your statement, and we will let "
            "you know by message as soon as yours is on its way back to your card. "
            "You can follow it at https://skyway.example/refunds?ref=QX7P2M"
        ),
        author_handle="jo_h",
        author_name="Jo Hart",
    )
    new = mention("@SkywayAir when will my refund arrive?")
    adapted = adapt(past, new, VOICE, rules=X)
    for secret in ("QX7P2M", "jo@mail.example", "7946", "Jo", "jo_h"):
        assert secret not in adapted.text
    assert "Refunds take up to 7 working days" in adapted.text
    assert "https://skyway.example/refunds" in adapted.text
    assert find_personal_data(adapted.text) == []
    assert leaks(past, adapted.text, new_handle="sam_flies") == []


def test_a_reply_that_is_all_about_the_old_case_is_not_adapted() -> None:
    past = PastReply(2, "my order 88812345 is late", "@al Order 88812345 ships today.", "al")
    with pytest.raises(NotAdaptable):
        adapt(past, mention("where is my order?"), VOICE, rules=X)
    # ... and the next candidate is tried instead
    second = Match(PAST, 0.85)
    adapted = draft_from_matches(
        mention("my bag never arrived"), [Match(past, 0.9), second], VOICE, rules=X
    )
    assert adapted is not None
    assert adapted.based_on is PAST


def test_the_thing_mentioned_and_the_platform_limit_follow_the_new_mention() -> None:
    past = PastReply(
        3,
        "my flight UA123 was cancelled",
        "@bo We're sorry UA123 was cancelled. Rebook at https://skyway.example/rebook " * 3,
        "bo",
    )
    new = mention("flight SK 88 cancelled, now what", platform="twitter")
    adapted = adapt(past, new, VOICE, rules=dataclasses.replace(X, limit=140))
    assert "UA123" not in adapted.text
    assert "SK 88" in adapted.text or "SK88" in adapted.text
    from responders.drafting import reply_length

    assert reply_length(adapted.text, X) <= 140
    reddit = adapt(PAST, mention("bag lost", platform="reddit"), VOICE, rules=reply_rules("reddit"))
    assert reddit.text.startswith("u/sam_flies ")


def test_privacy_advice_for_the_old_post_is_left_out() -> None:
    past = PastReply(
        4,
        "locked out, my email is ann@x.example",
        "@ann Please recover your account at https://skyway.example/recover "
        "Also, please delete this tweet with your email, it is private information.",
        "ann",
    )
    adapted = adapt(past, mention("locked out of my account"), VOICE, rules=X)
    assert "delete this tweet" not in adapted.text
    assert "https://skyway.example/recover" in adapted.text


def test_exact_search_ranks_by_cosine_and_vectors_round_trip_as_float32_le() -> None:
    index = ExactIndex()
    index.add(np.array([10, 11, 12]), np.stack([unit(1, 0), unit(0, 1), unit(1, 1)]))
    (hits,) = index.search(unit(1, 0.1)[None, :], 2)
    assert [i for i, _ in hits] == [10, 12]
    assert hits[0][1] == pytest.approx(float(unit(1, 0) @ unit(1, 0.1)), abs=1e-6)
    data = to_bytes(unit(3, 4))
    assert len(data) == 384 * 4
    assert np.frombuffer(data, "<f4")[:2] == pytest.approx([0.6, 0.8])
    assert from_bytes(data) == pytest.approx(unit(3, 4))


def test_exact_search_finds_rows_added_between_searches() -> None:
    """Rows join a buffer with room to grow: every row added, in any number of steps,
    is found, and found under its own id."""
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((300, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ExactIndex()
    for start in range(0, 300, 7):
        index.add(np.arange(start, min(start + 7, 300)) + 1000, vectors[start : start + 7])
        assert len(index) == min(start + 7, 300)
        (hits,) = index.search(vectors[start][None, :], 1)
        assert hits[0][0] == start + 1000
    ids, matrix = index.vectors()
    assert list(ids) == list(range(1000, 1300))
    assert np.array_equal(matrix, vectors)
    found = index.search(vectors[[0, 150, 299]], 1)
    assert [h[0][0] for h in found] == [1000, 1150, 1299]


def test_a_growing_index_moves_to_the_inverted_file_past_its_limit() -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((600, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = GrowingIndex(exact_limit=500)
    index.add(np.arange(400), vectors[:400])
    assert index.kind == "exact"
    index.add(np.arange(400, 600), vectors[400:])
    assert index.kind == "ivf"
    assert len(index) == 600
    hits = index.search(vectors[[5, 550]], 1)
    assert [h[0][0] for h in hits] == [5, 550]
