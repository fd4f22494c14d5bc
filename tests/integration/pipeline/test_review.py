"""Agent actions from the command line: approve (with edits), reject, un-skip."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from brandcare.agents.review import ReviewError, approve_draft, reject_draft, unskip_draft
from brandcare.config import Settings
from brandcare.store import transaction
from brandcare.store.models import DraftRow, EventRow
from listener.fake import ScriptedSource, make_mention
from tests.integration.pipeline.conftest import drafted_pipeline


@pytest.fixture
def drafted(database):  # type: ignore[no-untyped-def]
    source = ScriptedSource.with_mentions(
        [
            make_mention("1", "@SkywayAir you lost my bag, flight cancelled today"),
            make_mention("2", "@SkywayAir you are a clown"),
        ]
    )
    pipeline = drafted_pipeline(database, source)
    with transaction(pipeline.sessions) as s:
        drafts = {d.state: d.id for d in s.scalars(select(DraftRow))}
    return Settings(database_url=database), source, drafts, pipeline


def test_approve_sends_once_and_a_second_approve_is_refused(drafted):
    settings, source, drafts, _ = drafted
    said = approve_draft(settings, drafts["pending"], text=None, actor="ana")
    assert "send sent" in said
    with pytest.raises(ReviewError, match="cannot approve a draft that is sent"):
        approve_draft(settings, drafts["pending"], text=None, actor="ana")
    assert source.post_calls == 1


def test_an_edit_past_the_limit_is_refused_with_the_count(drafted):
    settings, source, drafts, _ = drafted
    with pytest.raises(ReviewError, match="the limit is 280"):
        approve_draft(settings, drafts["pending"], text="x" * 300, actor="ana")
    assert source.post_calls == 0


def test_an_edited_approval_sends_the_edit_and_records_the_editor(drafted):
    settings, source, drafts, pipeline = drafted
    approve_draft(settings, drafts["pending"], text="Sorry! DM us please.", actor="ana")
    assert source.posted[0].text == "Sorry! DM us please."
    with transaction(pipeline.sessions) as s:
        draft = s.get(DraftRow, drafts["pending"])
        assert (draft.edited_by, draft.approved_by) == ("ana", "ana")
        actions = [e.action for e in s.scalars(select(EventRow).order_by(EventRow.id))]
    assert actions[-3:] == ["draft.approved", "draft.sending", "draft.sent"]


def test_reject_needs_a_reason_and_sends_nothing(drafted):
    settings, source, drafts, _ = drafted
    with pytest.raises(ReviewError, match="needs a reason"):
        reject_draft(settings, drafts["pending"], reason=" ", actor="ana")
    reject_draft(settings, drafts["pending"], reason="answered by phone", actor="ana")
    with pytest.raises(ReviewError):
        approve_draft(settings, drafts["pending"], text=None, actor="ana")
    assert source.post_calls == 0


def test_a_skipped_troll_can_be_put_back_and_then_approved(drafted):
    settings, source, drafts, _ = drafted
    unskip_draft(settings, drafts["skipped"], reason="a real customer, angry", actor="ana")
    approve_draft(settings, drafts["skipped"], text="We hear you. DM us?", actor="ana")
    assert source.post_calls == 1


def test_the_commands_say_what_happened_and_exit_1_with_the_refusal(drafted, monkeypatch):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from brandcare.cli import app as cli

    settings, source, drafts, _ = drafted
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", settings.database_url)
    run = CliRunner().invoke
    approved = run(cli, ["approve", str(drafts["pending"]), "--by", "ana"])
    assert approved.exit_code == 0, approved.output
    assert "send sent" in approved.output
    assert source.post_calls == 1
    unskipped = run(cli, ["unskip", str(drafts["skipped"]), "--reason", "a real customer"])
    assert unskipped.exit_code == 0, unskipped.output
    assert f"draft {drafts['skipped']} is pending again" in unskipped.output
    rejected = run(cli, ["reject", str(drafts["skipped"]), "--reason", "answered by phone"])
    assert rejected.exit_code == 0, rejected.output
    assert f"draft {drafts['skipped']} rejected" in rejected.output
    again = run(cli, ["reject", str(drafts["skipped"]), "--reason", "twice"])
    assert again.exit_code == 1
    assert "rejected" in again.output
    assert source.post_calls == 1
