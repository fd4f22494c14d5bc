"""TwitterSource with the real tweepy.Client against the fake X API (recorded responses)."""

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
from listener.twitter import TwitterSource
from tests.fakes.fake_api import FakeTwitterApi, Fault

from .conftest import ACCESS_SECRET, BEARER

pytestmark = pytest.mark.shared

SEARCH = Query(id=1, platform="twitter", kind="search", terms="Tweepy", brand="tweepy")
MENTIONS = Query(id=2, platform="twitter", kind="mentions", terms="@Twitter", brand="twitter")
SEARCH_PATH = r"^/2/tweets/search/recent$"


def recorded_ids(api: FakeTwitterApi) -> list[str]:
    return sorted((t["id"] for t in api.search_tweets), key=int)


def test_twitter_source_follows_the_source_protocol(twitter: TwitterSource) -> None:
    assert isinstance(twitter, Source)


def test_search_pages_through_all_recorded_tweets_oldest_first(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    page = twitter.poll(SEARCH, since=None)
    ids = [m.external_id for m in page.mentions]
    assert ids == recorded_ids(twitter_api)
    assert page.cursor == ids[-1]
    assert (page.requests, page.reads) == (4, 10)
    calls = twitter_api.seen(SEARCH_PATH)
    assert [c.query.get("next_token") for c in calls] == [None, "fake-3", "fake-6", "fake-9"]
    first = calls[0].query
    assert first["query"] == "Tweepy"
    assert first["expansions"] == "author_id"
    assert set(first["tweet.fields"].split(",")) >= {
        "created_at",
        "conversation_id",
        "in_reply_to_user_id",
        "referenced_tweets",
        "lang",
        "public_metrics",
    }
    assert set(first["user.fields"].split(",")) == {
        "public_metrics",
        "username",
        "name",
        "verified",
    }
    assert calls[0].headers["authorization"] == f"Bearer {BEARER}"


def test_search_mentions_carry_author_reach_time_and_url(twitter: TwitterSource) -> None:
    mention = twitter.poll(SEARCH, since=None).mentions[-1]
    assert mention.text == "2022-10-07 22:42:12.637103 tweepy"
    assert mention.author.handle == "TweepyDev"
    assert mention.author.followers is not None
    assert mention.created_at.isoformat().startswith("2022-10-07T22:42:12")
    assert mention.url == f"https://x.com/TweepyDev/status/{mention.external_id}"
    assert mention.conversation_id == mention.external_id


def test_rate_limit_headers_are_reported_with_the_page(twitter: TwitterSource) -> None:
    limit = twitter.poll(SEARCH, since=None).rate_limit
    assert limit is not None
    assert (limit.limit, limit.remaining) == (450, 448)
    assert int(limit.reset_at.timestamp()) == 1665183229  # type: ignore[union-attr]


def test_since_id_reads_only_newer_tweets(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    ids = recorded_ids(twitter_api)
    page = twitter.poll(SEARCH, since=ids[5])
    assert [m.external_id for m in page.mentions] == ids[6:]
    assert page.cursor == ids[-1]
    assert {c.query["since_id"] for c in twitter_api.seen(SEARCH_PATH)} == {ids[5]}


def test_polling_again_from_the_cursor_rereads_nothing(twitter: TwitterSource) -> None:
    first = twitter.poll(SEARCH, since=None)
    again = twitter.poll(SEARCH, since=first.cursor)
    assert again.mentions == []
    assert again.cursor == first.cursor
    assert (again.requests, again.reads) == (1, 0)


def test_limit_stops_paging_and_keeps_the_newest(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    page = twitter.poll(SEARCH, since=None, limit=5)
    ids = recorded_ids(twitter_api)
    assert [m.external_id for m in page.mentions] == ids[-6:]
    assert page.requests == 2
    assert page.cursor == ids[-1]


def test_a_poll_from_a_cursor_reads_every_page_so_a_backlog_leaves_no_gap(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    ids = recorded_ids(twitter_api)
    page = twitter.poll(SEARCH, since=ids[0], limit=3)  # nine newer tweets, three a page
    assert [m.external_id for m in page.mentions] == ids[1:]
    assert page.cursor == ids[-1]


def test_mentions_timeline_resolves_the_handle_once(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    page = twitter.poll(MENTIONS, since=None)
    twitter.poll(MENTIONS, since=page.cursor)
    assert len(twitter_api.seen(r"^/2/users/by/username/Twitter$")) == 1
    assert {c.path for c in twitter_api.seen(r"/mentions$")} == {"/2/users/783214/mentions"}
    assert len(page.mentions) == 10
    assert page.cursor == "1578516295611748353"
    newest = page.mentions[-1]
    assert newest.text.startswith("@Twitter @TwitterSupport this is my ENTIRE feed")
    assert newest.author.handle.startswith("customer")
    assert newest.author.followers is not None
    assert newest.url == f"https://x.com/{newest.author.handle}/status/1578516295611748353"
    assert [c.query.get("pagination_token") for c in twitter_api.seen(r"/mentions$")][:2] == [
        None,
        "fake-3",
    ]


def test_mentions_of_an_unknown_handle_are_a_permanent_error(twitter: TwitterSource) -> None:
    with pytest.raises(PermanentSourceError, match="nobody_here"):
        twitter.poll(Query(3, "twitter", "mentions", "nobody_here"), since=None)


def test_429_becomes_rate_limited_with_retry_after_from_the_reset_header(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    twitter_api.inject(Fault.rate_limited(reset_in=120), path=SEARCH_PATH)
    with pytest.raises(RateLimited) as caught:
        twitter.poll(SEARCH, since=None)
    assert 115 <= caught.value.retry_after <= 121
    assert caught.value.platform == "twitter"


def test_429_on_a_later_page_raises_so_the_old_cursor_is_kept(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    twitter_api.inject(
        Fault.rate_limited(reset_in=30), path=SEARCH_PATH, when=lambda r: "next_token" in r.query
    )
    with pytest.raises(RateLimited):
        twitter.poll(SEARCH, since=None)
    assert len(twitter_api.seen(SEARCH_PATH)) == 2  # page 1 read, page 2 refused
    assert len(twitter.poll(SEARCH, since=None).mentions) == 10


def test_500_becomes_a_transient_error(twitter: TwitterSource, twitter_api: FakeTwitterApi) -> None:
    twitter_api.inject(Fault.server_error(503), path=SEARCH_PATH)
    with pytest.raises(TransientSourceError, match="503"):
        twitter.poll(SEARCH, since=None)


def test_timeout_becomes_a_transient_error(twitter_api: FakeTwitterApi) -> None:
    source = TwitterSource(bearer_token=BEARER, api_url=twitter_api.url, timeout=0.3)
    twitter_api.inject(Fault.timeout(2.0), path=SEARCH_PATH)
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match="Timeout"):
        source.poll(SEARCH, since=None)
    assert time.monotonic() - started < 1.5


def test_refused_connection_is_a_transient_error(twitter_api: FakeTwitterApi) -> None:
    url = twitter_api.url
    twitter_api.stop()
    with pytest.raises(TransientSourceError, match="ConnectionError"):
        TwitterSource(bearer_token=BEARER, api_url=url, timeout=0.5).poll(SEARCH, since=None)


@pytest.mark.parametrize("fault", [Fault.truncated(), Fault.not_json()], ids=["truncated", "html"])
def test_unreadable_json_becomes_malformed_payload(
    twitter: TwitterSource, twitter_api: FakeTwitterApi, fault: Fault
) -> None:
    twitter_api.inject(fault, path=SEARCH_PATH)
    with pytest.raises(MalformedPayloadError):
        twitter.poll(SEARCH, since=None)


def test_tweet_missing_fields_is_skipped_not_the_page(
    twitter: TwitterSource, twitter_api: FakeTwitterApi, caplog: pytest.LogCaptureFixture
) -> None:
    newest = recorded_ids(twitter_api)[-1]
    twitter_api.inject(Fault.missing_fields("created_at", "author_id", index=0), path=SEARCH_PATH)
    with caplog.at_level(logging.WARNING, logger="listener.twitter"):
        page = twitter.poll(SEARCH, since=None)
    assert len(page.mentions) == 9
    assert newest not in {m.external_id for m in page.mentions}
    assert page.reads == 10
    assert page.cursor == newest  # skipped, but seen: not fetched again
    assert newest in caplog.text


def test_401_becomes_an_auth_error(twitter: TwitterSource, twitter_api: FakeTwitterApi) -> None:
    twitter_api.inject(
        Fault.respond(
            401,
            {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
        ),
        path=SEARCH_PATH,
    )
    with pytest.raises(AuthError):
        twitter.poll(SEARCH, since=None)


def test_since_id_older_than_search_allows_restarts_without_it(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    detail = (
        "Invalid 'since_id':'1'. 'since_id' must be a tweet id created after 2022-09-30T22:43Z."
    )
    twitter_api.inject(
        Fault.respond(
            400,
            {
                "errors": [{"parameters": {"since_id": ["1"]}, "message": detail}],
                "title": "Invalid Request",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        ),
        path=SEARCH_PATH,
    )
    page = twitter.poll(SEARCH, since="1")
    assert len(page.mentions) == 10
    assert page.requests == 5  # the refused one counts against the quota too
    assert twitter_api.seen(SEARCH_PATH)[1].query.get("since_id") is None


def test_unknown_query_kind_is_permanent(twitter: TwitterSource) -> None:
    with pytest.raises(PermanentSourceError, match="kind"):
        twitter.poll(Query(9, "twitter", "inbox", "x"), since=None)


def test_tokens_never_reach_the_logs(
    twitter: TwitterSource, twitter_api: FakeTwitterApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        page = twitter.poll(MENTIONS, since=None)
        twitter.post_reply(page.mentions[0], "Thanks for reaching out")
    assert "Bearer" in caplog.text  # tweepy did log the headers...
    assert BEARER not in caplog.text  # ...with the token blanked
    assert ACCESS_SECRET not in caplog.text


# -- replies ---------------------------------------------------------------------------------


def test_reply_is_posted_once_in_the_thread_and_found_again(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    mention = twitter.poll(MENTIONS, since=None).mentions[-1]
    reply = twitter.post_reply(mention, "Sorry about the feed & thanks for the report")
    assert len(twitter_api.posted) == 1
    sent = twitter_api.seen(r"^/2/tweets$", method="POST")[0]
    assert sent.json() == {
        "text": "Sorry about the feed & thanks for the report",
        "reply": {"in_reply_to_tweet_id": mention.external_id},
    }
    assert sent.headers["authorization"].startswith("OAuth ")
    assert reply.external_id == twitter_api.posted[0]["id"]
    assert reply.url == f"https://x.com/TweepyDev/status/{reply.external_id}"
    found = twitter.find_reply(mention, "Sorry about the feed &amp; thanks for the report")
    assert found is not None
    assert found.external_id == reply.external_id


def test_find_reply_is_none_when_nothing_went_out(twitter: TwitterSource) -> None:
    mention = twitter.poll(MENTIONS, since=None).mentions[-1]
    assert twitter.find_reply(mention, "anything") is None


def test_find_reply_ignores_our_replies_to_other_mentions(twitter: TwitterSource) -> None:
    mentions = twitter.poll(MENTIONS, since=None).mentions
    twitter.post_reply(mentions[0], "Same words")
    assert twitter.find_reply(mentions[1], "Same words") is None


def test_reply_whose_answer_timed_out_is_found_instead_of_reposted(
    twitter_api: FakeTwitterApi,
) -> None:
    source = TwitterSource(
        bearer_token=BEARER,
        consumer_key="ck",
        consumer_secret="cs",
        access_token="at",
        access_token_secret=ACCESS_SECRET,
        api_url=twitter_api.url,
        timeout=0.3,
    )
    mention = source.poll(MENTIONS, since=None).mentions[-1]
    twitter_api.inject(Fault.timeout(2.0), path=r"^/2/tweets$", method="POST")
    with pytest.raises(TransientSourceError):
        source.post_reply(mention, "We're on it")
    assert len(twitter_api.posted) == 1  # it went out; only the answer was lost
    found = source.find_reply(mention, "We're on it")
    assert found is not None
    assert found.external_id == twitter_api.posted[0]["id"]


def test_reply_refused_by_x_is_permanent_with_its_reason(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    mention = twitter.poll(MENTIONS, since=None).mentions[-1]
    detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
    twitter_api.inject(
        Fault.respond(
            403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}
        ),
        path=r"^/2/tweets$",
        method="POST",
    )
    with pytest.raises(PermanentSourceError) as caught:
        twitter.post_reply(mention, "Hello")
    assert caught.value.reason == detail
    assert twitter_api.posted == []


def test_duplicate_reply_refusal_returns_the_reply_already_there(
    twitter: TwitterSource, twitter_api: FakeTwitterApi
) -> None:
    mention = twitter.poll(MENTIONS, since=None).mentions[-1]
    first = twitter.post_reply(mention, "On it")
    twitter_api.inject(
        Fault.respond(
            403,
            {
                "detail": "You are not allowed to create a Tweet with duplicate content.",
                "type": "about:blank",
                "title": "Forbidden",
                "status": 403,
            },
        ),
        path=r"^/2/tweets$",
        method="POST",
    )
    assert twitter.post_reply(mention, "On it").external_id == first.external_id
    assert len(twitter_api.posted) == 1


def test_posting_without_user_keys_is_an_auth_error_before_any_request(
    twitter_api: FakeTwitterApi,
) -> None:
    source = TwitterSource(bearer_token=BEARER, api_url=twitter_api.url)
    mention = source.poll(MENTIONS, since=None).mentions[-1]
    before = len(twitter_api.requests)
    with pytest.raises(AuthError, match=r"OAuth 1\.0a"):
        source.post_reply(mention, "hi")
    assert len(twitter_api.requests) == before


def test_without_a_bearer_token_reads_use_the_user_keys(twitter_api: FakeTwitterApi) -> None:
    source = TwitterSource(
        consumer_key="ck",
        consumer_secret="cs",
        access_token="at",
        access_token_secret=ACCESS_SECRET,
        api_url=twitter_api.url,
    )
    assert len(source.poll(MENTIONS, since=None).mentions) == 10
    assert all(r.headers["authorization"].startswith("OAuth ") for r in twitter_api.requests)


def test_without_any_credentials_polling_is_an_auth_error(twitter_api: FakeTwitterApi) -> None:
    with pytest.raises(AuthError):
        TwitterSource(api_url=twitter_api.url).poll(SEARCH, since=None)
    assert twitter_api.requests == []
