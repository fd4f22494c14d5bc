"""Hostile mentions through the embedded pipeline: each one stored, and in the inbox.

A replay file of hostile posts (NUL, lone surrogates, 100k characters, RTL, control
characters, emoji) goes through poll, score and draft on SQLite with the real scorer.
Some posts are poisoned: the scorer, or drafting, raises on them. Whatever happens:

- every post is stored, with the text it was posted with (NUL and lone surrogates
  replaced, as the normalisers promise);
- none is left waiting in ``new`` or ``scored``, where no agent would see it;
- every post the policy did not set aside as needing nothing (``ignored``, with its
  score stored) has a draft in the inbox: a reply, a skipped troll with its reason, or,
  where scoring or drafting failed, an empty pending draft whose mention is in state
  ``error`` with the reason, also written to its audit log;
- one post's failure never stops the others.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.pipeline import draft as draft_stage
from brandcare.pipeline.score import ScorerUnavailable
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.inbox import InboxFilter, lane_items
from brandcare.store.mentions import upsert_mentions
from brandcare.store.models import BrandRow, DraftRow, EventRow, MentionRow, QueryRow, ScoreRow
from listener._common import NAME_CHARS, storable
from listener.fake import make_mention
from listener.replay import ReplaySource
from sentiment.base import Scores
from sentiment.transformer import TransformerScorer
from tests.integration.web.conftest import Site
from tests.property.strategies import nasty_text

pytestmark = pytest.mark.model

SCORER_POISON = "☠"
DRAFTER_POISON = "⚙"
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
_brand_numbers = itertools.count(1)


class ScorerFailure(RuntimeError):
    """What the poisoned scorer raises: a scorer bug on one text."""


class PoisonedScorer:
    """The real scorer, except that any batch holding a poisoned text fails."""

    def __init__(self, inner: TransformerScorer) -> None:
        self.inner = inner
        self.model_version = inner.model_version

    def score(self, texts: Sequence[str]) -> list[Scores]:
        if any(SCORER_POISON in t for t in texts):
            raise ScorerFailure("tokenizer choked on a poisoned post")
        return self.inner.score(texts)


def poisoned_drafting(real: Any) -> Any:
    def draft_reply(mention: Any, *args: Any, **kwargs: Any) -> Any:
        if DRAFTER_POISON in mention.text:
            raise KeyError("template slot missing")  # a drafting bug, not a DraftingError
        return real(mention, *args, **kwargs)

    return draft_reply


@pytest.fixture(scope="module")
def sessions() -> Iterator[sessionmaker[Session]]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'visible.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        yield session_factory(engine)
        engine.dispose()


posts = st.fixed_dictionaries(
    {
        "text": nasty_text(),
        "poison": st.sampled_from(["", "", "", SCORER_POISON, DRAFTER_POISON]),
        "author": nasty_text(20).map(lambda text: text[:NAME_CHARS]),  # longer: refused
        "followers": st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    }
)


def _write(folder: Path, brand: str, items: list[dict[str, Any]]) -> tuple[Path, list[str]]:
    """The replay file for these posts, and each post's text as sent."""
    path = folder / f"{brand}.jsonl"
    texts, lines = [], []
    for number, item in enumerate(items):
        text = item["text"][:60_000] + item["poison"]
        line = {
            "id": f"{brand}-{number}",
            "text": text,
            "author": item["author"],
            "followers": item["followers"],
        }
        lines.append(json.dumps(line))  # lone surrogates go as "\ud83d" escapes
        texts.append(json.loads(lines[-1])["text"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, texts


def _brand_with_replay(
    sessions: sessionmaker[Session], folder: Path, items: list[dict[str, Any]]
) -> tuple[str, int, int, list[str]]:
    """A new brand replaying ``items``: its slug, id, query id, and the texts as sent."""
    slug = f"brand{next(_brand_numbers)}"
    path, texts = _write(folder, slug, items)
    query = QuerySpec(platform="replay", kind="replay", terms=str(path))
    with transaction(sessions) as s:
        brand_id = apply_brands(s, [BrandSpec(slug=slug, name="Skyway Air", queries=[query])])[slug]
        query_id = s.scalars(select(QueryRow.id).where(QueryRow.brand_id == brand_id)).one()
    return slug, brand_id, query_id, texts


@settings(max_examples=30, deadline=None, suppress_health_check=_SHARED)
@given(items=st.lists(posts, min_size=1, max_size=6))
def test_every_hostile_mention_is_stored_and_reaches_the_inbox_or_is_set_aside_with_a_score(
    sessions: sessionmaker[Session], scorer: TransformerScorer, items: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        slug, brand_id, query_id, texts = _brand_with_replay(sessions, Path(tmp), items)
        source = ReplaySource()
        stages = Pipeline(sessions, lambda platform, use: source, lambda: PoisonedScorer(scorer))
        drafting = poisoned_drafting(draft_stage.draft_reply)
        with mock.patch.object(draft_stage, "draft_reply", drafting):
            polled = stages.poll(query_id)
            stages.draft_many(stages.score(polled.new_ids))

    with transaction(sessions) as s:
        stored = {
            m.external_id: m
            for m in s.scalars(select(MentionRow).where(MentionRow.brand_id == brand_id))
        }
        drafts = {
            d.mention_id: d
            for d in s.scalars(
                select(DraftRow).where(DraftRow.mention_id.in_([m.id for m in stored.values()]))
            )
        }
        scored = set(
            s.scalars(
                select(ScoreRow.mention_id).where(
                    ScoreRow.mention_id.in_([m.id for m in stored.values()])
                )
            )
        )
        errors = {
            e.mention_id: e.detail
            for e in s.scalars(select(EventRow).where(EventRow.action == "mention.error"))
        }
        inbox = {
            item.draft.id
            for lane in ("pending", "skipped")
            for item in lane_items(s, InboxFilter(lane=lane, brand_id=brand_id, limit=500))
        }

    assert sorted(stored) == sorted(f"{slug}-{n}" for n in range(len(items)))
    for number, text in enumerate(texts):
        mention = stored[f"{slug}-{number}"]
        assert mention.text == storable(text)
        assert mention.state not in ("new", "scored"), mention.state
        if mention.state == "ignored":
            assert mention.id in scored  # the policy looked at it: nothing to answer
            assert mention.id not in drafts
            continue
        draft = drafts.get(mention.id)
        assert draft is not None, (mention.state, mention.error)
        assert draft.id in inbox  # an agent sees it
        if draft.state == "skipped":
            assert (draft.skip_reason or "").strip()
        if SCORER_POISON in text:
            assert mention.state == "error"
            assert mention.id not in scored
            assert "ScorerFailure" in (mention.error or "")
        elif DRAFTER_POISON in text and draft.state == "pending":
            assert mention.state == "error"
            assert "KeyError" in (mention.error or "")
        if mention.state == "error":
            assert draft.state == "pending"
            assert draft.text == ""
            assert errors[mention.id]["error"] == mention.error
        else:
            assert mention.error is None


class BrokenScorer:
    """A scorer that fails on everything, a plain text included (a bad deployment)."""

    model_version = "broken"

    def score(self, texts: Sequence[str]) -> list[Scores]:
        raise OSError("model file missing")


def test_a_broken_scorer_sets_nothing_aside_and_the_mentions_wait_for_the_retry(
    sessions: sessionmaker[Session],
) -> None:
    plain = [{"text": t, "poison": "", "author": "kim", "followers": None} for t in ("hi", "ok")]
    with tempfile.TemporaryDirectory() as tmp:
        _, _, query_id, _ = _brand_with_replay(sessions, Path(tmp), plain)
        source = ReplaySource()
        stages = Pipeline(sessions, lambda platform, use: source, BrokenScorer)
        new_ids = stages.poll(query_id).new_ids
    with pytest.raises(ScorerUnavailable, match=r"fails even on 'hello'.*OSError: model file"):
        stages.score(new_ids)
    with transaction(sessions) as s:
        states = set(s.scalars(select(MentionRow.state).where(MentionRow.id.in_(new_ids))))
        drafted = s.scalars(select(DraftRow.id).where(DraftRow.mention_id.in_(new_ids))).all()
    assert states == {"new"}  # the scheduler's sweep re-enqueues them once the scorer works
    assert drafted == []


def test_agents_see_why_a_mention_has_no_automatic_reply(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        brand_id = s.scalars(select(BrandRow.id)).first()
        assert brand_id is not None
        (mention_id,) = upsert_mentions(s, brand_id, None, [make_mention("failing")])
        Pipeline._set_aside(s, {mention_id: "scoring failed: ScorerFailure: boom"}, stage="score")
        draft_id = s.scalars(select(DraftRow.id).where(DraftRow.mention_id == mention_id)).one()
        first = lane_items(s, InboxFilter(lane="pending"))[0]
    assert first.draft.id == draft_id  # unscored, so it is read before anything else
    agent = site.login("ana")
    inbox = agent.get("/inbox").text
    assert f"/drafts/{draft_id}" in inbox
    assert "scoring failed: ScorerFailure: boom" in inbox
    page = agent.get(f"/drafts/{draft_id}").text
    assert "No automatic reply: scoring failed: ScorerFailure: boom" in page
    assert "mention.error" in page  # and in its audit log
