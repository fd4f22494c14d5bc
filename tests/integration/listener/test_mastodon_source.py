"""MastodonSource with the real Mastodon.py client against the fake instance (recorded answers)."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from listener.base import Query, Source, Visibility
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)
from listener.mastodon import MastodonSource
from tests.fakes.fake_api import Fault
from tests.fakes.fake_mastodon import (
    CONTEXT_PATH,
    MENTION_PATH,
    POST_PATH,
    Customer,
    FakeMastodonApi,
    without,
)

from .conftest import MASTODON_TOKEN

pytestmark = pytest.mark.shared

MENTIONS = Query(id=1, platform="mastodon", kind="mentions", terms="", brand="brand")
TAG = Query(id=2, platform="mastodon", kind="search", terms="#hoot", brand="brand")
SEARCH = Query(id=3, platform="mastodon", kind="search", terms="order", brand="brand")


def newest_notification(api: FakeMastodonApi) -> str:
    return max((n["id"] for n in api.notifications), key=int)


def test_mastodon_source_follows_the_source_protocol(mastodon: MastodonSource) -> None:
    assert isinstance(mastodon, Source)


def test_mentions_page_through_the_link_headers_and_come_oldest_first(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    page = mastodon.poll(MENTIONS, since=None)
    texts = [m.text for m in page.mentions]
    assert texts[0] == "@mastodonpy_test hello!"  # the recorded mention, oldest
    assert texts[1] == "@mastodonpy_test my order never arrived, can you help?"
    assert len(texts) == 5
    assert page.cursor == newest_notification(mastodon_api)
    calls = mastodon_api.seen(MENTION_PATH)
    assert len(calls) == 4  # three pages of two, and an empty one
    assert all("types%5B%5D=mention" in c.raw_query for c in calls)
    assert [c.query.get("max_id") is None for c in calls] == [True, False, False, False]
    assert calls[0].headers["authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert (page.requests, page.reads) == (5, 5)  # the instance's limit, then the pages


def test_mentions_carry_author_reach_url_and_the_instance_limit(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = mastodon.poll(MENTIONS, since=None).mentions[2]
    assert mention.author.handle == "ben@other.example"
    assert mention.author.followers is not None
    assert mention.url.endswith(f"/{mention.external_id}")
    assert mention.reply_limit == 500  # /api/v2/instance: configuration.statuses
    assert mention.raw["status"]["content"].startswith("<p>")
    assert len(mastodon_api.seen(r"^/api/v2/instance")) == 1
    mastodon.poll(MENTIONS, since=None)
    assert len(mastodon_api.seen(r"^/api/v2/instance")) == 1  # read once per source


def test_a_poll_from_the_cursor_walks_forward_and_rereads_nothing(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    first = mastodon.poll(MENTIONS, since=None)
    again = mastodon.poll(MENTIONS, since=first.cursor)
    assert again.mentions == []
    assert again.cursor == first.cursor
    for n in range(5):
        mastodon_api.add_mention(Customer(f"@mastodonpy_test question {n}", acct=f"new{n}"))
    later = mastodon.poll(MENTIONS, since=first.cursor)
    assert [m.text for m in later.mentions] == [f"@mastodonpy_test question {n}" for n in range(5)]
    assert later.cursor == newest_notification(mastodon_api)
    forward = [c.query.get("min_id") for c in mastodon_api.seen(MENTION_PATH)][-4:]
    assert forward[0] == first.cursor  # then the prev links, newer and newer
    assert len(set(forward)) == 4


def test_visibility_and_content_warnings_are_kept(mastodon: MastodonSource) -> None:
    by_author = {m.author.handle: m for m in mastodon.poll(MENTIONS, since=None).mentions}
    assert by_author["cy"].visibility is Visibility.DIRECT
    assert by_author["cy"].content_warning == "billing, personal"
    assert by_author["dee"].visibility is Visibility.PRIVATE
    assert by_author["ana"].visibility is Visibility.PUBLIC
    assert by_author["ana"].content_warning is None


def test_rate_limit_headers_are_reported_with_the_page(mastodon: MastodonSource) -> None:
    limit = mastodon.poll(MENTIONS, since=None).rate_limit
    assert limit is not None
    assert (limit.limit, limit.remaining) == (300, 299)
    assert limit.reset_at is not None


def test_html_becomes_the_text_a_reader_sees(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    content = (
        '<p>@<span>brand</span> see <a href="https://example.com/a/long/path">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/a/lo</span>'
        '<span class="invisible">ng/path</span></a> &amp; fix it<br>now</p>'
        "<script>alert('x')</script><p>thanks \u202ecba\u202c\u200b!</p>"
    )
    mastodon_api.add_mention(Customer("", acct="eve", html=content))
    mention = mastodon.poll(MENTIONS, since=None).mentions[-1]
    assert mention.text == "@brand see https://example.com/a/long/path & fix it\nnow\n\nthanks cba!"
    assert mention.raw["status"]["content"] == content  # the original HTML is kept


def test_a_50_kb_post_is_kept_whole(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mastodon_api.add_mention(Customer("@mastodonpy_test " + "word " * 10_000, acct="long"))
    mention = mastodon.poll(MENTIONS, since=None).mentions[-1]
    assert len(mention.text) >= 50_000


def test_other_notification_types_and_statuses_missing_fields_are_skipped_not_the_page(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi, caplog: pytest.LogCaptureFixture
) -> None:
    mastodon_api.honour_types = False  # a server that ignores the filter
    mastodon_api.add_notification("follow")
    mastodon_api.add_notification("quote_update")  # a type newer than this code
    mastodon_api.inject(
        Fault.rewrite(without("created_at")), path=MENTION_PATH, when=lambda r: "max_id" in r.query
    )
    with caplog.at_level(logging.INFO, logger="listener.mastodon"):
        page = mastodon.poll(MENTIONS, since=None)
    assert len(page.mentions) == 4  # five mentions, one (on page two) without its time
    assert page.cursor == newest_notification(mastodon_api)  # skipped, but seen
    assert "missing created_at" in caplog.text
    assert "of type 'quote_update'" in caplog.text


def test_429_becomes_rate_limited_with_retry_after_from_the_reset_header(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mastodon.poll(MENTIONS, since=None)
    mastodon_api.inject(Fault.rate_limited(reset_in=120), path=MENTION_PATH)
    with pytest.raises(RateLimited) as caught:
        mastodon.poll(MENTIONS, since=None)
    assert 110 <= caught.value.retry_after <= 121
    assert caught.value.platform == "mastodon"


def test_429_on_a_later_page_keeps_the_old_cursor_and_no_request_goes_out_until_the_reset(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mastodon_api.inject(
        Fault.rate_limited(reset_in=30), path=MENTION_PATH, when=lambda r: "max_id" in r.query
    )
    with pytest.raises(RateLimited):
        mastodon.poll(MENTIONS, since=None)
    asked = len(mastodon_api.requests)
    with pytest.raises(RateLimited) as caught:  # X-RateLimit-Remaining said 0
        mastodon.poll(MENTIONS, since=None)
    assert 20 <= caught.value.retry_after <= 31
    assert len(mastodon_api.requests) == asked
    # After the reset (another process's client here), the poll reads every mention: the
    # page that failed moved no cursor, so nothing was lost.
    later = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
    assert len(later.poll(MENTIONS, since=None).mentions) == 5


def test_an_answer_saying_no_requests_are_left_holds_the_next_call_until_the_reset(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    spent = {
        "x-ratelimit-limit": "300",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    mastodon_api.inject(Fault.respond(200, [], spent), path=MENTION_PATH)
    assert mastodon.poll(MENTIONS, since=None).mentions == []
    asked = len(mastodon_api.requests)
    with pytest.raises(RateLimited) as caught:
        mastodon.poll(MENTIONS, since=None)
    assert 80 <= caught.value.retry_after <= 91
    assert len(mastodon_api.requests) == asked
    # Posting is limited apart: a reply may still go out.
    ana = next(m for m in MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
               .poll(MENTIONS, since=None).mentions if m.author.handle == "ana")  # fmt: skip
    mastodon.post_reply(ana, "On it")
    assert len(mastodon_api.replies_to(ana.external_id)) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_becomes_a_transient_error(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi, status: int
) -> None:
    mastodon_api.inject(Fault.server_error(status), path=MENTION_PATH)
    with pytest.raises(TransientSourceError, match=str(status)):
        mastodon.poll(MENTIONS, since=None)


def test_timeout_becomes_a_transient_error(mastodon_api: FakeMastodonApi) -> None:
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url, timeout=0.3)
    mastodon_api.inject(Fault.timeout(2.0), path=MENTION_PATH)
    started = time.monotonic()
    with pytest.raises(TransientSourceError):
        source.poll(MENTIONS, since=None)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("fault", [Fault.truncated(), Fault.not_json()], ids=["truncated", "html"])
def test_unreadable_json_becomes_malformed_payload(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi, fault: Fault
) -> None:
    mastodon_api.inject(fault, path=MENTION_PATH)
    with pytest.raises(MalformedPayloadError):
        mastodon.poll(MENTIONS, since=None)


def test_a_revoked_token_is_an_auth_error(mastodon_api: FakeMastodonApi) -> None:
    source = MastodonSource(access_token="revoked", api_base_url=mastodon_api.url, timeout=2.0)
    with pytest.raises(AuthError):
        source.poll(MENTIONS, since=None)


def test_without_a_token_mentions_are_an_auth_error_before_any_request(
    mastodon_api: FakeMastodonApi,
) -> None:
    source = MastodonSource(access_token=None, api_base_url=mastodon_api.url)
    with pytest.raises(AuthError):
        source.poll(MENTIONS, since=None)
    assert mastodon_api.seen(MENTION_PATH) == []


def test_a_hashtag_reads_the_tags_timeline_which_needs_no_full_text_search(
    mastodon: MastodonSource,
) -> None:
    page = mastodon.poll(TAG, since=None)
    assert [m.text for m in page.mentions] == ["#hoot (hashtag toot)"]
    assert mastodon.poll(TAG, since=page.cursor).mentions == []


def test_a_search_finds_nothing_where_the_instance_has_no_full_text_search(
    mastodon: MastodonSource, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="listener.mastodon"):
        page = mastodon.poll(SEARCH, since=None)
    assert page.mentions == []
    assert "full-text search" in caplog.text


def test_a_search_finds_posts_where_the_instance_has_full_text_search(
    fixtures_dir, mastodon_api: FakeMastodonApi
) -> None:
    mastodon_api.full_text_search = True
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
    page = source.poll(SEARCH, since=None)
    assert [m.author.handle for m in page.mentions] == ["ana"]
    assert source.poll(SEARCH, since=page.cursor).mentions == []


# -- replies -------------------------------------------------------------------------------


def _mention(source: MastodonSource, handle: str):  # type: ignore[no-untyped-def]
    return next(m for m in source.poll(MENTIONS, since=None).mentions if m.author.handle == handle)


def test_a_reply_names_the_author_first_and_is_found_again(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = _mention(mastodon, "ben@other.example")
    reply = mastodon.post_reply(mention, "Sorry about that & thanks for the report")
    [posted] = mastodon_api.replies_to(mention.external_id)
    sent = mastodon_api.seen(POST_PATH, method="POST")[0].form()
    assert sent["status"] == "@ben@other.example Sorry about that & thanks for the report"
    assert sent["in_reply_to_id"] == mention.external_id
    assert sent["visibility"] == "public"
    assert reply.external_id == posted["id"]
    found = mastodon.find_reply(mention, "Sorry about that &amp; thanks for the report")
    assert found is not None
    assert found.external_id == reply.external_id


def test_a_reply_to_a_direct_mention_stays_direct_behind_the_same_warning(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = _mention(mastodon, "cy")
    mastodon.post_reply(mention, "@cy we're sorry, please DM us the date")
    sent = mastodon_api.seen(POST_PATH, method="POST")[0].form()
    assert sent["status"] == "@cy we're sorry, please DM us the date"  # named once
    assert sent["visibility"] == "direct"
    assert sent["spoiler_text"] == "billing, personal"


def test_a_followers_only_mention_gets_a_followers_only_reply(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mastodon.post_reply(_mention(mastodon, "dee"), "Yes, we do")
    assert mastodon_api.seen(POST_PATH, method="POST")[0].form()["visibility"] == "private"


def test_find_reply_is_none_when_nothing_went_out_or_only_to_another_mention(
    mastodon: MastodonSource,
) -> None:
    ana, ben = _mention(mastodon, "ana"), _mention(mastodon, "ben@other.example")
    assert mastodon.find_reply(ana, "Same words") is None
    mastodon.post_reply(ben, "Same words")
    assert mastodon.find_reply(ana, "Same words") is None


def test_a_reply_whose_answer_was_lost_is_found_instead_of_reposted(
    mastodon_api: FakeMastodonApi,
) -> None:
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url, timeout=0.3)
    mention = _mention(source, "ana")
    mastodon_api.inject(Fault.timeout(2.0), path=POST_PATH, method="POST")
    with pytest.raises(TransientSourceError):
        source.post_reply(mention, "We're on it")
    assert len(mastodon_api.replies_to(mention.external_id)) == 1  # it went out
    found = source.find_reply(mention, "We're on it")
    assert found is not None
    assert found.external_id == mastodon_api.replies_to(mention.external_id)[0]["id"]


def test_a_repeated_post_carries_the_same_idempotency_key_and_gets_the_first_status(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = _mention(mastodon, "ana")
    first = mastodon.post_reply(mention, "We're on it")
    again = mastodon.post_reply(mention, "We're on it")
    assert again.external_id == first.external_id
    assert len(mastodon_api.replies_to(mention.external_id)) == 1
    keys = {c.headers["idempotency-key"] for c in mastodon_api.seen(POST_PATH, method="POST")}
    assert len(keys) == 1


def test_a_reply_to_a_deleted_post_is_refused_for_good_saying_so(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = _mention(mastodon, "ana")
    mastodon_api.delete(mention.external_id)
    with pytest.raises(PermanentSourceError) as caught:
        mastodon.post_reply(mention, "Hello")
    assert "deleted" in caught.value.reason
    with pytest.raises(PermanentSourceError, match="deleted"):
        mastodon.find_reply(mention, "Hello")
    assert mastodon_api.posted == []


def test_a_reply_over_the_instances_limit_is_refused_before_posting(
    fixtures_dir, mastodon_api: FakeMastodonApi
) -> None:
    mastodon_api.instance["configuration"]["statuses"]["max_characters"] = 40
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
    mention = _mention(source, "ana")
    assert mention.reply_limit == 40
    with pytest.raises(PermanentSourceError, match="40"):
        source.post_reply(mention, "x" * 40)
    assert mastodon_api.seen(POST_PATH, method="POST") == []


def test_find_reply_reads_the_thread_through_the_status_context(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = _mention(mastodon, "ana")
    mastodon.post_reply(mention, "Thanks")
    mastodon.find_reply(mention, "Thanks")
    assert [c.path for c in mastodon_api.seen(CONTEXT_PATH)] == [
        f"/api/v1/statuses/{mention.external_id}/context"
    ]


def test_the_token_never_reaches_the_logs(
    mastodon: MastodonSource, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        mention = _mention(mastodon, "ana")
        mastodon.post_reply(mention, "Thanks")
    assert MASTODON_TOKEN not in caplog.text


# -- the instance's limit, and 429 on a post -------------------------------------------------


def test_an_instance_stating_an_enormous_limit_is_stored_as_the_largest_the_column_takes(
    mastodon_api: FakeMastodonApi,
) -> None:
    mastodon_api.instance["configuration"]["statuses"]["max_characters"] = 10**12
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
    assert {m.reply_limit for m in source.poll(MENTIONS, since=None).mentions} == {2**31 - 1}


def test_an_instance_without_v2_settings_gives_its_limit_through_v1(
    mastodon_api: FakeMastodonApi,
) -> None:
    """Mastodon 3.x (and servers speaking its API) have no /api/v2/instance."""
    mastodon_api.inject(
        Fault.respond(404, {"error": "Record not found"}), path=r"^/api/v2/instance"
    )
    mastodon_api.inject(
        Fault.respond(200, {"uri": "old.example", "version": "3.5.3", "max_toot_chars": 5000}),
        path=r"^/api/v1/instance",
    )
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
    assert {m.reply_limit for m in source.poll(MENTIONS, since=None).mentions} == {5000}


def test_an_instance_that_states_no_limit_gets_mastodons_default(
    mastodon_api: FakeMastodonApi, caplog: pytest.LogCaptureFixture
) -> None:
    del mastodon_api.instance["configuration"]["statuses"]["max_characters"]
    source = MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url)
    with caplog.at_level(logging.WARNING, logger="listener.mastodon"):
        assert {m.reply_limit for m in source.poll(MENTIONS, since=None).mentions} == {500}
    assert "no character limit" in caplog.text


def test_a_post_refused_with_429_is_rate_limited_and_posts_nothing(
    mastodon: MastodonSource, mastodon_api: FakeMastodonApi
) -> None:
    mention = _mention(mastodon, "ana")
    mastodon_api.inject(Fault.rate_limited(reset_in=60), path=POST_PATH, method="POST")
    with pytest.raises(RateLimited) as caught:
        mastodon.post_reply(mention, "On it")
    assert 50 <= caught.value.retry_after <= 61
    assert mastodon_api.replies_to(mention.external_id) == []
    assert mastodon.find_reply(mention, "On it") is None
