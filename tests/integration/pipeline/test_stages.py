"""The pipeline's stages, called directly on SQLite: each stores once and is idempotent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from brandcare.brands.setup import QuerySpec
from brandcare.pipeline.schedule import Enqueue, Scheduler
from brandcare.store import transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.models import ApiUsageRow, DraftRow, MentionRow, QueryRow, ReplyRow
from brandcare.store.replies import reply_state, stale_work, start_reply
from brandcare.store.usage import record_usage
from listener.base import Page
from listener.errors import AuthError, RateLimited, TransientSourceError
from listener.fake import ScriptedSource, make_mention
from responders.sender import SendStatus
from tests.integration.pipeline.conftest import add_brand, make_pipeline

SCRIPTED = QuerySpec(platform="scripted", kind="search", terms="skyway")


def count(sessions, model, *where) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def posts_counted(sessions) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return int(s.scalar(select(func.sum(ApiUsageRow.posts))) or 0)


def query_id(sessions) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return int(s.scalars(select(QueryRow.id)).first() or 0)


def test_poll_stores_each_mention_once_and_advances_the_cursor(sessions):
    add_brand(sessions, SCRIPTED)
    page = Page([make_mention("1", "@SkywayAir lost my bag"), make_mention("2")], cursor="2")
    source = ScriptedSource(pages=[page, page])
    pipeline = make_pipeline(sessions, source)
    first = pipeline.poll(query_id(sessions))
    again = pipeline.poll(query_id(sessions))  # the same page delivered twice
    assert len(first.new_ids) == 2
    assert again.new_ids == []
    assert count(sessions, MentionRow) == 2
    assert source.polls[1].since == "2"


def test_a_failing_query_pauses_with_its_reason_and_others_go_on(sessions):
    add_brand(sessions, SCRIPTED, QuerySpec(platform="scripted", kind="search", terms="other"))
    with transaction(sessions) as s:
        bad, good = list(s.scalars(select(QueryRow.id).order_by(QueryRow.id)))
    source = ScriptedSource(
        pages_by_query={good: [Page([make_mention("9")], cursor="9")]},
        query_errors={bad: AuthError("token revoked", platform="scripted")},
    )
    pipeline = make_pipeline(sessions, source)
    assert pipeline.poll(bad).paused is not None
    assert pipeline.poll(good).new_ids
    with transaction(sessions) as s:
        assert "token revoked" in (s.get(QueryRow, bad).paused_reason or "")


def test_transient_errors_propagate_for_the_actor_to_retry_and_lose_nothing(sessions):
    add_brand(sessions, SCRIPTED)
    page = Page([make_mention("1")], cursor="1")
    source = ScriptedSource(pages=[page], poll_errors={1: TransientSourceError("503")})
    pipeline = make_pipeline(sessions, source)
    try:
        pipeline.poll(query_id(sessions))
    except TransientSourceError:
        pass
    else:
        raise AssertionError("a 503 must reach the actor's retry")
    assert pipeline.poll(query_id(sessions)).new_ids  # the retry stores it


def test_a_spent_budget_stops_polling_and_says_so(sessions):
    add_brand(
        sessions, QuerySpec(platform="scripted", kind="search", terms="x", daily_budget_usd=0.01)
    )
    qid = query_id(sessions)
    with transaction(sessions) as s:
        record_usage(
            s,
            brand_id=1,
            platform="scripted",
            day=dt.date.today(),
            query_id=qid,
            reads=10,
            est_cost_usd=0.05,
        )
    source = ScriptedSource(pages=[Page([make_mention("1")], cursor="1")])
    result = make_pipeline(sessions, source).poll(qid)
    assert result.paused
    assert "daily budget $0.01 spent" in result.paused
    assert source.polls == []  # never re-read: no API call at all


def test_scoring_is_idempotent_and_routes_trolls_and_chatter(sessions):
    add_brand(sessions, SCRIPTED)
    mentions = [
        make_mention("1", "@SkywayAir you lost my bag, flight was cancelled today"),
        make_mention("2", "@SkywayAir you are a clown"),
        make_mention("3", "nice weather"),
    ]
    pipeline = make_pipeline(sessions, ScriptedSource.with_mentions(mentions))
    ids = pipeline.poll(query_id(sessions)).new_ids
    to_draft = pipeline.score(ids)
    assert pipeline.score(ids) == []  # redelivered message: nothing twice
    assert len(to_draft) == 2
    for mention_id in to_draft:
        pipeline.draft(mention_id)
        pipeline.draft(mention_id)  # idempotent
    assert count(sessions, DraftRow) == 2
    assert count(sessions, DraftRow, DraftRow.state == "skipped") == 1
    assert count(sessions, MentionRow, MentionRow.state == "ignored") == 1
    with transaction(sessions) as s:
        skipped = s.scalars(select(DraftRow).where(DraftRow.state == "skipped")).one()
        assert "insult" in (skipped.skip_reason or "")
        assert skipped.text  # ready if an agent un-skips it


def _approved_draft(sessions, source):  # type: ignore[no-untyped-def]
    add_brand(sessions, SCRIPTED)
    pipeline = make_pipeline(sessions, source)
    ids = pipeline.poll(query_id(sessions)).new_ids
    (mention_id,) = pipeline.score(ids)
    draft_id = pipeline.draft(mention_id)
    assert draft_id is not None
    with transaction(sessions) as s:
        assert transition_draft(s, draft_id, ["pending"], "approved", "agent")
    return pipeline, draft_id


def _first_post_fails(sessions, error: Exception):  # type: ignore[no-untyped-def]
    """An approved draft whose platform answers its first post with ``error``."""
    source = ScriptedSource.with_mentions(
        [make_mention("1", "@SkywayAir lost my bag")], post_errors={1: error}
    )
    pipeline, draft_id = _approved_draft(sessions, source)
    return source, pipeline, draft_id


def test_send_posts_an_approved_draft_once_even_if_delivered_twice(sessions):
    source = ScriptedSource.with_mentions([make_mention("1", "@SkywayAir lost my bag")])
    pipeline, draft_id = _approved_draft(sessions, source)
    assert pipeline.send(draft_id).status is SendStatus.SENT
    assert pipeline.send(draft_id) is None  # a duplicate message finds it sent
    assert source.post_calls == 1
    with transaction(sessions) as s:
        assert s.get(DraftRow, draft_id).state == "sent"
        assert s.scalars(select(ReplyRow)).one().state == "posted"


def test_send_never_posts_twice_after_a_lost_response(sessions):
    source = ScriptedSource.with_mentions(
        [make_mention("1", "@SkywayAir lost my bag")], lose_response_after_post=True
    )
    pipeline, draft_id = _approved_draft(sessions, source)
    outcome = pipeline.send(draft_id)
    assert outcome.status is SendStatus.SENT  # find_reply settled it
    assert outcome.found_existing
    assert source.post_calls == 1
    assert posts_counted(sessions) == 1


def test_a_recent_unsettled_send_is_only_checked_then_found_later(sessions):
    source = ScriptedSource.with_mentions(
        [make_mention("1", "@SkywayAir lost my bag")],
        lose_response_after_post=True,
        find_reply_misses=2,  # the platform shows the reply late
    )
    pipeline, draft_id = _approved_draft(sessions, source)
    assert pipeline.send(draft_id).status is SendStatus.UNKNOWN  # posted, answer lost
    again = pipeline.send(draft_id)  # a quick retry only looks; still not visible
    assert again is not None
    assert again.status is SendStatus.UNKNOWN
    assert source.post_calls == 1
    with transaction(sessions) as s:
        assert s.get(DraftRow, draft_id).state == "sending"
    later = dt.datetime.now(dt.UTC) + pipeline.settle_window * 2
    pipeline.clock = lambda: later
    settled = pipeline.send(draft_id)  # after the window: find first, and it is there
    assert settled is not None
    assert settled.status is SendStatus.SENT
    assert source.post_calls == 1
    # The post found is counted on the budget once, though no call that found it posted.
    assert posts_counted(sessions) == 1
    assert pipeline.send(draft_id) is None
    assert posts_counted(sessions) == 1


def test_a_send_whose_worker_died_before_posting_is_posted_after_the_window(sessions):
    source = ScriptedSource.with_mentions([make_mention("1", "@SkywayAir lost my bag")])
    pipeline, draft_id = _approved_draft(sessions, source)
    with transaction(sessions) as s:  # the worker took it, then died before the post
        assert transition_draft(s, draft_id, ["approved"], "sending", "system")
        start_reply(s, draft_id, "scripted")
    assert pipeline.send(draft_id).status is SendStatus.UNKNOWN  # too early: only looks
    assert source.post_calls == 0
    later = dt.datetime.now(dt.UTC) + pipeline.settle_window * 2
    pipeline.clock = lambda: later
    assert pipeline.send(draft_id).status is SendStatus.SENT
    assert source.post_calls == 1


def test_a_post_refused_by_a_rate_limit_is_posted_once_the_limit_resets(sessions):
    source, pipeline, draft_id = _first_post_fails(
        sessions, RateLimited("429", retry_after=30, platform="scripted")
    )
    refused = pipeline.send(draft_id)
    assert refused.status is SendStatus.RETRY_AFTER
    assert refused.retry_after == 30
    with transaction(sessions) as s:
        assert s.get(DraftRow, draft_id).state == "sending"
        assert reply_state(s, draft_id) == "refused"
    # The actor retries after ``retry_after`` (30 s), well inside the settle window
    # (3 min): nothing was in flight, so it posts without waiting or looking first.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31)
    pipeline.clock = lambda: later
    sent = pipeline.send(draft_id)
    assert sent is not None
    assert sent.status is SendStatus.SENT
    assert (source.post_calls, source.post_count, source.find_calls) == (2, 1, 0)
    assert pipeline.send(draft_id) is None  # a duplicate retry finds it sent
    with transaction(sessions) as s:
        assert s.get(DraftRow, draft_id).state == "sent"
        assert reply_state(s, draft_id) == "posted"


def test_an_unclear_post_is_still_only_checked_inside_the_window(sessions):
    source, pipeline, draft_id = _first_post_fails(
        sessions, TransientSourceError("read timed out", platform="scripted")
    )
    assert pipeline.send(draft_id).status is SendStatus.UNKNOWN
    with transaction(sessions) as s:
        assert reply_state(s, draft_id) == "unknown"
    assert pipeline.send(draft_id).status is SendStatus.UNKNOWN  # looks, does not post
    assert source.post_calls == 1


def test_stale_work_is_found_for_the_sweep(sessions):
    add_brand(sessions, SCRIPTED)
    pipeline = make_pipeline(sessions, ScriptedSource.with_mentions([make_mention("1")]))
    pipeline.poll(query_id(sessions))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with transaction(sessions) as s:
        stale = stale_work(s, later)
    assert len(stale.unscored) == 1


def test_a_post_deleted_on_the_platform_is_recorded_and_keeps_its_text(sessions):
    add_brand(sessions, SCRIPTED)
    first = Page([make_mention("1", "@SkywayAir lost my bag")], cursor="1")
    gone = Page([make_mention("1", "[deleted]")], cursor="1")
    pipeline = make_pipeline(sessions, ScriptedSource(pages=[first, gone]))
    pipeline.poll(query_id(sessions))
    pipeline.poll(query_id(sessions))
    with transaction(sessions) as s:
        mention = s.scalars(select(MentionRow)).one()
        assert mention.deleted_at is not None
        assert mention.text == "@SkywayAir lost my bag"


def test_a_refusal_because_the_post_was_deleted_fails_the_draft_and_marks_the_mention(sessions):
    from listener.errors import PermanentSourceError

    _, pipeline, draft_id = _first_post_fails(
        sessions, PermanentSourceError("gone", reason="the post was deleted")
    )
    assert pipeline.send(draft_id).status is SendStatus.FAILED
    with transaction(sessions) as s:
        draft = s.get(DraftRow, draft_id)
        assert draft.state == "failed"
        assert draft.failure_reason == "the post was deleted"
        assert s.get(MentionRow, draft.mention_id).deleted_at is not None


class HeldBy:
    """A reclaimer whose broker carries messages for ``held`` mentions, and no dead worker."""

    def __init__(self, held: set[int]) -> None:
        self.held = held

    def reclaim(self) -> int:
        return 0

    def mentions_held(self, *, dead_letters: bool = True) -> set[int]:
        return set(self.held)


def test_waiting_mentions_no_message_carries_are_enqueued_again_and_no_others(sessions):
    add_brand(sessions, SCRIPTED)
    texts = ["hello @brand"] * 3 + ["@SkywayAir you lost my bag, where is it?"]
    mentions = [make_mention(str(i), text) for i, text in enumerate(texts)]
    pipeline = make_pipeline(sessions, ScriptedSource.with_mentions(mentions))
    queued, lost, _fresh, scored = pipeline.poll(query_id(sessions)).new_ids
    assert pipeline.score([scored]) == [scored]  # scored: it waits for drafting now
    minute_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with transaction(sessions) as s:
        s.execute(
            update(MentionRow)
            .where(MentionRow.id.in_([queued, lost, scored]))
            .values(fetched_at=minute_ago)
        )
    to_score: list[list[int]] = []
    to_draft: list[list[int]] = []
    scheduler = Scheduler(
        sessions,
        Enqueue(lambda q: None, to_score.append, to_draft.append, lambda d: None),
        reclaimer=HeldBy({queued}),
    )
    scheduler.reclaim()
    # ``queued`` waits in a queue, ``fresh`` was fetched a moment ago (its poll may be
    # enqueueing it right now): only the two no message carries are lost.
    assert to_score == [[lost]]
    assert to_draft == [[scored]]
    scheduler.reclaim()  # the next look is 15 s later, not at every tick
    assert to_score == [[lost]]


def test_a_mention_done_while_the_broker_was_read_is_not_taken_for_lost(sessions):
    add_brand(sessions, SCRIPTED)
    text = "@SkywayAir you lost my bag, where is it?"
    pipeline = make_pipeline(sessions, ScriptedSource.with_mentions([make_mention("1", text)]))
    (mention_id,) = pipeline.poll(query_id(sessions)).new_ids
    assert pipeline.score([mention_id]) == [mention_id]
    with transaction(sessions) as s:
        s.execute(
            update(MentionRow)
            .where(MentionRow.id == mention_id)
            .values(fetched_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )

    class DraftedMeanwhile(HeldBy):
        """Its draft message is done (acknowledged, gone) while the broker is read."""

        def mentions_held(self, *, dead_letters: bool = True) -> set[int]:
            pipeline.draft(mention_id)
            return set()

    to_draft: list[list[int]] = []
    scheduler = Scheduler(
        sessions,
        Enqueue(lambda q: None, lambda ids: None, to_draft.append, lambda d: None),
        reclaimer=DraftedMeanwhile(set()),
    )
    assert scheduler.reclaim() == 0
    assert to_draft == []


def test_the_sweep_leaves_alone_stale_mentions_a_message_still_carries(sessions):
    add_brand(sessions, SCRIPTED)
    mentions = [make_mention(str(i)) for i in range(2)]
    pipeline = make_pipeline(sessions, ScriptedSource.with_mentions(mentions))
    waiting, lost = pipeline.poll(query_id(sessions)).new_ids
    to_score: list[list[int]] = []
    scheduler = Scheduler(
        sessions,
        Enqueue(lambda q: None, to_score.append, lambda ids: None, lambda d: None),
        stale_after=dt.timedelta(seconds=-60),  # everything is stale
        reclaimer=HeldBy({waiting}),  # in a long queue, not lost
    )
    scheduler.sweep()
    assert to_score == [[lost]]
