"""RedditSource with the real praw.Reddit against the fake Reddit (recorded responses)."""

from __future__ import annotations

import logging
import time

import pytest

from listener.base import Query, Source
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)
from listener.reddit import RedditCursor, RedditSource
from tests.fakes.fake_api import FakeRedditApi, Fault, empty_reply

from .conftest import REDDIT_PASSWORD

pytestmark = pytest.mark.shared

SEARCH = Query(
    id=1, platform="reddit", kind="subreddit", terms="redditdev,learnpython: praw", brand="praw"
)
INBOX = Query(id=2, platform="reddit", kind="inbox", terms="", brand="brand")
COMMENTS = Query(id=3, platform="reddit", kind="comments", terms="all: coin, coins", brand="")
SUBMISSIONS = Query(id=4, platform="reddit", kind="submissions", terms="all", brand="")
SEARCH_PATH = r"^/r/[^/]+/search"


def newest_first(items: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return sorted((c["data"] for c in items), key=lambda d: d["created_utc"], reverse=True)


def test_reddit_source_follows_the_source_protocol(reddit: RedditSource) -> None:
    assert isinstance(reddit, Source)


def test_subreddit_search_asks_for_newest_first_and_returns_oldest_first(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    page = reddit.poll(SEARCH, since=None)
    recorded = newest_first(reddit_api.search_items)
    assert [m.external_id for m in page.mentions] == [d["name"] for d in reversed(recorded)]
    assert page.cursor == RedditCursor(recorded[0]["name"], recorded[0]["created_utc"]).encode()
    call = reddit_api.seen(SEARCH_PATH)[0]
    assert call.path.startswith("/r/redditdev+learnpython/search")
    assert (call.query["q"], call.query["sort"], call.query["restrict_sr"]) == (
        "praw",
        "new",
        "True",
    )
    assert (page.requests, page.reads) == (2, 6)  # the token, then one listing
    newest = page.mentions[-1]
    assert newest.url.startswith("https://www.reddit.com/r/p18s/comments/4at068/")
    assert newest.author.handle == "nmtake"


def test_search_from_a_cursor_stops_at_the_item_it_covers(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    recorded = newest_first(reddit_api.search_items)
    since = RedditCursor(recorded[2]["name"], recorded[2]["created_utc"]).encode()
    page = reddit.poll(SEARCH, since=since)
    assert [m.external_id for m in page.mentions] == [recorded[1]["name"], recorded[0]["name"]]
    assert page.cursor == RedditCursor(recorded[0]["name"], recorded[0]["created_utc"]).encode()
    again = reddit.poll(SEARCH, since=page.cursor)
    assert again.mentions == []
    assert again.cursor == page.cursor


def test_inbox_mentions_come_with_reddits_rate_limit_headers(reddit: RedditSource) -> None:
    page = reddit.poll(INBOX, since=None)
    assert len(page.mentions) == 16
    assert page.cursor == "t1_ekftbox@1554774308.0"
    limit = page.rate_limit
    assert limit is not None
    assert (limit.limit, limit.remaining) == (10000, 9324)
    newest = page.mentions[-1]
    assert newest.url == (
        "https://www.reddit.com/r/RemovedByBotter/comments/bb24k7/"
        "just_a_normal_girl_going_for_her_10th_class_exam/ekftbox/"
    )
    assert newest.conversation_id == "t3_bb24k7"


def test_comment_listing_pages_with_after_and_keeps_keyword_hits(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    page = reddit.poll(COMMENTS, since=None, limit=100)
    calls = reddit_api.seen(r"^/r/all/comments")
    assert [c.query.get("after") is None for c in calls] == [True, False, False, False]
    assert page.reads == 100
    assert page.mentions
    assert all("coin" in m.text.lower() for m in page.mentions)
    newest = newest_first(reddit_api.comment_items)[0]
    assert page.cursor == RedditCursor(newest["name"], newest["created_utc"]).encode()


def test_listing_cursor_survives_a_restart_unlike_a_praw_stream(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    first = reddit.poll(SUBMISSIONS, since=None, limit=10)
    assert len(first.mentions) == 10
    fresh = RedditSource(
        client_id="client-id",
        client_secret="client-secret",
        user_agent="brandcare-tests/0.1",
        oauth_url=reddit_api.url,
        reddit_url=reddit_api.url,
    )
    again = fresh.poll(SUBMISSIONS, since=first.cursor)
    assert again.mentions == []  # no replay of old items after a restart
    assert again.reads == 1


def test_unreadable_cursor_is_permanent(reddit: RedditSource) -> None:
    with pytest.raises(PermanentSourceError, match="cursor"):
        reddit.poll(SEARCH, since="1578516295611748353")


def test_429_becomes_rate_limited_with_retry_after_from_reset(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    reddit_api.inject(Fault.rate_limited(reset_in=42), path=SEARCH_PATH)
    with pytest.raises(RateLimited) as caught:
        reddit.poll(SEARCH, since=None)
    assert caught.value.retry_after == 42


def test_one_500_is_retried_by_prawcore_and_the_poll_succeeds(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    reddit_api.inject(Fault.server_error(500), path=SEARCH_PATH)
    page = reddit.poll(SEARCH, since=None)
    assert len(page.mentions) == 6
    assert page.requests == 3  # token, the 500, the retry


def test_500s_past_prawcores_retries_become_transient(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    reddit_api.inject(Fault.server_error(503), path=SEARCH_PATH, times=3)
    with pytest.raises(TransientSourceError, match="503"):
        reddit.poll(SEARCH, since=None)


def test_timeouts_become_transient(reddit_api: FakeRedditApi) -> None:
    source = RedditSource(
        client_id="client-id",
        client_secret="client-secret",
        user_agent="brandcare-tests/0.1",
        oauth_url=reddit_api.url,
        reddit_url=reddit_api.url,
        timeout=0.3,
    )
    reddit_api.inject(Fault.timeout(2.0), path=SEARCH_PATH, times=3)
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match="Timeout"):
        source.poll(SEARCH, since=None)
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("fault", [Fault.truncated(), Fault.not_json()], ids=["truncated", "html"])
def test_unreadable_json_becomes_malformed_payload(
    reddit: RedditSource, reddit_api: FakeRedditApi, fault: Fault
) -> None:
    reddit_api.inject(fault, path=SEARCH_PATH)
    with pytest.raises(MalformedPayloadError):
        reddit.poll(SEARCH, since=None)


def test_item_missing_fields_is_skipped_not_the_page(
    reddit: RedditSource, reddit_api: FakeRedditApi, caplog: pytest.LogCaptureFixture
) -> None:
    reddit_api.inject(Fault.missing_fields("body", index=0), path=r"^/message/mentions")
    with caplog.at_level(logging.WARNING, logger="listener.reddit"):
        page = reddit.poll(INBOX, since=None)
    assert len(page.mentions) == 15
    assert page.cursor == "t1_ekftbox@1554774308.0"
    assert "t1_ekftbox" in caplog.text


def test_private_subreddit_is_a_permanent_error(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    reddit_api.inject(
        Fault.respond(403, {"message": "Forbidden", "error": 403, "reason": "private"}),
        path=SEARCH_PATH,
    )
    with pytest.raises(PermanentSourceError, match="Forbidden"):
        reddit.poll(SEARCH, since=None)


def test_rejected_credentials_are_an_auth_error(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    reddit_api.inject(
        Fault.respond(200, {"error": "invalid_grant"}), path=r"^/api/v1/access_token", method="POST"
    )
    with pytest.raises(AuthError):
        reddit.poll(SEARCH, since=None)


def test_inbox_needs_a_logged_in_account(reddit_api: FakeRedditApi) -> None:
    app_only = RedditSource(
        client_id="client-id",
        client_secret="client-secret",
        user_agent="brandcare-tests/0.1",
        oauth_url=reddit_api.url,
        reddit_url=reddit_api.url,
    )
    with pytest.raises(AuthError):
        app_only.poll(INBOX, since=None)


def test_password_never_reaches_the_logs(
    reddit: RedditSource, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        reddit.poll(INBOX, since=None)
    assert REDDIT_PASSWORD not in caplog.text


# -- replies ---------------------------------------------------------------------------------


def test_reply_to_an_inbox_comment_is_posted_once_and_found_again(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    mention = reddit.poll(INBOX, since=None).mentions[-1]
    reply = reddit.post_reply(mention, "Thanks, we're looking into it")
    calls = reddit_api.seen(r"^/api/comment", method="POST")
    assert len(calls) == 1
    assert calls[0].form()["thing_id"] == "t1_ekftbox"
    assert calls[0].form()["text"] == "Thanks, we're looking into it"
    assert reply.external_id == reddit_api.posted[0]["data"]["name"]
    assert reply.url.startswith("https://www.reddit.com/r/RemovedByBotter/comments/bb24k7/")
    found = reddit.find_reply(mention, "Thanks, we're looking into it")
    assert found == reply


def test_reply_to_a_submission(reddit: RedditSource, reddit_api: FakeRedditApi) -> None:
    mention = reddit.poll(SEARCH, since=None).mentions[0]
    reddit.post_reply(mention, "Hello from the brand")
    assert (
        reddit_api.seen(r"^/api/comment", method="POST")[0].form()["thing_id"]
        == mention.external_id
    )


def test_reply_that_praw_returns_as_none_is_settled_by_find_reply(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    mention = reddit.poll(INBOX, since=None).mentions[0]
    reddit_api.inject(Fault.rewrite(empty_reply), path=r"^/api/comment", method="POST")
    reply = reddit.post_reply(mention, "We hear you")
    assert len(reddit_api.posted) == 1
    assert reply.external_id == reddit_api.posted[0]["data"]["name"]
    assert len(reddit_api.seen(r"^/user/brand_care/comments")) == 1


def test_reply_returned_as_none_and_not_yet_visible_is_transient_not_reposted(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    mention = reddit.poll(INBOX, since=None).mentions[0]
    reddit_api.inject(Fault.rewrite(empty_reply), path=r"^/api/comment", method="POST")
    reddit_api.inject(
        Fault.rewrite(lambda p: {**p, "data": {**p["data"], "children": []}}),
        path=r"^/user/brand_care/comments",
    )
    with pytest.raises(TransientSourceError, match="find_reply"):
        reddit.post_reply(mention, "We hear you")
    assert len(reddit_api.seen(r"^/api/comment", method="POST")) == 1
    assert reddit.find_reply(mention, "We hear you") is not None


def test_find_reply_is_none_when_we_never_replied(reddit: RedditSource) -> None:
    mentions = reddit.poll(INBOX, since=None).mentions
    reddit.post_reply(mentions[0], "Same words")
    assert reddit.find_reply(mentions[1], "Same words") is None


def test_reply_to_a_locked_thread_is_permanent_with_reddits_reason(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    mention = reddit.poll(INBOX, since=None).mentions[0]
    reddit_api.inject(
        Fault.respond(
            200, {"json": {"errors": [["THREAD_LOCKED", "Comments are locked.", "parent"]]}}
        ),
        path=r"^/api/comment",
        method="POST",
    )
    with pytest.raises(PermanentSourceError) as caught:
        reddit.post_reply(mention, "Hello")
    assert "Comments are locked." in caught.value.reason
    assert reddit_api.posted == []


def test_reply_forbidden_is_permanent(reddit: RedditSource, reddit_api: FakeRedditApi) -> None:
    mention = reddit.poll(INBOX, since=None).mentions[0]
    reddit_api.inject(
        Fault.respond(403, {"message": "Forbidden", "error": 403}),
        path=r"^/api/comment",
        method="POST",
    )
    with pytest.raises(PermanentSourceError):
        reddit.post_reply(mention, "Hello")


def test_reply_rate_limited_by_reddit_says_how_long_to_wait(
    reddit: RedditSource, reddit_api: FakeRedditApi
) -> None:
    mention = reddit.poll(INBOX, since=None).mentions[0]
    message = (
        "Looks like you've been doing that a lot. Take a break for 4 minutes before trying again."
    )
    reddit_api.inject(
        Fault.respond(200, {"json": {"errors": [["RATELIMIT", message, "ratelimit"]]}}),
        path=r"^/api/comment",
        method="POST",
    )
    with pytest.raises(RateLimited) as caught:
        reddit.post_reply(mention, "Hello")
    assert caught.value.retry_after == 240


def test_read_only_source_cannot_post(reddit_api: FakeRedditApi) -> None:
    app_only = RedditSource(
        client_id="client-id",
        client_secret="client-secret",
        user_agent="brandcare-tests/0.1",
        oauth_url=reddit_api.url,
        reddit_url=reddit_api.url,
    )
    mention = app_only.poll(SEARCH, since=None).mentions[0]
    with pytest.raises(AuthError):
        app_only.post_reply(mention, "hi")
    assert reddit_api.seen(r"^/api/comment", method="POST") == []
