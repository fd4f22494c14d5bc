"""Storing mentions: once each, edits kept, cursor advanced with them, scores once."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.store import transaction
from brandcare.store.mentions import get_cursor, set_cursor, set_mention_state, upsert_mentions
from brandcare.store.models import (
    EventRow,
    MentionRevisionRow,
    MentionRow,
    NaiveDatetimeError,
    ScoreRow,
)
from brandcare.store.scores import (
    ScoreRecord,
    TextToScore,
    mentions_to_score,
    save_scores,
    texts_to_score,
)
from tests.integration.store.helpers import T0, mention


def _count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_mention_fetched_twice_is_stored_once(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    page = [mention("1"), mention("2"), mention("1")]  # a repeat inside one page, too
    with transaction(factory) as session:
        first = upsert_mentions(session, brand_id, query_id, page)
    with transaction(factory) as session:
        second = upsert_mentions(session, brand_id, query_id, page)
        assert _count(session, MentionRow) == 2
        assert _count(session, MentionRevisionRow) == 0
    assert len(first) == 2
    assert second == []


def test_new_ids_come_back_in_page_order(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        ids = upsert_mentions(session, brand_id, query_id, [mention("b"), mention("a")])
        ext = {m.id: m.external_id for m in session.scalars(select(MentionRow))}
    assert [ext[i] for i in ids] == ["b", "a"]


def test_two_workers_storing_the_same_page_at_once_store_each_mention_once(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    page = [mention(str(i)) for i in range(20)]
    start = threading.Barrier(2)

    def worker(reverse: bool) -> list[int]:
        start.wait()
        with transaction(factory) as session:
            return upsert_mentions(
                session, brand_id, query_id, list(reversed(page)) if reverse else page
            )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(worker, [False, True]))
    with factory() as session:
        assert _count(session, MentionRow) == 20
    all_ids = results[0] + results[1]
    assert len(all_ids) == len(set(all_ids)) == 20


def test_an_edited_mention_keeps_its_old_text_as_a_revision(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        [mid] = upsert_mentions(session, brand_id, query_id, [mention("1", "bag lost")])
    with transaction(factory) as session:
        again = upsert_mentions(
            session, brand_id, query_id, [mention("1", "bag lost at JFK, help")]
        )
    assert again == []
    with factory() as session:
        stored = session.get_one(MentionRow, mid)
        assert stored.text == "bag lost at JFK, help"
        assert stored.raw["text"] == "bag lost at JFK, help"
        assert stored.edited_at is not None
        [revision] = session.scalars(select(MentionRevisionRow)).all()
        assert (revision.mention_id, revision.text) == (mid, "bag lost")
        assert revision.raw["text"] == "bag lost"
        actions = session.scalars(select(EventRow.action).where(EventRow.mention_id == mid))
        assert list(actions) == ["mention.edited"]


def test_timestamps_come_back_timezone_aware_in_utc(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    paris = dt.timezone(dt.timedelta(hours=1))
    m = mention("1")
    local = replace(m, created_at=T0.astimezone(paris))
    with transaction(factory) as session:
        [mid] = upsert_mentions(session, brand_id, query_id, [local])
    with factory() as session:
        stored = session.get_one(MentionRow, mid)
        assert stored.created_at == T0
        assert stored.created_at.utcoffset() == dt.timedelta(0)
        assert stored.fetched_at.tzinfo is not None


def test_a_payload_with_datetimes_is_stored_as_json(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    m = replace(mention("1"), raw={"id": "1", "created_at": T0, "entities": ({"n": 1},)})
    with transaction(factory) as session:
        [mid] = upsert_mentions(session, brand_id, query_id, [m])
    with factory() as session:
        raw = session.get_one(MentionRow, mid).raw
        assert raw == {"id": "1", "created_at": T0.isoformat(), "entities": [{"n": 1}]}


def test_a_naive_timestamp_is_refused(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    m = mention("1")
    naive = replace(m, created_at=T0.replace(tzinfo=None))
    with pytest.raises(NaiveDatetimeError), transaction(factory) as session:
        upsert_mentions(session, brand_id, query_id, [naive])


def test_the_cursor_advances_in_the_transaction_that_stores_the_mentions(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        assert get_cursor(session, query_id) is None
        upsert_mentions(session, brand_id, query_id, [mention("1")])
        set_cursor(session, query_id, "1")
    with transaction(factory) as session:
        upsert_mentions(session, brand_id, query_id, [mention("2")])
        set_cursor(session, query_id, "2")
        assert get_cursor(session, query_id) == "2"
    with factory() as session:
        assert get_cursor(session, query_id) == "2"
        assert _count(session, MentionRow) == 2


def test_a_rollback_loses_both_the_mentions_and_the_cursor(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        set_cursor(session, query_id, "0")

    class Crash(Exception):
        pass

    def store_page_then_crash() -> None:
        with transaction(factory) as session:
            upsert_mentions(session, brand_id, query_id, [mention("1"), mention("2")])
            set_cursor(session, query_id, "2")
            raise Crash

    with pytest.raises(Crash):
        store_page_then_crash()
    with factory() as session:
        assert get_cursor(session, query_id) == "0"
        assert _count(session, MentionRow) == 0


def _record(mention_id: int, version: str = "v1", urgency: float = 0.5) -> ScoreRecord:
    return ScoreRecord(
        mention_id=mention_id,
        model_version=version,
        sentiment="negative",
        prob_negative=0.8,
        prob_neutral=0.15,
        prob_positive=0.05,
        urgency=urgency,
        urgency_level="medium",
        needs_reply=True,
        needs_reply_prob=0.9,
        troll=False,
        troll_prob=0.1,
        issue="lost_luggage",
        reasons=("money: 'refund'",),
    )


def test_saving_the_same_scores_twice_stores_them_once(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        ids = upsert_mentions(session, brand_id, query_id, [mention("1"), mention("2")])
    with transaction(factory) as session:
        assert [m.id for m in mentions_to_score(session, ids)] == sorted(ids)
        assert save_scores(session, [_record(i) for i in ids]) == sorted(ids)
    with transaction(factory) as session:
        assert save_scores(session, [_record(i) for i in ids]) == []
        assert mentions_to_score(session, ids) == []
        assert _count(session, ScoreRow) == 2
        states = set(session.scalars(select(MentionRow.state)))
        assert states == {"scored"}
        [score] = session.scalars(select(ScoreRow).where(ScoreRow.mention_id == ids[0])).all()
        assert score.reasons == ["money: 'refund'"]
        assert score.needs_reply is True
        assert score.created_at.tzinfo is not None


def test_a_new_model_version_scores_again_without_touching_the_old_scores(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        ids = upsert_mentions(session, brand_id, query_id, [mention("1")])
        save_scores(session, [_record(ids[0], "v1")])
    with transaction(factory) as session:
        assert mentions_to_score(session, ids, "v1") == []
        assert [m.id for m in mentions_to_score(session, ids, "v2")] == ids
        assert save_scores(session, [_record(ids[0], "v2")]) == ids
        assert _count(session, ScoreRow) == 2


def test_deleted_posts_are_not_scored(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        ids = upsert_mentions(session, brand_id, query_id, [mention("1"), mention("2")])
        session.get_one(MentionRow, ids[0]).deleted_at = T0
    with factory() as session:
        assert [m.id for m in mentions_to_score(session, ids)] == [ids[1]]
        assert texts_to_score(session, ids) == [TextToScore(ids[1], "my bag is lost", 100)]


def test_mention_state_moves_only_from_the_expected_states(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    brand_id, query_id = brand_query
    with transaction(factory) as session:
        ids = upsert_mentions(session, brand_id, query_id, [mention("1"), mention("2")])
        set_mention_state(session, [ids[0]], "scored")
        moved = set_mention_state(session, ids, "drafted", from_states=["scored"])
        assert moved == 1
        assert session.get_one(MentionRow, ids[0]).state == "drafted"
        assert session.get_one(MentionRow, ids[1]).state == "new"
        with pytest.raises(ValueError, match="unknown mention state"):
            set_mention_state(session, ids, "lost")
