"""Requeueing a failed draft: what it decides, from a scripted platform and SQLite.

Each test starts from a draft whose send the platform refused for good (the first
post raises ``PermanentSourceError``, nothing went out), then fixes nothing but asks
to send it again; the scripted source counts every post, so "exactly once" is checked
on what reached the platform, not on the database alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from brandcare.agents.requeue import RequeueRefused, requeue, requeue_draft
from brandcare.agents.review import ReviewError, approve_draft
from brandcare.brands.credentials import MissingCredentialsError
from brandcare.config import Settings
from brandcare.pipeline.base import mention_value
from brandcare.pipeline.stages import Pipeline
from brandcare.store import transaction
from brandcare.store.models import DraftRow, EventRow, MentionRow, ReplyRow
from listener.base import Mention, PostedReply
from listener.errors import PermanentSourceError, TransientSourceError
from listener.fake import ScriptedSource, make_mention
from tests.integration.pipeline.conftest import drafted_pipeline

REFUSED = {1: PermanentSourceError("403", reason="replies are limited in this thread")}


@dataclass
class Failed:
    settings: Settings
    pipeline: Pipeline
    source: ScriptedSource
    draft_id: int

    def state(self) -> str:
        with transaction(self.pipeline.sessions) as s:
            draft = s.get(DraftRow, self.draft_id)
            assert draft is not None
            return draft.state

    def mention(self) -> Mention:
        with transaction(self.pipeline.sessions) as s:
            draft = s.get(DraftRow, self.draft_id)
            assert draft is not None
            row = s.get(MentionRow, draft.mention_id)
            assert row is not None
            return mention_value(row)

    def text(self) -> str:
        with transaction(self.pipeline.sessions) as s:
            draft = s.get(DraftRow, self.draft_id)
            assert draft is not None
            return draft.text

    def events(self, action: str) -> list[EventRow]:
        with transaction(self.pipeline.sessions) as s:
            rows = s.scalars(
                select(EventRow).where(
                    EventRow.draft_id == self.draft_id, EventRow.action == action
                )
            ).all()
            s.expunge_all()
            return list(rows)


def _failed(database: str, source: ScriptedSource) -> Failed:
    """A draft approved by ana whose one send attempt the platform refused."""
    settings = Settings(database_url=database)
    pipeline = drafted_pipeline(database, source)
    with transaction(pipeline.sessions) as s:
        (draft_id,) = s.scalars(select(DraftRow.id).where(DraftRow.state == "pending")).all()
    said = approve_draft(settings, draft_id, text=None, actor="ana")
    assert "send failed" in said
    found = Failed(settings, pipeline, source, draft_id)
    assert found.state() == "failed"
    assert source.post_count == 0  # the refusal came before anything went out
    return found


def _bag() -> list[Mention]:
    return [make_mention("1", "@SkywayAir you lost my bag, flight cancelled today")]


def test_a_requeued_draft_is_posted_once_and_a_second_requeue_posts_nothing(
    database: str,
) -> None:
    failed = _failed(database, ScriptedSource.with_mentions(_bag(), post_errors=REFUSED))
    said = requeue_draft(failed.settings, failed.draft_id, actor="ben")
    assert "approved again by ben" in said
    assert "send sent" in said
    assert failed.state() == "sent"
    assert failed.source.post_count == 1
    (event,) = failed.events("draft.requeue")
    assert event.actor == "ben"
    assert event.detail["nothing_posted"] is True
    assert "replies are limited" in event.detail["failed_with"]
    (approved,) = failed.events("draft.approved")[-1:]
    assert approved.actor == "ben"

    with pytest.raises(ReviewError, match="is sent, not failed"):
        requeue_draft(failed.settings, failed.draft_id, actor="ben")
    assert failed.source.post_count == 1
    with transaction(failed.pipeline.sessions) as s:
        draft = s.get(DraftRow, failed.draft_id)
        assert draft is not None
        assert draft.failure_reason is None  # the old reason lives on in the audit log


def test_a_reply_already_on_the_platform_is_recorded_as_sent_and_not_posted_again(
    database: str,
) -> None:
    failed = _failed(database, ScriptedSource.with_mentions(_bag(), post_errors=REFUSED))
    by_hand = failed.source.post_reply(failed.mention(), failed.text())  # an agent copied it
    posts_before = failed.source.post_calls

    result = requeue(failed.pipeline, failed.draft_id, actor="ben")

    assert not result.requeued
    assert result.found_url == by_hand.url
    assert "nothing posted again" in result.message
    assert failed.state() == "sent"
    assert failed.source.post_calls == posts_before
    with transaction(failed.pipeline.sessions) as s:
        reply = s.scalars(select(ReplyRow).where(ReplyRow.draft_id == failed.draft_id)).one()
        assert (reply.state, reply.external_id) == ("posted", by_hand.external_id)
    (sent,) = failed.events("draft.sent")
    assert sent.actor == "ben"
    assert failed.events("draft.requeue") == []


class _Unreachable(ScriptedSource):
    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        raise TransientSourceError("503 service unavailable", platform=self.platform)


def test_when_the_platform_cannot_be_asked_the_draft_stays_failed(database: str) -> None:
    failed = _failed(database, _Unreachable.with_mentions(_bag(), post_errors=REFUSED))
    with pytest.raises(RequeueRefused, match=r"stays failed.*503 service unavailable"):
        requeue(failed.pipeline, failed.draft_id, actor="ben")
    assert failed.state() == "failed"
    assert failed.source.post_count == 0
    assert failed.events("draft.requeue") == []


def test_credentials_still_missing_refuse_with_the_variables_to_set(database: str) -> None:
    failed = _failed(database, ScriptedSource.with_mentions(_bag(), post_errors=REFUSED))

    def incomplete(platform: str, use: Any) -> ScriptedSource:
        raise MissingCredentialsError(
            f"brand {use.brand!r} cannot post as its X account with credentials profile "
            "'skyway': set X_API_KEY__SKYWAY",
            brand=use.brand, profile="skyway", missing=("X_API_KEY__SKYWAY",), platform=platform,
        )  # fmt: skip

    failed.pipeline.sources = incomplete
    with pytest.raises(RequeueRefused, match=r"stays failed.*set X_API_KEY__SKYWAY"):
        requeue(failed.pipeline, failed.draft_id, actor="ben")
    assert failed.state() == "failed"
    assert failed.source.find_calls == 0


def test_only_a_failed_draft_can_be_requeued(database: str) -> None:
    failed = _failed(database, ScriptedSource.with_mentions(_bag(), post_errors=REFUSED))
    with pytest.raises(ReviewError, match="no draft 999"):
        requeue(failed.pipeline, 999, actor="ben")
    with transaction(failed.pipeline.sessions) as s:
        draft = s.get(DraftRow, failed.draft_id)
        assert draft is not None
        draft.state = "rejected"
    with pytest.raises(ReviewError, match="is rejected, not failed"):
        requeue(failed.pipeline, failed.draft_id, actor="ben")
    assert failed.source.find_calls == 0


class _Racing(ScriptedSource):
    """Runs ``during_find`` once, inside the first ``find_reply``: another agent acting
    between this agent's check and its compare-and-set, deterministically."""

    during_find: Any = None

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        hook, self.during_find = self.during_find, None
        if hook is not None:
            hook()
        return super().find_reply(mention, text)


@pytest.mark.parametrize("ana_sends_first", [False, True])
def test_two_agents_requeueing_at_once_send_once(database: str, ana_sends_first: bool) -> None:
    # ana's requeue lands while ben's check is in flight: ben finds the draft approved
    # (or, if ana's send already went out, the reply there) and is told to reload.
    source = _Racing.with_mentions(_bag(), post_errors=REFUSED)
    failed = _failed(database, source)
    other: list[object] = []

    def ana() -> None:
        if ana_sends_first:
            other.append(requeue_draft(failed.settings, failed.draft_id, actor="ana"))
        else:
            other.append(requeue(failed.pipeline, failed.draft_id, actor="ana"))

    source.during_find = ana
    with pytest.raises(ReviewError, match="changed by someone else"):
        requeue_draft(failed.settings, failed.draft_id, actor="ben")
    assert len(other) == 1
    assert failed.state() == ("sent" if ana_sends_first else "approved")
    failed.pipeline.send(failed.draft_id)  # the dispatcher's send of ana's requeue
    assert failed.state() == "sent"
    assert source.post_count == 1
    assert [e.actor for e in failed.events("draft.requeue")] == ["ana"]


def test_a_check_made_before_another_attempt_failed_again_does_not_requeue(
    database: str,
) -> None:
    # ana requeues and her send fails again while ben's check is in flight: the draft
    # is failed again, but ben's evidence predates ana's attempt, so it must not count.
    refused_twice = {**REFUSED, 2: PermanentSourceError("403", reason="still limited")}
    source = _Racing.with_mentions(_bag(), post_errors=refused_twice)
    failed = _failed(database, source)
    source.during_find = lambda: requeue_draft(failed.settings, failed.draft_id, actor="ana")
    with pytest.raises(ReviewError, match="changed by someone else"):
        requeue(failed.pipeline, failed.draft_id, actor="ben")
    assert failed.state() == "failed"
    assert source.post_calls == 2  # the first send and ana's; none for ben
    assert [e.actor for e in failed.events("draft.requeue")] == ["ana"]
