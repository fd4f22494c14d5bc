"""Whatever a normaliser makes of a hostile payload, PostgreSQL stores it.

PostgreSQL is stricter than SQLite: it refuses NUL in text, NaN in JSON, and a value
longer than its column, and with the refused value the whole page it came in, so the
query would never get past it. Mentions built by the X, Reddit and replay normalisers
from hostile payloads go into a real PostgreSQL mention table here.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.setup import BrandSpec, apply_brands
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.mentions import upsert_mentions
from brandcare.store.models import MentionRow
from listener import _common
from listener.base import Mention, Query
from listener.errors import MalformedPayloadError
from listener.reddit import item_to_mention
from listener.replay import ReplaySource
from listener.twitter import tweet_to_mention
from tests.property.strategies import edits, json_values, nasty_text
from tests.property.test_listener_input import REDDIT_KEYS, TWEET_KEYS, USER_KEYS
from tests.servers import postgres_database, postgres_server_url, require_port

pytestmark = pytest.mark.shared


def test_the_listener_knows_the_mention_table_s_column_widths() -> None:
    widths = {name: getattr(c.type, "length", None) for name, c in MentionRow.__table__.c.items()}
    assert {
        "external_id": _common.ID_CHARS,
        "author_id": _common.ID_CHARS,
        "conversation_id": _common.ID_CHARS,
        "in_reply_to_id": _common.ID_CHARS,
        "author_handle": _common.NAME_CHARS,
        "author_name": _common.NAME_CHARS,
        "lang": _common.LANG_CHARS,
    }.items() <= widths.items()


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[sessionmaker[Session], int]]:
    """A migrated PostgreSQL database with one brand: its sessions and the brand's id."""
    require_port(postgres_server_url(), "PostgreSQL")
    with postgres_database("brandcare_property") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with transaction(sessions) as s:
            brand_id = apply_brands(s, [BrandSpec(slug="b", name="Brand")])["b"]
        yield sessions, brand_id
        engine.dispose()


def _replay(line: dict[str, Any]) -> Mention | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "line.jsonl"
        path.write_text(json.dumps(line) + "\n", encoding="utf-8")
        query = Query(id=1, platform="replay", kind="replay", terms=str(path))
        try:
            page = ReplaySource().poll(query, since=None)
        except MalformedPayloadError:
            return None
    return page.mentions[0] if page.mentions else None


replay_lines = st.fixed_dictionaries(
    {"id": nasty_text(30), "text": nasty_text()},
    optional={
        "author": nasty_text(30),
        "author_name": nasty_text(30),
        "conversation_id": nasty_text(30),
        "platform": nasty_text(30),
        "extra": json_values,
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_mention_a_normaliser_makes_is_stored_by_postgresql(
    postgres: tuple[sessionmaker[Session], int],
    recorded_tweets: list[dict[str, Any]],
    recorded_items: list[dict[str, Any]],
    data: st.DataObject,
) -> None:
    sessions, brand_id = postgres
    unique = uuid.uuid4().hex[:8]
    tweet = dict(data.draw(st.sampled_from(recorded_tweets)), id=str(uuid.uuid4().int % 10**19))
    for change in data.draw(edits(["tweet"], [k for k in TWEET_KEYS if k != "id"])):
        change.apply(tweet)
    user: dict[str, Any] = {}
    for change in data.draw(edits(["user"], USER_KEYS)):
        change.apply(user)
    item = dict(data.draw(st.sampled_from(recorded_items)))
    for change in data.draw(edits(["item"], [k for k in REDDIT_KEYS if k != "name"])):
        change.apply(item)
    item["name"] = f"{item.get('name', 't1_x')}{unique}"
    line = data.draw(replay_lines)
    line["id"] = f"{line['id'][:100]}{unique}"

    made = [
        tweet_to_mention(tweet, {str(tweet.get("author_id")): user}),
        item_to_mention(item),
        _replay(line),
    ]
    mentions = [m for m in made if m is not None]
    with transaction(sessions) as s:
        stored = upsert_mentions(s, brand_id, None, mentions)
    assert len(stored) == len({(m.platform, m.external_id) for m in mentions})
