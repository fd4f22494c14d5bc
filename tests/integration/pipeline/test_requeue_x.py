"""Sending a failed draft again after its brand's credentials are fixed, on the fake X.

The brand's profile starts with only a bearer token, so its replies fail with
``MissingCredentialsError`` and nothing reaches X. The operator then sets the four
user keys and restarts (a new ``Settings``, as a restarted process reads them), and
an agent runs ``brandcare requeue``: the real tweepy client asks the fake X server's
timeline whether the reply is there, and posts it only when it is not. Posts are
counted on the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from brandcare.agents.requeue import RequeueRefused, requeue
from brandcare.agents.review import ReviewError
from brandcare.brands.credentials import Purpose, Use
from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.brands.sources import Sources
from brandcare.cli import app as cli
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.drafts import NewDraft, create_drafts, transition_draft
from brandcare.store.mentions import upsert_mentions
from brandcare.store.models import DraftRow, EventRow, QueryRow, ReplyRow
from listener.base import Author, Mention
from responders.sender import SendStatus
from sentiment.baseline import BaselineScorer
from tests.fakes.fake_api import FakeTwitterApi

ACCOUNT = {"id": "9004", "username": "BrokenCare", "name": "Broken Care"}
USER_KEYS = {
    "X_API_KEY__BROKEN": "broken-consumer",
    "X_API_SECRET__BROKEN": "broken-consumer-SECRET",
    "X_ACCESS_TOKEN__BROKEN": "broken-access",
    "X_ACCESS_SECRET__BROKEN": "broken-access-SECRET",
}


@dataclass
class World:
    url: str
    sessions: sessionmaker[Session]
    x_api: FakeTwitterApi
    monkeypatch: pytest.MonkeyPatch
    query_id: int

    def pipeline(self) -> Pipeline:
        """The pipeline a process started now would build from the environment."""
        return Pipeline(self.sessions, Sources(Settings(database_url=self.url)), BaselineScorer)

    def posts(self) -> int:
        return len(self.x_api.seen(r"^/2/tweets$", method="POST"))

    def state(self, draft_id: int) -> str:
        with transaction(self.sessions) as s:
            draft = s.get(DraftRow, draft_id)
            assert draft is not None
            return draft.state

    def fix_credentials(self) -> None:
        for name, value in USER_KEYS.items():
            self.monkeypatch.setenv(name, value)


@pytest.fixture
def world(tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in USER_KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("X_BEARER_TOKEN__BROKEN", "broken-bearer-SECRET")
    monkeypatch.setenv("BRANDCARE_PLATFORM_TIMEOUT_SECONDS", "3")
    monkeypatch.delenv("BRANDCARE_BROKER_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'requeue.db'}"
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", url)
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    brand = BrandSpec(slug="broken", name="Broken", credentials="broken", queries=[
        QuerySpec(platform="twitter", kind="search", terms="broken"),
    ])  # fmt: skip
    with transaction(sessions) as s:
        apply_brands(s, [brand])
        query_id = s.scalars(select(QueryRow.id)).one()
    with FakeTwitterApi(shared_dir / "fixtures", accounts={"broken-access": ACCOUNT}) as api:
        monkeypatch.setenv("BRANDCARE_X_API_URL", api.url)
        yield World(url, sessions, api, monkeypatch, query_id)  # type: ignore[arg-type]
    engine.dispose()


def _mention(n: int) -> Mention:
    tweet_id = str(1_700_000_000_000_000_000 + n)
    return Mention(
        platform="twitter",
        external_id=tweet_id,
        text=f"@Broken my order {n} never came",
        author=Author(id=f"7{n}", handle=f"customer{n}"),
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        url=f"https://x.com/customer{n}/status/{tweet_id}",
    )


def _failed_draft(world: World, mention: Mention) -> int:
    """A draft approved by ana whose send failed: the profile cannot post."""
    with transaction(world.sessions) as s:
        brand_id = s.get(QueryRow, world.query_id).brand_id  # type: ignore[union-attr]
        (mention_id,) = upsert_mentions(s, brand_id, world.query_id, [mention])
        (draft_id,) = create_drafts(
            s,
            [NewDraft(mention_id, f"Sorry: DM us your order number, {mention.author.handle}")],
        ).values()
        assert transition_draft(s, draft_id, ["pending"], "approved", "ana")
    outcome = world.pipeline().send(draft_id)
    assert outcome is not None
    assert outcome.status is SendStatus.AUTH_FAILED
    assert world.state(draft_id) == "failed"
    return draft_id


def test_after_the_profile_is_fixed_a_requeue_posts_the_reply_exactly_once(world: World) -> None:
    draft_id = _failed_draft(world, _mention(1))
    assert world.posts() == 0

    # Not fixed yet: the check cannot run, so the draft stays failed and names the fix.
    with pytest.raises(RequeueRefused, match="X_API_KEY__BROKEN") as refused:
        requeue(world.pipeline(), draft_id, actor="ben")
    assert "stays failed" in str(refused.value)
    assert "broken-bearer-SECRET" not in str(refused.value)  # names, never values
    assert world.state(draft_id) == "failed"
    assert world.x_api.seen(r"^/2/users/\d+/tweets$") == []

    world.fix_credentials()
    runtime.configure(Settings(), scorer=BaselineScorer())  # the restarted process
    result = CliRunner().invoke(cli, ["requeue", str(draft_id), "--by", "ben"])
    assert result.exit_code == 0, result.output
    assert "approved again by ben" in result.output
    assert "send sent" in result.output
    assert world.state(draft_id) == "sent"
    assert world.posts() == 1
    assert len(world.x_api.seen(r"^/2/users/9004/tweets$")) == 1  # asked before posting
    (tweet,) = world.x_api.posted
    assert tweet["author_id"] == ACCOUNT["id"]
    assert tweet["referenced_tweets"] == [{"type": "replied_to", "id": _mention(1).external_id}]

    again = CliRunner().invoke(cli, ["requeue", str(draft_id), "--by", "ben"])
    assert again.exit_code == 1
    assert "is sent, not failed" in again.output
    with pytest.raises(ReviewError, match="is sent, not failed"):
        requeue(world.pipeline(), draft_id, actor="ana")
    assert world.posts() == 1
    with transaction(world.sessions) as s:
        reply = s.scalars(select(ReplyRow).where(ReplyRow.draft_id == draft_id)).one()
        assert (reply.state, reply.external_id) == ("posted", tweet["id"])
        requeued = s.scalars(
            select(EventRow).where(
                EventRow.draft_id == draft_id, EventRow.action == "draft.requeue"
            )
        ).one()
        assert requeued.actor == "ben"


def test_a_reply_posted_by_hand_is_found_and_recorded_without_posting_again(
    world: World,
) -> None:
    mention = _mention(2)
    draft_id = _failed_draft(world, mention)
    world.fix_credentials()
    fixed = world.pipeline()
    with transaction(world.sessions) as s:
        text = s.get(DraftRow, draft_id).text  # type: ignore[union-attr]
    # An agent copied the text and posted it from the brand's account by hand.
    by_hand = fixed.sources("twitter", Use("broken", "broken", Purpose.ACCOUNT)).post_reply(
        mention, text
    )
    assert world.posts() == 1

    result = requeue(fixed, draft_id, actor="ben")

    assert not result.requeued
    assert world.posts() == 1
    assert world.state(draft_id) == "sent"
    with transaction(world.sessions) as s:
        reply = s.scalars(select(ReplyRow).where(ReplyRow.draft_id == draft_id)).one()
        assert (reply.state, reply.external_id) == ("posted", by_hand.external_id)
        assert reply.url is not None
        assert "/BrokenCare/status/" in reply.url
