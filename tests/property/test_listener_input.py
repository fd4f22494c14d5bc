"""Bad platform payloads: every normaliser keeps a post whole or skips it, never crashes.

Payloads start from the responses recorded in ``../shared/fixtures`` and get fields
dropped, set to any JSON value (wrong types, NaN, 40-digit numbers, nested garbage) or
added. The contract under test:

- one item: a ``Mention`` whose text is the posted text (only NUL and lone surrogates,
  which no database stores, become U+FFFD), or ``None`` (logged) when a required field
  is missing or unreadable; an item with readable required fields is never dropped;
- one page: a ``Page``, or a ``SourceError`` the poll stage knows how to handle; never
  a ``TypeError``, ``KeyError``, ``OverflowError``...
- a cursor the source can read back on the next poll.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener._common import ID_CHARS, NAME_CHARS, storable
from listener.base import Mention, Page, Query
from listener.errors import MalformedPayloadError, SourceError
from listener.reddit import RedditCursor, RedditSource, item_to_mention
from listener.replay import ReplaySource, _parse
from listener.twitter import TwitterSource, tweet_to_mention
from tests.fakes.fake_api import (
    FakeRedditApi,
    FakeTwitterApi,
    Fault,
)
from tests.property.strategies import Edit, apply_edits, edits, json_values, nasty_text

pytestmark = pytest.mark.shared

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_FUNCTION_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
TWEET_KEYS = (
    "id",
    "text",
    "author_id",
    "created_at",
    "conversation_id",
    "referenced_tweets",
    "lang",
    "public_metrics",
    "edit_history_tweet_ids",
)
USER_KEYS = ("id", "username", "name", "verified", "public_metrics")
REDDIT_KEYS = (
    "name",
    "id",
    "created_utc",
    "body",
    "title",
    "selftext",
    "author",
    "author_fullname",
    "permalink",
    "context",
    "link_id",
    "parent_id",
    "subreddit",
)


def assert_storable(mention: Mention) -> None:
    """What the mention table needs: text the database takes, an aware UTC time."""
    for value in (
        mention.text,
        mention.external_id,
        mention.url,
        mention.author.id,
        mention.author.handle,
        mention.author.name,
        mention.conversation_id or "",
        mention.in_reply_to_id or "",
        mention.lang or "",
    ):
        assert isinstance(value, str)
        assert not _UNSTORABLE.search(value), repr(value)
    assert mention.created_at.utcoffset() == dt.timedelta(0)
    followers = mention.author.followers
    assert followers is None or 0 <= followers < 2**63
    json.dumps(mention.raw)  # goes into a JSON column


# --- X ---------------------------------------------------------------------------------


def tweet_is_readable(tweet: Mapping[str, Any]) -> bool:
    """Reference check: does the tweet carry what a mention needs, in readable form?"""
    tweet_id, text, author, created = (
        tweet.get(k) for k in ("id", "text", "author_id", "created_at")
    )
    if not (isinstance(tweet_id, str) and re.fullmatch(r"\d{1,20}", tweet_id)):
        return False
    if not (isinstance(text, str) and text and isinstance(author, str)):
        return False
    if not 0 < len(author) <= ID_CHARS:
        return False
    if not isinstance(created, str):
        return False
    try:
        when = dt.datetime.fromisoformat(created)
        (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_tweet_becomes_a_mention_with_its_text_or_is_skipped(
    recorded_tweets: list[dict[str, Any]], data: st.DataObject
) -> None:
    tweet = json.loads(json.dumps(data.draw(st.sampled_from(recorded_tweets))))
    for change in data.draw(edits(["tweet"], TWEET_KEYS, max_size=5)):
        change.apply(tweet)
    user_value = data.draw(st.one_of(st.none(), json_values, st.builds(dict)))
    users = {str(tweet.get("author_id")): user_value} if user_value is not None else {}

    mention = tweet_to_mention(tweet, users)

    if mention is None:
        assert not tweet_is_readable(tweet)
        return
    assert tweet_is_readable(tweet)
    assert mention.external_id == tweet["id"]
    assert mention.text == storable(tweet["text"])
    assert_storable(mention)


def _x_targets(payload: Any, where: str) -> list[Any]:
    if not isinstance(payload, dict):
        return []
    if where == "page":
        return [payload]
    if where in ("includes", "meta"):
        return [payload.get(where)]
    kind, _, index = where.partition(" ")
    items = payload.get("data") if kind == "tweet" else (payload.get("includes") or {})
    if kind == "user" and isinstance(items, dict):
        items = items.get("users")
    return [items[int(index)]] if isinstance(items, list) and len(items) > int(index) else []


X_PLACES = ("page", "includes", "meta", "tweet 0", "tweet 1", "tweet 2", "user 0", "user 1")
X_KEYS = ("data", "includes", "meta", "errors", "users", "next_token", *TWEET_KEYS, *USER_KEYS)
SEARCH = Query(id=1, platform="twitter", kind="search", terms="Tweepy", brand="tweepy")


@settings(max_examples=40, deadline=None, suppress_health_check=_FUNCTION_FIXTURES)
@given(changes=edits(X_PLACES, X_KEYS, max_size=4))
def test_an_x_page_of_any_shape_is_a_page_or_a_source_error(
    twitter: TwitterSource, twitter_api: FakeTwitterApi, changes: list[Edit]
) -> None:
    sent: list[Any] = []

    def rewrite(payload: Any) -> Any:
        payload = apply_edits(payload, changes, _x_targets)
        sent.append(json.loads(json.dumps(payload)))  # as the client will read it
        return payload

    twitter_api.inject(Fault.rewrite(rewrite), path=r"^/2/tweets/search/recent$")
    try:
        page = twitter.poll(SEARCH, since=None, limit=3)
    except SourceError:
        return
    assert isinstance(page, Page)
    for mention in page.mentions:
        assert_storable(mention)
    assert page.cursor is None or re.fullmatch(r"\d{1,20}", page.cursor)
    first = sent[0].get("data") if sent and isinstance(sent[0], dict) else None
    readable = [t for t in first or [] if isinstance(t, dict) and tweet_is_readable(t)]
    got = {m.external_id: m.text for m in page.mentions}
    for tweet in readable:
        assert got.get(tweet["id"]) == storable(tweet["text"])


# --- Reddit ----------------------------------------------------------------------------


def item_is_readable(fields: Mapping[str, Any]) -> bool:
    """Reference check: a fullname, a representable time, and a body or a title."""
    name, created = fields.get("name"), fields.get("created_utc")
    if not (isinstance(name, str) and 0 < len(name) <= ID_CHARS):
        return False
    if isinstance(created, bool) or not isinstance(created, int | float):
        return False
    try:
        dt.datetime.fromtimestamp(float(created), dt.UTC)
    except (ValueError, OverflowError, OSError):
        return False
    wanted = fields.get("title") if name.startswith("t3_") else fields.get("body")
    return isinstance(wanted, str) and bool(wanted)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_reddit_item_becomes_a_mention_with_its_text_or_is_skipped(
    recorded_items: list[dict[str, Any]], data: st.DataObject
) -> None:
    fields = json.loads(json.dumps(data.draw(st.sampled_from(recorded_items))))
    for change in data.draw(edits(["item"], REDDIT_KEYS, max_size=5)):
        change.apply(fields)

    mention = item_to_mention(fields)

    if mention is None:
        assert not item_is_readable(fields)
        return
    assert item_is_readable(fields)
    if fields["name"].startswith("t3_"):
        posted = f"{fields['title']}\n\n{fields.get('selftext') or ''}".strip()
    else:
        posted = fields["body"]
    assert mention.text == storable(posted)
    assert_storable(mention)


def _reddit_targets(payload: Any, where: str) -> list[Any]:
    if not isinstance(payload, dict):
        return []
    if where == "page":
        return [payload]
    listing = payload.get("data")
    if where == "listing":
        return [listing]
    children = listing.get("children") if isinstance(listing, dict) else None
    kind, _, index = where.partition(" ")
    if not (isinstance(children, list) and len(children) > int(index)):
        return []
    child = children[int(index)]
    return [child] if kind == "child" else [child.get("data") if isinstance(child, dict) else None]


REDDIT_PLACES = ("page", "listing", "child 0", "item 0", "item 1", "item 2")
REDDIT_PAGE_KEYS = ("kind", "data", "children", "after", "before", *REDDIT_KEYS)
SUBMISSIONS = Query(id=4, platform="reddit", kind="submissions", terms="all", brand="")


@settings(max_examples=40, deadline=None, suppress_health_check=_FUNCTION_FIXTURES)
@given(changes=edits(REDDIT_PLACES, REDDIT_PAGE_KEYS, max_size=4))
def test_a_reddit_listing_of_any_shape_is_a_page_or_a_source_error(
    reddit: RedditSource, reddit_api: FakeRedditApi, changes: list[Edit]
) -> None:
    reddit_api.inject(
        Fault.rewrite(lambda payload: apply_edits(payload, changes, _reddit_targets)),
        path=r"^/r/[^/]+/new",
    )
    try:
        page = reddit.poll(SUBMISSIONS, since=None, limit=5)
    except SourceError:
        return
    assert isinstance(page, Page)
    for mention in page.mentions:
        assert_storable(mention)
    if page.cursor is not None:
        RedditCursor.decode(page.cursor)  # the next poll can read it back


# --- replay files ------------------------------------------------------------------------


def _within(width: int) -> st.SearchStrategy[str]:
    return nasty_text(30).map(lambda text: text[:width])


good_lines = st.fixed_dictionaries(
    {"id": _within(ID_CHARS).filter(bool), "text": nasty_text()},
    optional={
        "author": _within(NAME_CHARS),
        "author_name": _within(NAME_CHARS),
        "followers": st.integers(0, 2**63 - 1),
        "created_at": st.datetimes(timezones=st.just(dt.UTC)).map(dt.datetime.isoformat),
        "url": nasty_text(30),
        "conversation_id": _within(ID_CHARS),
        "extra": json_values,
    },
)
any_line = st.one_of(
    nasty_text(200),
    json_values.map(json.dumps),
    st.dictionaries(
        st.sampled_from(["id", "text", "author", "followers", "created_at", "brand", "x"]),
        json_values,
    ).map(json.dumps),
    st.sampled_from(["[" * 50_000 + "]" * 50_000, '{"id": 1' + "1" * 5000 + ', "text": ""}']),
)


@settings(max_examples=60, deadline=None)
@given(line=any_line)
def test_a_replay_line_is_read_or_refused_with_its_line_number(line: str) -> None:
    try:
        parsed = _parse(line, Path("mentions.jsonl"), 7)
    except MalformedPayloadError as exc:
        refused = str(exc)
        assert refused.startswith("mentions.jsonl:7: ")
        return
    assert isinstance(parsed.id, str)
    assert parsed.id
    assert isinstance(parsed.text, str)


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(good_lines, min_size=1, max_size=6))
def test_every_line_of_a_replay_file_becomes_a_mention_with_its_text(
    lines: list[dict[str, Any]],
) -> None:
    # ensure_ascii: lone surrogates travel as "\ud83d" escapes, as an API sends them (and
    # two halves of one emoji as two escapes come back as the emoji).
    encoded = [json.dumps(line) for line in lines]
    lines = [json.loads(line) for line in encoded]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mentions.jsonl"
        path.write_text("\n".join(encoded) + "\n", encoding="utf-8")
        query = Query(id=1, platform="replay", kind="replay", terms=str(path))
        page = ReplaySource().poll(query, since=None, limit=100)
    assert [m.text for m in page.mentions] == [storable(line["text"]) for line in lines]
    assert [m.external_id for m in page.mentions] == [storable(line["id"]) for line in lines]
    for mention in page.mentions:
        assert_storable(mention)
