"""Fake X and Reddit servers (replaying ../shared/fixtures) and sources aimed at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import prawcore.sessions
import pytest

from listener.reddit import RedditSource
from listener.twitter import TwitterSource
from tests.fakes.fake_api import FakeRedditApi, FakeTwitterApi

# Secrets the tests can look for in logs.
BEARER = "bearer-SECRET-123"
ACCESS_SECRET = "access-SECRET-456"
REDDIT_PASSWORD = "reddit-SECRET-789"


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    """``../shared/fixtures``: read at test time, never copied into the repo."""
    return shared_dir / "fixtures"


@pytest.fixture
def twitter_api(fixtures_dir: Path) -> Iterator[FakeTwitterApi]:
    """A fresh fake X API (pages of 3 so the 10 recorded tweets span 4 pages)."""
    with FakeTwitterApi(fixtures_dir, page_size=3) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def twitter(twitter_api: FakeTwitterApi) -> TwitterSource:
    """The real tweepy.Client behind TwitterSource, aimed at the fake."""
    return TwitterSource(
        bearer_token=BEARER,
        consumer_key="consumer-key",
        consumer_secret="consumer-secret",
        access_token="access-token",
        access_token_secret=ACCESS_SECRET,
        api_url=twitter_api.url,
        timeout=2.0,
    )


@pytest.fixture
def reddit_api(fixtures_dir: Path) -> Iterator[FakeRedditApi]:
    """A fresh fake Reddit (listings in pages of 30)."""
    with FakeRedditApi(fixtures_dir, username="brand_care", page_size=30) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def reddit(reddit_api: FakeRedditApi) -> RedditSource:
    """The real praw.Reddit behind RedditSource, logged in, aimed at the fake."""
    return RedditSource(
        client_id="client-id",
        client_secret="client-secret",
        user_agent="brandcare-tests/0.1 (by u/brand_care)",
        username="brand_care",
        password=REDDIT_PASSWORD,
        oauth_url=reddit_api.url,
        reddit_url=reddit_api.url,
        short_url=reddit_api.url,
        timeout=2.0,
    )


@pytest.fixture(autouse=True)
def _no_prawcore_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore retries 5xx and timeouts after 2-4 s sleeps; tests need not wait."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda self: None)
