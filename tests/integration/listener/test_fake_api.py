"""The fake servers replay what was recorded, and derive only what they say they derive."""

from __future__ import annotations

import gzip

import pytest
import requests

from tests.fakes.fake_api import FakeRedditApi, FakeTwitterApi, load_vcr, snowflake_time

pytestmark = pytest.mark.shared


def test_recorded_twitter_answer_is_replayed_byte_for_byte(twitter_api: FakeTwitterApi) -> None:
    answer = requests.get(
        f"{twitter_api.url}/2/users/me", headers={"Accept-Encoding": "gzip"}, timeout=5
    )
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.content == twitter_api.me_recorded.body
    assert (
        answer.headers["x-rate-limit-limit"]
        == twitter_api.me_recorded.headers["x-rate-limit-limit"]
    )


def test_cassettes_decode_gzip_bodies_under_binary_tags(fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    recorded = load_vcr(fixtures_dir / "twitter" / "test_client_get_me.yaml")[0]
    assert recorded.json()["data"]["username"] == "TweepyDev"
    raw = (fixtures_dir / "twitter" / "test_client_get_me.yaml").read_text()
    assert "!!binary" in raw
    assert gzip.compress(recorded.body)  # the decoded body is plain JSON bytes


def test_derived_pages_cover_exactly_the_recorded_tweets(twitter_api: FakeTwitterApi) -> None:
    seen: list[str] = []
    token = None
    while True:
        params = {"query": "x", "max_results": "10", **({"next_token": token} if token else {})}
        body = requests.get(
            f"{twitter_api.url}/2/tweets/search/recent", params=params, timeout=5
        ).json()
        seen += [t["id"] for t in body["data"]]
        token = body["meta"].get("next_token")
        if not token:
            break
    assert seen == [t["id"] for t in twitter_api.search_tweets]  # recorded order: newest first


def test_snowflake_time_matches_the_recorded_tweet_text() -> None:
    # The recorded search hits say when they were posted: "2022-10-07 22:42:12.637103 tweepy".
    assert snowflake_time("1578516068309794817").isoformat().startswith("2022-10-07T22:42:12")


def test_unknown_routes_answer_404_naming_the_path(reddit_api: FakeRedditApi) -> None:
    answer = requests.get(f"{reddit_api.url}/nowhere", timeout=5)
    assert answer.status_code == 404
    assert "/nowhere" in answer.json()["error"]
