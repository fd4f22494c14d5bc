"""Mastodon and Bluesky end to end: setup, poll, score, draft, approve, one reply each.

``brandcare setup`` reads a brands file whose brand reads and posts with credentials
profile ``acme``: a Mastodon account (the fake instance replaying Mastodon.py's
recordings) and a Bluesky handle (the fake Bluesky built from the lexicons). The
pipeline's stages, with the real Mastodon.py and atproto clients built from the
environment as a worker builds them, poll both, score, draft within each platform's
rules, and send the approved replies. One post on each platform loses its answer:
the retry finds the reply instead of posting it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from typer.testing import CliRunner

from brandcare.agents.review import approve
from brandcare.brands.sources import Sources
from brandcare.cli import app as cli
from brandcare.config import Settings
from brandcare.pipeline.base import reply_size
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import ApiUsageRow, DraftRow, MentionRow, QueryRow, ReplyRow
from listener.text import graphemes
from responders.sender import SendStatus
from sentiment.baseline import BaselineScorer
from tests.fakes.fake_api import Fault
from tests.fakes.fake_bluesky import APP_PASSWORD, BRAND_HANDLE, CREATE, FakeBlueskyApi, Poster
from tests.fakes.fake_mastodon import POST_PATH, TOKEN, Customer, FakeMastodonApi

pytestmark = pytest.mark.shared  # the fake Mastodon replays ../shared/fixtures

#: Complaints the light baseline scorer wants answered (the recorded "hello!" it ignores).
COMPLAINTS = (
    "my parcel never arrived and I was still charged, I want a refund",
    "I was charged twice for my order and I want a refund now",
    "you charged my card twice, I need a refund today",
)


@dataclass
class World:
    settings: Settings
    pipeline: Pipeline
    mastodon: FakeMastodonApi
    bluesky: FakeBlueskyApi


@pytest.fixture
def world(tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    customers = [
        Customer(f"@mastodonpy_test {COMPLAINTS[0]}", acct="ana@other.example"),
        Customer(
            f"@mastodonpy_test {COMPLAINTS[1]}",
            acct="cy",
            visibility="direct",
            spoiler_text="billing",
        ),
    ]
    posters = (
        Poster("kim.bsky.social", f"@brandcare.test {COMPLAINTS[2]}"),
        Poster("lee.bsky.social", f"@brandcare.test {COMPLAINTS[0]}"),
    )
    with (
        FakeMastodonApi(shared_dir / "fixtures", customers=customers, max_characters=600) as masto,
        FakeBlueskyApi(posters=posters) as bsky,
    ):
        url = f"sqlite:///{tmp_path / 'flow.db'}"
        env = {
            "BRANDCARE_DATABASE_URL": url,
            "MASTODON_ACCESS_TOKEN__ACME": TOKEN,
            "MASTODON_API_BASE_URL__ACME": masto.url,
            "BLUESKY_HANDLE__ACME": BRAND_HANDLE,
            "BLUESKY_APP_PASSWORD__ACME": APP_PASSWORD,
            "BRANDCARE_BLUESKY_SERVICE_URL": bsky.url,
            "BRANDCARE_PLATFORM_TIMEOUT_SECONDS": "1",
            "BRANDCARE_SEND_SETTLE_SECONDS": "2",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        brands = tmp_path / "brands.json"
        brands.write_text(
            json.dumps(
                {
                    "brands": [
                        {
                            "slug": "acme",
                            "name": "Acme",
                            "credentials": "acme",
                            "voice": {"sign_off": "– Acme Care", "dm_invitation": "send us a DM"},
                            "queries": [
                                {"platform": "mastodon", "kind": "mentions", "terms": ""},
                                {"platform": "bluesky", "kind": "mentions", "terms": ""},
                            ],
                        }
                    ]
                }
            )
        )
        migrate.upgrade(url)
        result = CliRunner().invoke(cli, ["setup", str(brands)])
        assert result.exit_code == 0, result.output
        settings = Settings()
        engine = make_engine(url)
        sessions = session_factory(engine)
        pipeline = Pipeline(sessions, Sources(settings), BaselineScorer)
        yield World(settings, pipeline, masto, bsky)
        engine.dispose()


def _run_to_drafts(world: World) -> dict[str, list[int]]:
    """Poll both queries, score and draft; platform -> pending draft ids."""
    p = world.pipeline
    with transaction(p.sessions) as s:
        queries = list(s.scalars(select(QueryRow.id)))
    for query_id in queries:
        for mention_id in p.score(p.poll(query_id).new_ids):
            p.draft(mention_id)
    drafts: dict[str, list[int]] = {}
    with transaction(p.sessions) as s:
        for draft_id, platform in s.execute(
            select(DraftRow.id, MentionRow.platform)
            .join(MentionRow, MentionRow.id == DraftRow.mention_id)
            .where(DraftRow.state == "pending")
        ):
            drafts.setdefault(platform, []).append(draft_id)
    return drafts


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_both_platforms_poll_draft_within_their_rules_and_reply_once_each(world: World) -> None:
    fetched = {p: _sample("brandcare_mentions_fetched_total", platform=p, brand="acme")
               for p in ("mastodon", "bluesky")}  # fmt: skip
    sent = {p: _sample("brandcare_sends_total", platform=p, outcome="sent")
            for p in ("mastodon", "bluesky")}  # fmt: skip
    drafts = _run_to_drafts(world)
    assert set(drafts) == {"mastodon", "bluesky"}
    with transaction(world.pipeline.sessions) as s:
        rows = {
            m.author_handle: (m, d)
            for m, d in s.execute(
                select(MentionRow, DraftRow).join(DraftRow, DraftRow.mention_id == MentionRow.id)
            )
        }
        cy, cy_draft = rows["cy"]
        assert (cy.visibility, cy.content_warning, cy.reply_limit) == ("direct", "billing", 600)
        assert cy_draft.text.startswith("@cy ")  # named first: it is what lets cy see it
        kim, kim_draft = rows["kim.bsky.social"]
        assert kim_draft.text.startswith("@kim.bsky.social ")
        assert reply_size(kim_draft.text, kim)[1] == 300
        assert graphemes(kim_draft.text) <= 300
        assert reply_size(cy_draft.text, cy) == (len(cy_draft.text), 600)

    # One post on each platform goes out but its answer is lost.
    world.mastodon.inject(Fault.timeout(3.0), path=POST_PATH, method="POST")
    world.bluesky.inject(Fault.timeout(3.0), path=CREATE, method="POST")
    every = [d for ids in drafts.values() for d in ids]
    for draft_id in every:
        assert approve(world.pipeline.sessions, draft_id, text=None, actor="agent-a").approved
    outcomes = [world.pipeline.send(d) for d in every]
    assert all(o is not None and o.status is SendStatus.SENT for o in outcomes), outcomes
    # The two lost answers: the sender asked the platform (find_reply) and found the reply.
    found = [o for o in outcomes if o is not None and o.found_existing]
    assert len(found) == 2, outcomes
    assert {o.posted.platform for o in found if o.posted} == {"mastodon", "bluesky"}

    with transaction(world.pipeline.sessions) as s:
        states = set(s.scalars(select(DraftRow.state)))
        replies = list(s.scalars(select(ReplyRow)))
        mentions = {m.id: m for m in s.scalars(select(MentionRow))}
    assert states == {"sent"}
    assert len(replies) == len(every)
    for mention in mentions.values():
        if mention.state == "ignored":  # the recorded "hello!": nothing to answer
            continue
        if mention.platform == "mastodon":
            assert len(world.mastodon.replies_to(mention.external_id)) == 1
        else:
            assert len(world.bluesky.replies_to(mention.external_id)) == 1
    [to_cy] = world.mastodon.replies_to(
        next(m.external_id for m in mentions.values() if m.author_handle == "cy")
    )
    assert (to_cy["visibility"], to_cy["spoiler_text"]) == ("direct", "billing")
    assert world.bluesky.sessions_created == 1

    # Both are free: every request and post is counted, none costs anything.
    with transaction(world.pipeline.sessions) as s:
        usage = {
            platform: (requests, reads, posts, cost)
            for platform, requests, reads, posts, cost in s.execute(
                select(
                    ApiUsageRow.platform,
                    func.sum(ApiUsageRow.requests),
                    func.sum(ApiUsageRow.reads),
                    func.sum(ApiUsageRow.posts),
                    func.sum(ApiUsageRow.est_cost_usd),
                ).group_by(ApiUsageRow.platform)
            )
        }
    assert set(usage) == {"mastodon", "bluesky"}
    requests, reads, posts, cost = usage["mastodon"]
    assert (requests >= 2, reads, posts, cost) == (True, 3, 2, 0.0)
    requests, reads, posts, cost = usage["bluesky"]
    assert (requests >= 2, reads, posts, cost) == (True, 2, 2, 0.0)

    # The metrics carry each platform's name.
    for platform, count in (("mastodon", 3), ("bluesky", 2)):
        now = _sample("brandcare_mentions_fetched_total", platform=platform, brand="acme")
        assert now - fetched[platform] == count
        assert _sample("brandcare_sends_total", platform=platform, outcome="sent") - sent[
            platform
        ] == len(drafts[platform])
