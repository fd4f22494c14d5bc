"""Fixtures for fault tests: a deployment on PostgreSQL with a Redis server the test owns.

Every test here runs the production shape (``brandcare run`` plus ``brandcare worker``
processes), breaks one thing while work is in flight, and then checks that nothing was
lost, nothing was done twice, and the pipeline finished by itself within a deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.agents.review import approve
from brandcare.brands.setup import BrandSpec, QuerySpec
from brandcare.store import transaction
from brandcare.store.models import DraftRow, MentionRow, ReplyRow
from tests.fakes.fake_api import FakeTwitterApi
from tests.integration.deployment import Deployment, RedisServer, postgres_brands

#: The brand whose @-mentions the fake X API serves (tweepy's recorded mentions of @Twitter).
X_MENTIONS = QuerySpec(platform="twitter", kind="mentions", terms="@Twitter", interval_seconds=5)
X_BRAND = BrandSpec(slug="twitter", name="Twitter", queries=[X_MENTIONS])
#: Seconds an X call may take in these tests (production: 30).
X_TIMEOUT = 3.0

Deploy = Callable[..., Deployment]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, started; killed at the end."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def deploy(tmp_path: Path, broker: RedisServer) -> Iterator[Deploy]:
    """Make a deployment for brands on a fresh database and this test's broker."""
    with ExitStack() as stack:

        def make(brands: Sequence[BrandSpec], **extra_env: str) -> Deployment:
            url, sessions = stack.enter_context(postgres_brands("brandcare_faults", brands))
            deployment = Deployment(url, sessions, broker.url, tmp_path / "procs.log", extra_env)
            stack.callback(deployment.close)
            return deployment

        yield make


@pytest.fixture
def replay(tmp_path: Path) -> Path:
    """The replay file the ``skyway`` brand's query reads (``write_replay`` fills it)."""
    return tmp_path / "stream.jsonl"


@pytest.fixture
def replay_deployment(deploy: Deploy, replay: Path) -> Deployment:
    """A deployment whose one brand polls ``replay`` every 5 s."""
    query = QuerySpec(platform="replay", kind="replay", terms=str(replay), interval_seconds=5)
    return deploy([BrandSpec(slug="skyway", name="Skyway Air", queries=[query])])


@pytest.fixture
def x_api(shared_dir: Path) -> Iterator[FakeTwitterApi]:
    """The fake X API (tweepy's recordings): the platform every process polls and posts to."""
    with FakeTwitterApi(shared_dir / "fixtures") as api:
        yield api  # type: ignore[misc]


def x_env(api: FakeTwitterApi) -> dict[str, str]:
    """Settings that aim the processes' X source at the fake, with keys to post."""
    return {
        "X_BEARER_TOKEN": "bearer-token",
        "X_API_KEY": "consumer-key",
        "X_API_SECRET": "consumer-secret",
        "X_ACCESS_TOKEN": "access-token",
        "X_ACCESS_SECRET": "access-secret",
        "BRANDCARE_X_API_URL": api.url,
        "BRANDCARE_PLATFORM_TIMEOUT_SECONDS": str(X_TIMEOUT),
    }


def mention_count(api: FakeTwitterApi) -> int:
    """How many mentions the fake serves on the brand's mentions timeline."""
    return len(api.mention_tweets)


def replies_per_mention(api: FakeTwitterApi) -> Counter[str]:
    """Tweet id -> how many replies to it were posted on the fake platform."""
    with api._lock:
        posted = list(api.posted)
    return Counter(
        ref["id"]
        for tweet in posted
        for ref in tweet.get("referenced_tweets", [])
        if ref.get("type") == "replied_to"
    )


@pytest.fixture
def x_deployment(deploy: Deploy, x_api: FakeTwitterApi) -> Deployment:
    """A deployment whose brand polls its X mentions timeline on the fake, and replies there."""
    return deploy([X_BRAND], **x_env(x_api))


def stored_ids(sessions: sessionmaker[Session]) -> set[str]:
    """The external ids of the stored mentions."""
    with transaction(sessions) as s:
        return set(s.scalars(select(MentionRow.external_id)))


def replies_by_mention(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str | None]]:
    """Mention external id -> (its draft's state, the posted reply's id) for approved drafts."""
    with transaction(sessions) as s:
        rows = s.execute(
            select(MentionRow.external_id, DraftRow.state, ReplyRow.external_id)
            .join(DraftRow, DraftRow.mention_id == MentionRow.id)
            .outerjoin(ReplyRow, ReplyRow.draft_id == DraftRow.id)
            .where(DraftRow.approved_by.is_not(None))
        ).all()
    return {str(m): (str(state), r) for m, state, r in rows}


def assert_replied_once(
    sessions: sessionmaker[Session], api: FakeTwitterApi, approved: Sequence[int], context: str
) -> None:
    """Every approved draft ended ``sent`` with one reply on the platform: the stored one."""
    replies = replies_by_mention(sessions)
    posted = replies_per_mention(api)
    assert len(replies) == len(approved), f"approved drafts lost: {replies}\n{context}"
    assert {state for state, _ in replies.values()} == {"sent"}, f"{replies}\n{context}"
    assert posted == Counter(dict.fromkeys(replies, 1)), f"posts per mention: {posted}\n{context}"
    with api._lock:
        on_platform = {t["id"] for t in api.posted}
    assert {r for _, r in replies.values()} == on_platform, f"stored reply ids: {replies}"


def all_sent(sessions: sessionmaker[Session]) -> bool:
    """Whether there are approved drafts and every one of them ended ``sent``."""
    replies = replies_by_mention(sessions)
    return bool(replies) and all(state == "sent" for state, _ in replies.values())


def approve_pending(sessions: sessionmaker[Session]) -> list[int]:
    """Approve every pending draft as agents would (two agents where four eyes are due)."""
    with transaction(sessions) as s:
        ids = list(s.scalars(select(DraftRow.id).where(DraftRow.state == "pending")))
    for draft_id in ids:
        if not approve(sessions, draft_id, text=None, actor="agent-a").approved:
            assert approve(sessions, draft_id, text=None, actor="agent-b").approved
    return ids


def enqueue(broker_url: str, actor: str, queue: str, *args: object) -> None:
    """Put one message on the broker, as the web app or CLI would (``send_draft`` etc.)."""
    broker = RedisBroker(url=broker_url)  # type: ignore[no-untyped-call]
    try:
        broker.declare_queue(queue)
        broker.enqueue(
            Message(queue_name=queue, actor_name=actor, args=tuple(args), kwargs={}, options={})
        )
    finally:
        broker.close()


def send_approved(broker_url: str, draft_ids: Sequence[int]) -> None:
    """Enqueue a send for each approved draft (what ``review.send_approved`` does)."""
    for draft_id in draft_ids:
        enqueue(broker_url, "send_draft", "send", draft_id)
