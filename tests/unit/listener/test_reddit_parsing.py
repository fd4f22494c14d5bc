"""Reddit listing items to Mentions, cursors, keyword filters and error translation."""

from __future__ import annotations

import datetime as dt
import logging

import praw.exceptions
import prawcore
import pytest
import requests

from listener.base import Query
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)
from listener.reddit import (
    RedditCursor,
    RedditQuery,
    item_to_mention,
    parse_rate_limit,
    translate_error,
)

COMMENT = {
    "name": "t1_ekftbox",
    "id": "ekftbox",
    "author": "2Botter2Loop",
    "author_fullname": "t2_3efd9zdo",
    "created_utc": 1554774308.0,
    "body": "Hello /u/brand, your order is late",
    "context": "/r/RemovedByBotter/comments/bb24k7/just_a_normal_girl/ekftbox/?context=3",
    "parent_id": "t3_bb24k7",
    "subreddit": "RemovedByBotter",
}
SUBMISSION = {
    "name": "t3_5jo13y",
    "id": "5jo13y",
    "author": "AnotherProGamer",
    "created_utc": 1482373050.0,
    "title": "Farewell Rush",
    "selftext": "We will never forget your stream",
    "permalink": "/r/LeagueOfVideos/comments/5jo13y/farewell_rush/?ref=search_posts",
}


def response(
    status: int, headers: dict[str, str] | None = None, body: bytes = b"{}"
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = body
    return r


def test_inbox_comment_becomes_a_mention_with_its_thread_and_context_url() -> None:
    mention = item_to_mention(COMMENT)
    assert mention is not None
    assert mention.external_id == "t1_ekftbox"
    assert mention.author.handle == "2Botter2Loop"
    assert mention.author.id == "t2_3efd9zdo"
    assert mention.created_at == dt.datetime.fromtimestamp(1554774308, dt.UTC)
    assert mention.url == (
        "https://www.reddit.com/r/RemovedByBotter/comments/bb24k7/just_a_normal_girl/ekftbox/"
    )
    assert mention.conversation_id == "t3_bb24k7"
    assert mention.in_reply_to_id == "t3_bb24k7"


def test_submission_text_is_title_and_body_and_url_drops_the_query() -> None:
    mention = item_to_mention(SUBMISSION)
    assert mention is not None
    assert mention.text == "Farewell Rush\n\nWe will never forget your stream"
    assert mention.url == "https://www.reddit.com/r/LeagueOfVideos/comments/5jo13y/farewell_rush/"
    assert mention.conversation_id == "t3_5jo13y"


def test_deleted_author_is_named_as_reddit_shows_it() -> None:
    mention = item_to_mention({**COMMENT, "author": None})
    assert mention is not None
    assert mention.author.handle == "[deleted]"


@pytest.mark.parametrize("field", ["name", "created_utc", "body"])
def test_item_missing_a_required_field_is_skipped_and_logged(
    field: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="listener.reddit"):
        assert item_to_mention({k: v for k, v in COMMENT.items() if k != field}) is None
    assert field in caplog.text
    assert "ekftbox" in caplog.text


def test_cursor_round_trips_and_covers_older_items() -> None:
    cursor = RedditCursor("t1_b", 100.0)
    assert RedditCursor.decode(cursor.encode()) == cursor
    assert cursor.covers("t1_b", 100.0)
    assert cursor.covers("t1_a", 99.0)
    assert not cursor.covers("t1_c", 100.0)  # same second, another item: not seen yet
    assert not cursor.covers("t1_d", 101.0)
    with pytest.raises(ValueError, match="not a reddit cursor"):
        RedditCursor.decode("1578516295611748353")


def test_query_terms_name_subreddits_and_keywords_defaulting_to_the_brand() -> None:
    parsed = RedditQuery.parse(
        Query(1, "reddit", "subreddit", "r/Delta, travel : lost bag", "Skyway")
    )
    assert parsed == RedditQuery(("Delta", "travel"), "lost bag")
    assert (
        RedditQuery.parse(Query(1, "reddit", "subreddit", "travel", "Skyway")).keywords == "Skyway"
    )
    assert RedditQuery.parse(Query(1, "reddit", "inbox", "")).subreddits == ("all",)


def test_keyword_filter_matches_whole_words_case_insensitively() -> None:
    parsed = RedditQuery(("all",), 'Skyway OR "lost bag", SK212')
    assert parsed.matches("Flew skyway today")
    assert parsed.matches("my LOST BAG again")
    assert parsed.matches("flight sk212 late")
    assert not parsed.matches("skywayfan here")
    assert RedditQuery(("all",), "").matches("anything")


def test_rate_limit_headers_give_quota_and_reset_time() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    limit = parse_rate_limit(
        {"x-ratelimit-remaining": "9324.0", "x-ratelimit-used": "676", "x-ratelimit-reset": "53"},
        now,
    )
    assert limit is not None
    assert (limit.limit, limit.remaining) == (10000, 9324)
    assert limit.reset_at == now + dt.timedelta(seconds=53)


def test_prawcore_errors_map_to_listener_errors() -> None:
    too_many = prawcore.TooManyRequests(response(429, {"x-ratelimit-reset": "42"}))
    error = translate_error(too_many)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 42
    assert isinstance(translate_error(prawcore.ServerError(response(500))), TransientSourceError)
    assert isinstance(translate_error(prawcore.Forbidden(response(403))), PermanentSourceError)
    assert isinstance(translate_error(prawcore.NotFound(response(404))), PermanentSourceError)
    assert isinstance(translate_error(prawcore.InvalidToken(response(401))), AuthError)
    assert isinstance(translate_error(prawcore.BadJSON(response(200))), MalformedPayloadError)
    timeout = prawcore.RequestException(requests.ReadTimeout("slow"), (), {})
    assert isinstance(translate_error(timeout), TransientSourceError)
    oauth = prawcore.OAuthException(response(200), "invalid_grant", None)
    assert isinstance(translate_error(oauth), AuthError)


def test_reddit_api_errors_are_refusals_except_ratelimit() -> None:
    locked = praw.exceptions.RedditAPIException(
        [["THREAD_LOCKED", "Comments are locked.", "parent"]]
    )
    error = translate_error(locked, action="reply")
    assert isinstance(error, PermanentSourceError)
    assert "THREAD_LOCKED" in error.reason
    slow = praw.exceptions.RedditAPIException(
        [
            [
                "RATELIMIT",
                "Looks like you've been doing that a lot. "
                "Take a break for 3 minutes before trying again.",
                "ratelimit",
            ]
        ]
    )
    limited = translate_error(slow, action="reply")
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 180
