"""X payloads to Mentions and tweepy errors to listener errors, without a network."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
import requests
import tweepy

from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)
from listener.twitter import (
    parse_rate_limit,
    retry_after_seconds,
    translate_error,
    tweet_to_mention,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.reason = "test"
    r.headers.update(headers or {})
    r._content = json.dumps(body).encode() if body is not None else b""
    return r


TWEET = {
    "id": "1578516295611748353",
    "text": "@Twitter respond to my ticket",
    "author_id": "4000000",
    "created_at": "2022-10-07T22:43:02.000Z",
    "conversation_id": "1578516000000000000",
    "referenced_tweets": [{"type": "replied_to", "id": "1578516000000000001"}],
    "lang": "en",
}
USERS = {
    "4000000": {
        "id": "4000000",
        "username": "customer0",
        "name": "Customer 0",
        "verified": True,
        "public_metrics": {"followers_count": 1234},
    }
}


def test_tweet_becomes_a_mention_with_author_reach_and_thread() -> None:
    mention = tweet_to_mention(TWEET, USERS)
    assert mention is not None
    assert mention.external_id == "1578516295611748353"
    assert mention.author.handle == "customer0"
    assert mention.author.followers == 1234
    assert mention.author.verified
    assert mention.created_at == dt.datetime(2022, 10, 7, 22, 43, 2, tzinfo=dt.UTC)
    assert mention.url == "https://x.com/customer0/status/1578516295611748353"
    assert mention.conversation_id == "1578516000000000000"
    assert mention.in_reply_to_id == "1578516000000000001"
    assert mention.raw["tweet"]["id"] == TWEET["id"]


def test_tweet_whose_author_was_not_expanded_still_has_a_working_url() -> None:
    mention = tweet_to_mention(TWEET, {})
    assert mention is not None
    assert mention.author.followers is None
    assert mention.url == "https://x.com/i/web/status/1578516295611748353"


@pytest.mark.parametrize("field", ["id", "text", "author_id", "created_at"])
def test_tweet_missing_a_required_field_is_skipped_with_its_id_logged(
    field: str, caplog: pytest.LogCaptureFixture
) -> None:
    tweet = {k: v for k, v in TWEET.items() if k != field}
    with caplog.at_level(logging.WARNING, logger="listener.twitter"):
        assert tweet_to_mention(tweet, USERS) is None
    assert field in caplog.text
    if field != "id":
        assert TWEET["id"] in caplog.text


def test_tweet_with_unreadable_time_is_skipped() -> None:
    assert tweet_to_mention({**TWEET, "created_at": "yesterday"}, USERS) is None


def test_rate_limit_headers_are_read() -> None:
    limit = parse_rate_limit(
        {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "448",
            "x-rate-limit-reset": "1665183229",
        }
    )
    assert limit is not None
    assert (limit.limit, limit.remaining) == (450, 448)
    assert limit.reset_at == dt.datetime.fromtimestamp(1665183229, dt.UTC)
    assert parse_rate_limit({}) is None


def test_retry_after_counts_down_to_the_reset_header() -> None:
    reset = int(NOW.timestamp()) + 90
    assert retry_after_seconds({"x-rate-limit-reset": str(reset)}, NOW) == 90


def test_retry_after_waits_for_an_exhausted_daily_posting_cap() -> None:
    headers = {
        "x-rate-limit-reset": str(int(NOW.timestamp()) + 60),
        "x-rate-limit-remaining": "10",
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(NOW.timestamp()) + 3600),
    }
    assert retry_after_seconds(headers, NOW) == 3600


def test_retry_after_without_headers_falls_back_to_a_minute() -> None:
    assert retry_after_seconds({}, NOW) == 60.0


def test_429_becomes_rate_limited() -> None:
    reset = int(dt.datetime.now(dt.UTC).timestamp()) + 300
    exc = tweepy.TooManyRequests(
        response(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(reset)}),
        reset_time=reset,
    )
    error = translate_error(exc)
    assert isinstance(error, RateLimited)
    assert 290 <= error.retry_after <= 300
    assert error.platform == "twitter"


def test_401_and_403_outside_replies_are_auth_errors() -> None:
    assert isinstance(
        translate_error(tweepy.Unauthorized(response(401, {"detail": "Unauthorized"}))), AuthError
    )
    forbidden = tweepy.Forbidden(
        response(403, {"detail": "You are not permitted to perform this action."})
    )
    assert isinstance(translate_error(forbidden, action="poll"), AuthError)


def test_403_refusing_a_reply_is_permanent_with_the_platforms_words() -> None:
    detail = (
        "Reply to this conversation is not allowed because you have not been mentioned "
        "or otherwise engaged by the author of the post you are replying to."
    )
    error = translate_error(tweepy.Forbidden(response(403, {"detail": detail})), action="reply")
    assert isinstance(error, PermanentSourceError)
    assert error.reason == detail


def test_403_for_missing_app_permissions_on_reply_is_still_an_auth_error() -> None:
    body = {
        "detail": "Your client app is not configured with the appropriate oauth1 app "
        "permissions for this endpoint."
    }
    error = translate_error(tweepy.Forbidden(response(403, body)), action="reply")
    assert isinstance(error, AuthError)


def test_server_errors_and_network_failures_are_transient() -> None:
    assert isinstance(
        translate_error(tweepy.TwitterServerError(response(503, {}))), TransientSourceError
    )
    assert isinstance(translate_error(requests.ReadTimeout("slow")), TransientSourceError)
    assert isinstance(translate_error(requests.ConnectionError("refused")), TransientSourceError)


def test_bad_request_is_permanent_and_unreadable_json_is_malformed() -> None:
    bad = tweepy.BadRequest(response(400, {"errors": [{"message": "Invalid query"}]}))
    assert isinstance(translate_error(bad), PermanentSourceError)
    with pytest.raises(requests.JSONDecodeError) as caught:
        requests.Response().json()
    assert isinstance(translate_error(caught.value), MalformedPayloadError)
