"""``brandcare health --pipeline``: up but not consuming shows as work waiting too long."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from brandcare.brands.setup import QuerySpec
from brandcare.cli import app as cli
from brandcare.config import Settings
from brandcare.ops import health
from brandcare.store import transaction
from brandcare.store.models import QueryRow
from listener.fake import ScriptedSource, make_mention
from tests.integration.pipeline.conftest import add_brand, make_pipeline

TEXTS = ("@SkywayAir you lost my bag", "@SkywayAir my flight is cancelled", "@SkywayAir thanks!")


def _polled(sessions) -> tuple[object, list[int]]:  # type: ignore[no-untyped-def]
    source = ScriptedSource.with_mentions(
        [make_mention(str(i), text) for i, text in enumerate(TEXTS)]
    )
    pipeline = make_pipeline(sessions, source)
    add_brand(sessions, QuerySpec(platform="scripted", kind="search", terms="x"))
    with transaction(sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    return pipeline, pipeline.poll(qid).new_ids


def test_mentions_nobody_scores_fail_the_check_once_they_are_too_old(database, sessions) -> None:  # type: ignore[no-untyped-def]
    _, new = _polled(sessions)
    settings = Settings(database_url=database, stall_minutes=15)
    now = dt.datetime.now(dt.UTC)
    ok, detail = health.pipeline(settings, now=now + dt.timedelta(minutes=5))
    assert ok, detail
    assert f"{len(new)} to score, the oldest for 5 min" in detail
    ok, detail = health.pipeline(settings, now=now + dt.timedelta(minutes=20))
    assert not ok
    assert f"{len(new)} to score, the oldest for 20 min" in detail
    assert "is a worker consuming those queues?" in detail


def test_drafts_waiting_for_an_agent_do_not_count(database, sessions) -> None:  # type: ignore[no-untyped-def]
    pipeline, new = _polled(sessions)
    for mention_id in pipeline.score(new):  # type: ignore[attr-defined]
        pipeline.draft(mention_id)  # type: ignore[attr-defined]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    ok, detail = health.pipeline(Settings(database_url=database), now=later)
    assert (ok, detail) == (True, "nothing waits for a worker")


@pytest.mark.parametrize(("minutes", "code"), [(60, 0), (0.0001, 1)])
def test_the_command_checks_it_only_when_asked(
    database, sessions, monkeypatch, minutes, code
) -> None:  # type: ignore[no-untyped-def]
    _polled(sessions)
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", database)
    monkeypatch.setenv("BRANDCARE_STALL_MINUTES", str(minutes))  # an hour, or 6 ms
    assert "pipeline" not in CliRunner().invoke(cli, ["health"]).output
    time.sleep(0.05)  # the polled mentions are now older than 6 ms, younger than an hour
    result = CliRunner().invoke(cli, ["health", "--pipeline"])
    assert "pipeline" in result.output
    assert ("BAD pipeline" in result.output) is bool(code)
    assert result.exit_code == code
