"""BlueskySource with the real atproto SDK Client against the fake Bluesky (lexicon shapes)."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from atproto_client import models
from atproto_client.models.utils import get_or_create

from listener.base import Query, Source
from listener.bluesky import BlueskySource
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)
from listener.text import graphemes
from tests.fakes.fake_api import Fault
from tests.fakes.fake_bluesky import (
    APP_PASSWORD,
    BRAND_HANDLE,
    CREATE,
    NOTIFICATIONS,
    SEARCH,
    SESSION,
    THREAD,
    FakeBlueskyApi,
    Poster,
)

MENTIONS = Query(id=1, platform="bluesky", kind="mentions", terms="", brand="brand")
TERMS = Query(id=2, platform="bluesky", kind="search", terms="discount", brand="brand")


def _mention(source: BlueskySource, handle: str):  # type: ignore[no-untyped-def]
    return next(m for m in source.poll(MENTIONS, since=None).mentions if m.author.handle == handle)


def test_bluesky_source_follows_the_source_protocol(bluesky: BlueskySource) -> None:
    assert isinstance(bluesky, Source)


def test_the_fakes_answers_match_the_lexicon_models_the_sdk_ships(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    """The fake answers as the lexicons say: each shape parses strictly as the SDK's model."""
    mention = _mention(bluesky, "kim.bsky.social")
    bluesky.post_reply(mention, "On it")
    for path, model in (
        (SESSION, models.ComAtprotoServerCreateSession.Response),
        (NOTIFICATIONS, models.AppBskyNotificationListNotifications.Response),
        (CREATE, models.ComAtprotoRepoCreateRecord.Response),
    ):
        request = bluesky_api.seen(path, method="POST" if path in (SESSION, CREATE) else "GET")[0]
        answer = bluesky_api.route(request)
        assert get_or_create(__import__("json").loads(answer.body), model, strict=True)
    thread = bluesky_api._thread_view(mention.external_id)
    parsed = get_or_create(
        __import__("json").loads(thread.body), models.AppBskyFeedGetPostThread.Response, strict=True
    )
    assert parsed.thread.replies


def test_mentions_and_replies_come_oldest_first_other_reasons_skipped(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    page = bluesky.poll(MENTIONS, since=None)
    assert [m.author.handle for m in page.mentions] == [
        "kim.bsky.social",
        "lee.bsky.social",
        "max.example.com",
    ]
    assert page.reads == 4  # the like was read, and skipped
    assert len(bluesky_api.seen(NOTIFICATIONS)) == 2
    newest = max(bluesky_api.notifications, key=lambda n: n["indexedAt"])
    assert page.cursor == f"{newest['indexedAt']}|{newest['uri']}"
    kim = page.mentions[0]
    assert (
        kim.url
        == f"https://bsky.app/profile/kim.bsky.social/post/{kim.external_id.rsplit('/', 1)[1]}"
    )
    assert kim.conversation_id == kim.external_id
    assert kim.raw["cid"]


def test_a_poll_from_the_cursor_reads_back_only_to_what_it_saw(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    first = bluesky.poll(MENTIONS, since=None)
    assert bluesky.poll(MENTIONS, since=first.cursor).mentions == []
    kim = first.mentions[0]
    bluesky_api.add(
        Poster("kim.bsky.social", "@brandcare.test any news?", reason="reply"),
        reply_to=kim.external_id,
    )
    later = bluesky.poll(MENTIONS, since=first.cursor)
    assert [m.text for m in later.mentions] == ["@brandcare.test any news?"]
    assert later.mentions[0].conversation_id == kim.external_id
    assert later.mentions[0].in_reply_to_id == kim.external_id


def test_the_session_is_created_once_and_refreshed_never_recreated(
    bluesky_api: FakeBlueskyApi,
) -> None:
    bluesky_api.access_ttl = dt.timedelta(minutes=10)  # inside the SDK's 15-minute margin
    source = BlueskySource(
        handle=BRAND_HANDLE, app_password=APP_PASSWORD, service_url=bluesky_api.url
    )
    for _ in range(3):
        source.poll(MENTIONS, since=None)
    assert bluesky_api.sessions_created == 1
    assert bluesky_api.sessions_refreshed >= 2


def test_a_session_the_server_forgot_is_made_again_once(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    bluesky.poll(MENTIONS, since=None)
    bluesky_api.access.clear()  # the PDS restarted and dropped its sessions
    bluesky_api.refresh.clear()
    assert len(bluesky.poll(MENTIONS, since=None).mentions) == 3
    assert bluesky_api.sessions_created == 2


def test_a_wrong_app_password_is_an_auth_error(bluesky_api: FakeBlueskyApi) -> None:
    source = BlueskySource(handle=BRAND_HANDLE, app_password="wrong", service_url=bluesky_api.url)
    with pytest.raises(AuthError):
        source.poll(MENTIONS, since=None)
    without = BlueskySource(handle=None, app_password=None, service_url=bluesky_api.url)
    with pytest.raises(AuthError, match="app password"):
        without.poll(MENTIONS, since=None)


def test_search_reads_the_newest_posts_since_the_cursor(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    page = bluesky.poll(TERMS, since=None)
    assert [m.author.handle for m in page.mentions] == ["lee.bsky.social"]
    call = bluesky_api.seen(SEARCH)[0].query
    assert (call["q"], call["sort"]) == ("discount", "latest")
    bluesky_api.add(Poster("ola.bsky.social", "student discount for teachers too?"))
    later = bluesky.poll(TERMS, since=page.cursor)
    assert [m.author.handle for m in later.mentions] == ["ola.bsky.social"]
    assert bluesky_api.seen(SEARCH)[-1].query["since"] == page.cursor.split("|")[0]


def test_rate_limit_headers_are_reported_with_the_page(bluesky: BlueskySource) -> None:
    limit = bluesky.poll(MENTIONS, since=None).rate_limit
    assert limit is not None
    assert limit.limit == 3000
    assert limit.reset_at is not None


def test_429_waits_for_ratelimit_reset(bluesky: BlueskySource, bluesky_api: FakeBlueskyApi) -> None:
    bluesky_api.inject(Fault.rate_limited(reset_in=90), path=NOTIFICATIONS)
    with pytest.raises(RateLimited) as caught:
        bluesky.poll(MENTIONS, since=None)
    assert 80 <= caught.value.retry_after <= 91


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(bluesky: BlueskySource, bluesky_api: FakeBlueskyApi, status: int) -> None:
    bluesky_api.inject(Fault.server_error(status), path=NOTIFICATIONS)
    with pytest.raises(TransientSourceError):
        bluesky.poll(MENTIONS, since=None)


def test_timeout_is_transient(bluesky_api: FakeBlueskyApi) -> None:
    source = BlueskySource(
        handle=BRAND_HANDLE, app_password=APP_PASSWORD, service_url=bluesky_api.url, timeout=0.3
    )
    bluesky_api.inject(Fault.timeout(2.0), path=NOTIFICATIONS)
    started = time.monotonic()
    with pytest.raises(TransientSourceError):
        source.poll(MENTIONS, since=None)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("fault", [Fault.truncated(), Fault.not_json()], ids=["truncated", "html"])
def test_unreadable_answers_are_malformed(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi, fault: Fault
) -> None:
    bluesky_api.inject(fault, path=NOTIFICATIONS)
    with pytest.raises(MalformedPayloadError):
        bluesky.poll(MENTIONS, since=None)


def test_a_post_missing_fields_is_skipped_not_the_page(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi, caplog: pytest.LogCaptureFixture
) -> None:
    def drop_text(payload):  # type: ignore[no-untyped-def]
        first = next(n for n in payload["notifications"] if n["reason"] == "mention")
        first["record"].pop("text")
        return payload

    bluesky_api.inject(Fault.rewrite(drop_text), path=NOTIFICATIONS)
    with caplog.at_level(logging.WARNING, logger="listener.bluesky"):
        page = bluesky.poll(MENTIONS, since=None)
    assert len(page.mentions) == 2
    assert "missing record.text" in caplog.text


def test_zero_width_and_bidi_characters_are_not_stored(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    bluesky_api.add(
        Poster("pat.bsky.social", "@brandcare.test re\u200bfund \u202egnp.exe\u202c now")
    )
    mention = _mention(bluesky, "pat.bsky.social")
    assert mention.text == "@brandcare.test refund gnp.exe now"


# -- replies ---------------------------------------------------------------------------------


def test_a_reply_is_threaded_names_the_author_in_a_facet_and_is_found_again(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    mention = _mention(bluesky, "max.example.com")
    reply = bluesky.post_reply(mention, f"Thank you {family} see https://brand.example/app")
    record = bluesky_api.seen(CREATE, method="POST")[0].json()["record"]
    text = record["text"]
    assert text == f"@max.example.com Thank you {family} see https://brand.example/app"
    parent = {"uri": mention.external_id, "cid": mention.raw["cid"]}
    refs = {k: {f: v[f] for f in ("uri", "cid")} for k, v in record["reply"].items() if k[0] != "$"}
    assert refs == {"root": parent, "parent": parent}
    encoded = text.encode()
    by_kind = {f["features"][0]["$type"]: f for f in record["facets"]}
    at = by_kind["app.bsky.richtext.facet#mention"]
    assert at["features"][0]["did"] == mention.author.id
    assert encoded[at["index"]["byteStart"] : at["index"]["byteEnd"]] == b"@max.example.com"
    link = by_kind["app.bsky.richtext.facet#link"]
    assert encoded[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode() == (
        "https://brand.example/app"
    )  # byte offsets: the family emoji before it is 18 bytes, not 5 characters
    found = bluesky.find_reply(mention, f"Thank you {family} see https://brand.example/app")
    assert found is not None
    assert found.external_id == reply.external_id
    assert len(bluesky_api.replies_to(mention.external_id)) == 1


def test_a_reply_deep_in_a_thread_keeps_the_threads_root(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    kim = _mention(bluesky, "kim.bsky.social")
    follow_up = bluesky_api.add(
        Poster("kim.bsky.social", "@brandcare.test hello?", "reply"), reply_to=kim.external_id
    )
    mention = next(
        m for m in bluesky.poll(MENTIONS, since=None).mentions if m.external_id == follow_up["uri"]
    )
    bluesky.post_reply(mention, "Sorry, checking now")
    reply = bluesky_api.seen(CREATE, method="POST")[0].json()["record"]["reply"]
    assert reply["root"]["uri"] == kim.external_id
    assert reply["parent"]["uri"] == follow_up["uri"]


def test_a_reply_over_300_graphemes_is_refused_before_posting(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    mention = _mention(bluesky, "kim.bsky.social")
    flag = "\U0001f1fa\U0001f1e6"
    fits = flag * (300 - graphemes("@kim.bsky.social "))
    bluesky.post_reply(mention, fits)  # 600-odd code points, 300 graphemes: fits
    with pytest.raises(PermanentSourceError, match="300"):
        bluesky.post_reply(mention, fits + "!")
    assert len(bluesky_api.seen(CREATE, method="POST")) == 1


def test_a_reply_whose_answer_was_lost_is_found_instead_of_reposted(
    bluesky_api: FakeBlueskyApi,
) -> None:
    source = BlueskySource(
        handle=BRAND_HANDLE, app_password=APP_PASSWORD, service_url=bluesky_api.url, timeout=0.3
    )
    mention = _mention(source, "lee.bsky.social")
    bluesky_api.inject(Fault.timeout(2.0), path=CREATE, method="POST")
    with pytest.raises(TransientSourceError):
        source.post_reply(mention, "Yes: 10% with a student card")
    assert len(bluesky_api.replies_to(mention.external_id)) == 1
    found = source.find_reply(mention, "Yes: 10% with a student card")
    assert found is not None
    assert source.find_reply(mention, "other words") is None


def test_a_reply_to_a_deleted_post_is_refused_for_good_saying_so(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    mention = _mention(bluesky, "kim.bsky.social")
    bluesky_api.delete(mention.external_id)
    with pytest.raises(PermanentSourceError) as caught:
        bluesky.post_reply(mention, "Hello")
    assert "deleted" in caught.value.reason
    with pytest.raises(PermanentSourceError, match="deleted"):
        bluesky.find_reply(mention, "Hello")
    assert bluesky_api.posted == []
    assert bluesky_api.seen(THREAD)


def test_the_app_password_and_tokens_never_reach_the_logs(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        bluesky.post_reply(_mention(bluesky, "kim.bsky.social"), "Thanks")
    assert APP_PASSWORD not in caplog.text
    assert not any(token in caplog.text for token in bluesky_api.access)


# -- bad input: one odd item is skipped, never the page ----------------------------------------


def test_a_50_kb_post_is_kept_whole(bluesky: BlueskySource, bluesky_api: FakeBlueskyApi) -> None:
    """Bluesky's lexicon caps a post at 3,000 bytes; a server that does not is still read."""
    bluesky_api.add(Poster("long.bsky.social", "@brandcare.test " + "word " * 10_000))
    assert len(_mention(bluesky, "long.bsky.social").text) >= 50_000


def test_markup_in_a_post_is_kept_as_the_text_it_is(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    """Bluesky posts are plain text: markup is stored as written (the inbox escapes it)."""
    text = "@brandcare.test <script>alert('x')</script> <b>help</b> &amp;"
    bluesky_api.add(Poster("mal.bsky.social", text))
    assert _mention(bluesky, "mal.bsky.social").text == text


def test_unknown_notification_reasons_are_skipped_and_the_walk_goes_on(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi, caplog: pytest.LogCaptureFixture
) -> None:
    bluesky_api.add(
        Poster("new.bsky.social", "joined your starter pack", reason="starterpack-joined")
    )
    bluesky_api.add(Poster("odd.bsky.social", "a reason of another type", reason="mention"))

    def odd_reason(payload):  # type: ignore[no-untyped-def]
        for n in payload["notifications"]:
            if n["author"]["handle"] == "odd.bsky.social":
                n["reason"] = ["mention"]
        return payload

    bluesky_api.inject(Fault.rewrite(odd_reason), path=NOTIFICATIONS)
    with caplog.at_level(logging.INFO, logger="listener.bluesky"):
        page = bluesky.poll(MENTIONS, since=None)
    assert [m.author.handle for m in page.mentions] == [
        "kim.bsky.social",
        "lee.bsky.social",
        "max.example.com",
    ]
    assert page.reads == 6
    assert "reason 'starterpack-joined'" in caplog.text


def test_notifications_missing_fields_are_skipped_not_the_page_and_never_the_cursor(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK's models would refuse the whole page for one of these (and every poll after)."""
    for n in range(4):
        bluesky_api.add(Poster(f"bad{n}.bsky.social", f"@brandcare.test problem {n}"))

    def damage(payload):  # type: ignore[no-untyped-def]
        for n in payload["notifications"]:
            handle = n["author"]["handle"]
            if handle == "bad0.bsky.social":
                del n["author"]
            elif handle == "bad1.bsky.social":
                del n["cid"]
            elif handle == "bad2.bsky.social":
                n["record"] = "not a record"
            elif handle == "bad3.bsky.social":
                n["indexedAt"] = "zzzz-not-a-time"  # would sort after every real time
        return payload

    bluesky_api.page_size = 50
    bluesky_api.inject(Fault.rewrite(damage), path=NOTIFICATIONS)
    with caplog.at_level(logging.WARNING, logger="listener.bluesky"):
        page = bluesky.poll(MENTIONS, since=None)
    assert [m.author.handle for m in page.mentions] == [
        "kim.bsky.social",
        "lee.bsky.social",
        "max.example.com",
    ]
    assert "missing author.did, author.handle" in caplog.text
    assert "missing cid" in caplog.text
    assert "missing record.text, record.createdAt" in caplog.text
    assert "no readable indexedAt" in caplog.text
    assert "zzzz" not in str(page.cursor)
    bad2 = next(n for n in bluesky_api.notifications if n["author"]["handle"] == "bad2.bsky.social")
    assert page.cursor == f"{bad2['indexedAt']}|{bad2['uri']}"  # the newest readable one
    # Undamaged, the next poll reads only what came after that cursor: the last one.
    assert [m.author.handle for m in bluesky.poll(MENTIONS, since=page.cursor).mentions] == [
        "bad3.bsky.social"
    ]


def test_a_page_without_its_list_is_malformed(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    bluesky_api.inject(Fault.respond(200, {"cursor": "2"}), path=NOTIFICATIONS)
    with pytest.raises(MalformedPayloadError, match="notifications"):
        bluesky.poll(MENTIONS, since=None)


def test_a_cursor_in_another_time_format_compares_by_time(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    first = bluesky.poll(MENTIONS, since=None)
    at, uri = first.cursor.split("|")
    other_form = at.replace("Z", "+00:00")  # a cursor written by another release
    assert bluesky.poll(MENTIONS, since=f"{other_form}|{uri}").mentions == []


# -- the session -----------------------------------------------------------------------------


def test_a_session_refused_again_soon_after_a_new_login_is_not_made_a_third_time(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    bluesky.poll(MENTIONS, since=None)
    bluesky_api.access.clear()
    bluesky_api.refresh.clear()
    bluesky.poll(MENTIONS, since=None)  # logs in again
    bluesky_api.access.clear()
    bluesky_api.refresh.clear()
    with pytest.raises(AuthError):
        bluesky.poll(MENTIONS, since=None)
    assert bluesky_api.sessions_created == 2
    # Later on (a refresh token that expired weeks on), one more login is allowed.
    bluesky._relogin_at = time.monotonic() - 3600
    assert len(bluesky.poll(MENTIONS, since=None).mentions) == 3
    assert bluesky_api.sessions_created == 3


def test_a_poll_uses_the_session_it_has_and_never_logs_in_again(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    for _ in range(5):
        bluesky.poll(MENTIONS, since=None)
        bluesky.poll(TERMS, since=None)
    assert bluesky_api.sessions_created == 1
    assert len(bluesky_api.seen(SESSION, method="POST")) == 1


# -- the write budget ------------------------------------------------------------------------


def test_a_post_over_the_write_budget_is_rate_limited_and_posts_nothing(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    """The PDS counts writes in points per hour and day; over them createRecord is a 429
    whose ratelimit-reset says when."""
    mention = _mention(bluesky, "kim.bsky.social")
    bluesky_api.inject(Fault.rate_limited(reset_in=1800), path=CREATE, method="POST")
    with pytest.raises(RateLimited) as caught:
        bluesky.post_reply(mention, "On it")
    assert 1790 <= caught.value.retry_after <= 1801
    assert bluesky_api.posted == []
    assert bluesky.find_reply(mention, "On it") is None


def test_an_answer_saying_no_reads_are_left_holds_the_next_poll_until_the_reset(
    bluesky: BlueskySource, bluesky_api: FakeBlueskyApi
) -> None:
    reset = int(time.time()) + 120
    spent = {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
    bluesky_api.inject(Fault.respond(200, {"notifications": []}, spent), path=NOTIFICATIONS)
    assert bluesky.poll(MENTIONS, since=None).mentions == []
    asked = len(bluesky_api.seen(NOTIFICATIONS))
    with pytest.raises(RateLimited) as caught:
        bluesky.poll(MENTIONS, since=None)
    assert 110 <= caught.value.retry_after <= 121
    assert len(bluesky_api.seen(NOTIFICATIONS)) == asked
    # Other methods have limits of their own: a search and a reply still go out.
    assert [m.author.handle for m in bluesky.poll(TERMS, since=None).mentions] == [
        "lee.bsky.social"
    ]
    lee = bluesky.poll(TERMS, since=None).mentions[0]
    bluesky.post_reply(lee, "Yes, 10%")
    assert len(bluesky_api.replies_to(lee.external_id)) == 1
