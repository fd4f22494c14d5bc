"""Recorded payloads to start hostile ones from, and fixtures shared with the integration
tests: the listener's fake servers and the web site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_api import _iso, load_betamax, load_vcr, snowflake_time
from tests.integration.listener.conftest import (  # noqa: F401  (fixtures, used by name)
    _no_prawcore_retry_sleep,
    fixtures_dir,
    reddit,
    reddit_api,
    twitter,
    twitter_api,
)
from tests.integration.web.conftest import site  # noqa: F401  (fixture, used by name)


@pytest.fixture(scope="session")
def recorded_tweets(fixtures_dir: Path) -> list[dict[str, Any]]:  # noqa: F811
    """The recorded mentions, completed as X sends them when asked for the fields."""
    recorded = load_vcr(fixtures_dir / "twitter" / "test_client_get_users_mentions.yaml")[0]
    tweets = recorded.json()["data"]
    for index, tweet in enumerate(tweets):
        tweet["created_at"] = _iso(snowflake_time(tweet["id"]))
        tweet["author_id"] = str(4_000_000 + index)
        tweet["lang"] = "en"
        tweet["conversation_id"] = tweet["id"]
    return list(tweets)


@pytest.fixture(scope="session")
def recorded_items(fixtures_dir: Path) -> list[dict[str, Any]]:  # noqa: F811
    """Comments and submissions as the recorded listings carry them."""
    items = []
    for name in ("TestInbox.test_mentions.json", "TestSubreddit.test_search.json"):
        listing = load_betamax(fixtures_dir / "reddit" / name)[1].json()
        items += [child["data"] for child in listing["data"]["children"]]
    return items
