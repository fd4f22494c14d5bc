"""Fake X, Reddit and Mastodon servers (replaying ../shared/fixtures), a fake Bluesky (built
from the lexicons), and sources aimed at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import prawcore.sessions
import pytest

from listener.bluesky import BlueskySource
from listener.mastodon import MastodonSource
from listener.reddit import RedditSource
from listener.twitter import TwitterSource
from tests.fakes.fake_api import FakeRedditApi, FakeTwitterApi
from tests.fakes.fake_bluesky import APP_PASSWORD as BLUESKY_PASSWORD
from tests.fakes.fake_bluesky import BRAND_HANDLE as BLUESKY_HANDLE
from tests.fakes.fake_bluesky import FakeBlueskyApi, Poster
from tests.fakes.fake_mastodon import TOKEN as MASTODON_TOKEN
from tests.fakes.fake_mastodon import Customer, FakeMastodonApi

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


#: What the fake Mastodon's customers say (beside the recorded mention from ``admin``).
MASTODON_CUSTOMERS = (
    Customer("@mastodonpy_test my order never arrived, can you help?", acct="ana"),
    Customer("@mastodonpy_test the app logs me out every hour", acct="ben@other.example"),
    Customer(
        "@mastodonpy_test my card was charged twice",
        acct="cy",
        visibility="direct",
        spoiler_text="billing, personal",
    ),
    Customer(
        "@mastodonpy_test followers-only question: do you ship abroad?",
        acct="dee",
        visibility="private",
    ),
)


@pytest.fixture
def mastodon_api(fixtures_dir: Path) -> Iterator[FakeMastodonApi]:
    """A fresh fake Mastodon instance (pages of 2, so five mentions span three pages)."""
    with FakeMastodonApi(fixtures_dir, customers=MASTODON_CUSTOMERS, page_size=2) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def mastodon(mastodon_api: FakeMastodonApi) -> MastodonSource:
    """The real Mastodon.py client behind MastodonSource, aimed at the fake."""
    return MastodonSource(access_token=MASTODON_TOKEN, api_base_url=mastodon_api.url, timeout=2.0)


#: Customers who write to the brand on the fake Bluesky.
BLUESKY_POSTERS = (
    Poster("kim.bsky.social", "@brandcare.test my parcel is three weeks late"),
    Poster("lee.bsky.social", "@brandcare.test is there a student discount?"),
    Poster(
        "max.example.com",
        "love the new app @brandcare.test \U0001f468\u200d\U0001f469\u200d\U0001f467",
    ),
    Poster("nia.bsky.social", "someone liked a post", reason="like"),
)


@pytest.fixture
def bluesky_api() -> Iterator[FakeBlueskyApi]:
    """A fresh fake Bluesky (pages of 2, so four notifications span two pages)."""
    with FakeBlueskyApi(posters=BLUESKY_POSTERS, page_size=2) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def bluesky(bluesky_api: FakeBlueskyApi) -> BlueskySource:
    """The real atproto SDK Client behind BlueskySource, aimed at the fake."""
    return BlueskySource(
        handle=BLUESKY_HANDLE,
        app_password=BLUESKY_PASSWORD,
        service_url=bluesky_api.url,
        timeout=2.0,
    )
