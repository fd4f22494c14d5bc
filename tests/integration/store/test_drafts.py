"""Drafts: one per mention, compare-and-set transitions, the agents' queue order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from brandcare.store import transaction
from brandcare.store.drafts import (
    NewDraft,
    count_by_state,
    create_draft,
    create_drafts,
    pending_queue,
    transition_draft,
)
from brandcare.store.mentions import upsert_mentions
from brandcare.store.models import BrandRow, DraftRow, EventRow, ScoreRow, utcnow
from brandcare.store.scores import ScoreRecord, save_scores
from tests.integration.store.helpers import mention


def _score(mention_id: int, urgency: float, version: str = "v1") -> ScoreRecord:
    return ScoreRecord(
        mention_id=mention_id,
        model_version=version,
        sentiment="negative",
        prob_negative=0.7,
        prob_neutral=0.2,
        prob_positive=0.1,
        urgency=urgency,
        urgency_level="high" if urgency >= 2 / 3 else "low",
        needs_reply=True,
        needs_reply_prob=0.9,
        troll=False,
        troll_prob=0.05,
        issue="lost_luggage",
    )


def _drafted(factory: sessionmaker[Session], brand_query: tuple[int, int]) -> tuple[int, int]:
    """A stored mention with a pending draft: (mention_id, draft_id)."""
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        [mid] = upsert_mentions(session, brand_id, query_id, [mention("1")])
        draft_id = create_draft(session, mid, "Sorry to hear that!", template="lost_luggage")
    assert draft_id is not None
    return mid, draft_id


def test_drafting_a_mention_twice_keeps_the_first_draft(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    mid, draft_id = _drafted(factory, brand_query)
    with transaction(factory) as session:
        assert create_draft(session, mid, "A different text") is None
    with factory() as session:
        [draft] = session.scalars(select(DraftRow)).all()
        assert (draft.id, draft.text, draft.original_text) == (
            draft_id,
            *2 * ["Sorry to hear that!"],
        )
        assert (draft.state, draft.version) == ("pending", 1)
        events = session.scalars(select(EventRow.action).where(EventRow.draft_id == draft_id))
        assert list(events) == ["draft.created"]


def test_a_troll_gets_a_skipped_draft_with_the_reason(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        [mid] = upsert_mentions(session, brand_id, query_id, [mention("1", "you all suck")])
        draft_id = create_draft(session, mid, "", state="skipped", skip_reason="insults")
    with factory() as session:
        draft = session.get_one(DraftRow, draft_id)
        assert (draft.state, draft.skip_reason) == ("skipped", "insults")


def test_a_second_transition_from_the_same_state_fails(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    mid, draft_id = _drafted(factory, brand_query)
    now = utcnow()
    with transaction(factory) as session:
        assert transition_draft(
            session, draft_id, ["pending"], "approved", "ana", approved_by="ana", approved_at=now
        )
        assert not transition_draft(
            session, draft_id, ["pending"], "approved", "bob", approved_by="bob", approved_at=now
        )
    with factory() as session:
        draft = session.get_one(DraftRow, draft_id)
        assert (draft.state, draft.approved_by, draft.approved_at) == ("approved", "ana", now)
        assert draft.version == 2
        [event] = session.scalars(select(EventRow).where(EventRow.action == "draft.approved"))
        assert (event.actor, event.mention_id, event.detail["from"]) == ("ana", mid, ["pending"])


def test_two_agents_approving_at_once_only_one_wins(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    _, draft_id = _drafted(factory, brand_query)
    start = threading.Barrier(2)

    def approve(agent: str) -> bool:
        start.wait()
        with transaction(factory) as session:
            return transition_draft(
                session, draft_id, ["pending"], "approved", agent, approved_by=agent
            )

    with ThreadPoolExecutor(2) as pool:
        won = list(pool.map(approve, ["ana", "bob"]))
    assert sorted(won) == [False, True]
    with factory() as session:
        approvals = session.scalars(select(EventRow).where(EventRow.action == "draft.approved"))
        assert len(list(approvals)) == 1


def test_a_transition_makes_an_agents_stale_edit_fail(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    _, draft_id = _drafted(factory, brand_query)
    with factory() as editor:
        stale = editor.get_one(DraftRow, draft_id)  # loaded at version 1
        # End the read transaction (as a web request would) but keep the loaded object;
        # on SQLite an open transaction holds the write lock (BEGIN IMMEDIATE).
        editor.commit()
        with transaction(factory) as session:
            assert transition_draft(session, draft_id, ["pending"], "rejected", "bob")
        stale.text = "edited after the reject"
        with pytest.raises(StaleDataError):
            editor.commit()


def test_a_transition_refreshes_the_draft_already_loaded_in_the_session(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    _, draft_id = _drafted(factory, brand_query)
    with transaction(factory) as session:
        draft = session.get_one(DraftRow, draft_id)
        assert transition_draft(session, draft_id, ["pending"], "approved", "ana", text="Hi!")
        assert (draft.state, draft.text, draft.version) == ("approved", "Hi!", 2)
        draft.edited_by = "ana"  # the ORM flush carries the new version: no StaleDataError


def test_a_transition_refuses_unknown_fields_and_states(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    _, draft_id = _drafted(factory, brand_query)
    with transaction(factory) as session:
        with pytest.raises(TypeError, match="cannot set"):
            transition_draft(session, draft_id, ["pending"], "approved", "ana", mention_id=3)
        with pytest.raises(ValueError, match="unknown draft state"):
            transition_draft(session, draft_id, ["pending"], "posted", "ana")


def test_the_queue_puts_urgent_first_then_larger_reach_then_older(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    page = [
        mention("old-small", followers=10, minutes=0),
        mention("new-small", followers=10, minutes=5),
        mention("big", followers=50_000, minutes=9),
        mention("urgent", followers=None, minutes=10),
        mention("rescored", followers=10, minutes=1),
        mention("approved", followers=10, minutes=2),
    ]
    urgency = {"old-small": 0.4, "new-small": 0.4, "big": 0.4, "urgent": 0.9, "rescored": 0.1}
    with transaction(factory) as session:
        ids = dict(
            zip(
                [m.external_id for m in page],
                upsert_mentions(session, brand_id, query_id, page),
                strict=True,
            )
        )
        save_scores(session, [_score(ids[k], urgency.get(k, 0.5)) for k in ids])
        # The latest model's score counts: "rescored" became the most urgent.
        save_scores(session, [_score(ids["rescored"], 0.95, version="v2")])
        drafts = {k: create_draft(session, i, f"re {k}") for k, i in ids.items()}
        assert transition_draft(session, drafts["approved"] or 0, ["pending"], "approved", "ana")
    with factory() as session:
        queue = pending_queue(session, limit=10)
        order = [e.mention.external_id for e in queue]
        assert order == ["rescored", "urgent", "big", "old-small", "new-small"]
        assert queue[0].score is not None
        assert queue[0].score.model_version == "v2"
        assert [e.mention.external_id for e in pending_queue(session, limit=2)] == order[:2]
        assert count_by_state(session, "drafts")["pending"] == 5
        assert count_by_state(session, "drafts", brand_id=brand_id)["approved"] == 1
        assert count_by_state(session, "mentions")["scored"] == 6


def test_the_queue_shows_only_the_brand_asked_for(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        other = BrandRow(slug="globex", name="Globex")
        session.add(other)
        session.flush()
        [mine] = upsert_mentions(session, brand_id, query_id, [mention("1")])
        [theirs] = upsert_mentions(session, other.id, None, [mention("2")])
        create_draft(session, mine, "hello")
        create_draft(session, theirs, "hello")
    with factory() as session:
        queue = pending_queue(session, 10, brand_id=other.id)
        assert [e.mention.id for e in queue] == [theirs]
        assert queue[0].score is None
        assert len(pending_queue(session, 10)) == 2
        assert session.scalar(select(ScoreRow)) is None


def test_a_batch_of_drafts_creates_only_the_missing_ones_each_with_its_event(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        ids = upsert_mentions(session, brand_id, query_id, [mention(str(i)) for i in range(4)])
        first = create_draft(session, ids[0], "already drafted")
    batch = [
        NewDraft(ids[0], "a second try"),
        NewDraft(ids[1], "Sorry!", template="lost_luggage"),
        NewDraft(ids[2], "", state="skipped", skip_reason="insult: 'clown'"),
    ]
    with transaction(factory) as session:
        created = create_drafts(session, batch)
    assert set(created) == {ids[1], ids[2]}
    with transaction(factory) as session:
        assert create_drafts(session, batch) == {}  # redelivered: nothing new, no events
    with factory() as session:
        drafts = {d.mention_id: d for d in session.scalars(select(DraftRow))}
        assert (drafts[ids[0]].id, drafts[ids[0]].text) == (first, "already drafted")
        assert {m: d.id for m, d in drafts.items() if m != ids[0]} == created
        assert (drafts[ids[2]].state, drafts[ids[2]].skip_reason) == ("skipped", "insult: 'clown'")
        assert ids[3] not in drafts
        events = session.execute(
            select(EventRow.draft_id, EventRow.mention_id, EventRow.detail).where(
                EventRow.action == "draft.created"
            )
        ).all()
    assert sorted((d, m) for d, m, _ in events) == sorted(
        [(first, ids[0])] + [(d, m) for m, d in created.items()]
    )
    details = {m: detail for _, m, detail in events}
    assert details[ids[1]] == {"state": "pending", "template": "lost_luggage"}
    assert details[ids[2]] == {
        "state": "skipped",
        "template": None,
        "skip_reason": "insult: 'clown'",
    }
