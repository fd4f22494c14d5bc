"""The scripted fake other tests build on: pages, errors, lost answers, counts."""

from __future__ import annotations

import pytest

from listener.base import Page, Query, Source
from listener.errors import AuthError, RateLimited, TransientSourceError
from listener.fake import ScriptedSource, make_mention

Q1 = Query(id=1, platform="scripted", kind="search", terms="brand")
Q2 = Query(id=2, platform="scripted", kind="search", terms="other")


def test_scripted_source_follows_the_source_protocol() -> None:
    assert isinstance(ScriptedSource(), Source)


def test_pages_come_back_in_order_then_empty_pages_keep_the_cursor() -> None:
    page = Page(mentions=[make_mention("1")], cursor="1")
    source = ScriptedSource(pages=[page])
    assert source.poll(Q1, since=None) is page
    empty = source.poll(Q1, since="1")
    assert empty.mentions == []
    assert empty.cursor == "1"
    assert [(c.query.id, c.since) for c in source.polls] == [(1, None), (1, "1")]


def test_pages_by_query_keep_queries_apart() -> None:
    a = Page(mentions=[make_mention("a")], cursor="a")
    b = Page(mentions=[make_mention("b")], cursor="b")
    source = ScriptedSource(pages_by_query={1: [a], 2: [b]})
    assert source.poll(Q2, since=None) is b
    assert source.poll(Q1, since=None) is a


def test_error_is_raised_on_the_nth_poll_only() -> None:
    source = ScriptedSource(poll_errors={2: RateLimited("wait", retry_after=5)})
    source.poll(Q1, since=None)
    with pytest.raises(RateLimited):
        source.poll(Q1, since=None)
    source.poll(Q1, since=None)


def test_one_failing_query_does_not_affect_another() -> None:
    source = ScriptedSource.with_mentions([make_mention("1")], query_errors={2: AuthError("no")})
    with pytest.raises(AuthError):
        source.poll(Q2, since=None)
    assert [m.external_id for m in source.poll(Q1, since=None).mentions] == ["1"]


def test_lost_answer_after_posting_is_found_so_the_reply_goes_out_once() -> None:
    source = ScriptedSource(lose_response_after_post=True)
    mention = make_mention("42")
    with pytest.raises(TransientSourceError, match="answer lost"):
        source.post_reply(mention, "On it!")
    found = source.find_reply(mention, "On it!")
    assert found is not None
    assert source.posts_for(mention) == 1
    assert source.post_count == 1


def test_lose_response_can_be_limited_to_the_first_posts() -> None:
    source = ScriptedSource(lose_response_after_post=1)
    with pytest.raises(TransientSourceError):
        source.post_reply(make_mention("1"), "a")
    assert source.post_reply(make_mention("2"), "b").external_id == "reply-2"


def test_post_error_happens_before_anything_is_posted() -> None:
    source = ScriptedSource(post_errors={1: TransientSourceError("timeout before sending")})
    mention = make_mention("1")
    with pytest.raises(TransientSourceError):
        source.post_reply(mention, "hi")
    assert source.posts_for(mention) == 0
    assert source.find_reply(mention, "hi") is None
    source.post_reply(mention, "hi")
    assert source.posts_for(mention) == 1


def test_find_reply_can_miss_a_few_times_like_a_lagging_platform() -> None:
    source = ScriptedSource(find_reply_misses=2)
    mention = make_mention("1")
    reply = source.post_reply(mention, "hi")
    assert source.find_reply(mention, "hi") is None
    assert source.find_reply(mention, "hi") is None
    assert source.find_reply(mention, "hi") == reply
    assert source.find_calls == 3
