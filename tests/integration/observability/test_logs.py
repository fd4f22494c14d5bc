"""Structured logs: stage lines carry mention, draft and query ids; no secret ever leaves."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from brandcare.insights.notify import Channel, Notifier
from brandcare.ops import logs
from brandcare.ops.logs import JsonFormatter
from brandcare.store import transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.models import DraftRow
from listener.errors import AuthError
from tests.integration.observability.conftest import Flow, make_flow
from tests.servers import postgres_database, postgres_server_url, require_port


def _json(record: logging.LogRecord) -> dict[str, object]:
    found: dict[str, object] = json.loads(JsonFormatter().format(record))
    return found


def _approve_two(flow: Flow) -> list[int]:
    with transaction(flow.pipeline.sessions) as s:
        ids = sorted(s.scalars(select(DraftRow.id).where(DraftRow.state == "pending")))[:2]
        for draft_id in ids:
            transition_draft(s, draft_id, ["pending"], "approved", "ana")
    return ids


def test_stage_log_lines_carry_the_mention_and_draft_ids(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    p = flow.pipeline
    with caplog.at_level(logging.INFO, logger="brandcare.pipeline"):
        new_ids = p.poll(flow.query_id).new_ids
        to_draft = p.score(new_ids)
        created = p.draft_many(to_draft)
        approved = _approve_two(flow)
        for draft_id in approved:
            p.send(draft_id)
    lines = [_json(r) for r in caplog.records if r.name == "brandcare.pipeline"]

    def line(starts: str) -> list[dict[str, object]]:
        return [x for x in lines if str(x["msg"]).startswith(starts)]

    (polled,) = line("polled query")
    assert polled["mention_ids"] == new_ids
    assert polled["query_id"] == flow.query_id
    assert polled["platform"] == "scripted"
    assert polled["brand"] == flow.brand
    (scored,) = line("scored ")
    assert sorted(scored["mention_ids"]) == sorted(new_ids)  # type: ignore[type-var]
    (drafted,) = line("drafted ")
    assert drafted["mention_ids"] == list(created)
    assert drafted["draft_ids"] == list(created.values())
    assert len(drafted["skipped_ids"]) == 1  # type: ignore[arg-type]
    sends = line("draft ")
    assert [x["draft_id"] for x in sends] == approved
    by_draft = {draft: mention for mention, draft in created.items()}
    assert [x["mention_id"] for x in sends] == [by_draft[d] for d in approved]
    assert [x["outcome"] for x in sends] == ["sent", "failed"]
    assert [x["level"] for x in sends] == ["info", "warning"]
    assert sends[1]["reason_class"] == "deleted"
    assert all(x["platform"] == "scripted" for x in sends)


def test_a_paused_query_logs_its_id_and_platform(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow = make_flow(tmp_path)
    flow.source.poll_errors = {1: AuthError("token revoked", platform="scripted")}
    with caplog.at_level(logging.INFO, logger="brandcare.pipeline"):
        assert flow.pipeline.poll(flow.query_id).paused
    (paused,) = [_json(r) for r in caplog.records if "paused" in r.getMessage()]
    assert paused["level"] == "error"
    assert paused["query_id"] == flow.query_id
    assert paused["platform"] == "scripted"


SECRETS = {
    "X_BEARER_TOKEN": "xbearer-Secret-AAAA1111",
    "X_API_KEY": "xkey-Secret-BBBB2222",
    "X_API_SECRET": "xsecret-Secret-CCCC3333",
    "X_ACCESS_TOKEN": "xaccess-Secret-DDDD4444",
    "X_ACCESS_SECRET": "xaccsec-Secret-EEEE5555",
    "REDDIT_CLIENT_ID": "rid-Secret-FFFF6666",
    "REDDIT_CLIENT_SECRET": "rsecret-Secret-GGGG7777",
    "REDDIT_PASSWORD": "rpass-Secret-HHHH8888",
    "BRANDCARE_SMTP_PASSWORD": "smtp-Secret-IIII9999",
    "BRANDCARE_METRICS_TOKEN": "metrics-Secret-JJJJ0000",
    # A brand's own credentials profile (X_API_KEY__ACME...) is as secret.
    "X_ACCESS_SECRET__ACME": "acmeaccsec-Secret-NNNN1111",
    "REDDIT_PASSWORD__ACME": "acmepass-Secret-OOOO2222",
}
BROKER_PASSWORD = "brokerPw-Secret-KKKK"
HOOK_TOKEN = "hookToken-Secret-LLLL"
DB_PASSWORD = "dbPw-Secret-MMMM"


@contextmanager
def _database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'secrets.db'}"
        return
    require_port(postgres_server_url(), "PostgreSQL")
    with postgres_database("brandcare_logs") as url:
        # The test server trusts local connections: the password is carried, not checked.
        user_at = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
        yield url.replace(f"://{user_at}@", f"://{user_at}:{DB_PASSWORD}@", 1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_secret_reaches_the_logs(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    hook = f"json://127.0.0.1:9/hooks/{HOOK_TOKEN}"
    monkeypatch.setenv("BRANDCARE_ALERT_CHANNELS", json.dumps({"default": [{"url": hook}]}))
    with _database(backend, tmp_path) as database_url:
        from brandcare.store import migrate

        migrate.upgrade(database_url)
        broker_url = f"redis://:{BROKER_PASSWORD}@127.0.0.1:9/0"  # nothing listens there
        flow = make_flow(tmp_path, database_url=database_url, broker_url=broker_url)
        # make_flow's own settings, but with the environment's secrets: rebuild from it.
        settings = type(flow.settings)(database_url=database_url, broker_url=broker_url)
        out = io.StringIO()
        logs.setup(settings.model_copy(update={"log_level": "DEBUG", "log_format": "json"}),
                   stream=out)  # fmt: skip
        log = logging.getLogger("brandcare.test")

        p = flow.pipeline
        p.draft_many(p.score(p.poll(flow.query_id).new_ids))
        for draft_id in _approve_two(flow):
            p.send(draft_id)
        # The health endpoint logs why the broker failed.
        app = flow.app
        app.state.settings = settings
        assert TestClient(app, base_url="https://testserver").get("/healthz").status_code == 503
        # A channel that does not answer; apprise logs at debug what it tries.
        Notifier({"default": [Channel(url=hook)]}, attempts=1).send(
            "skyway", "critical", "Spike", "30 negative mentions"
        )
        # Careless lines a future change might write: URLs, the settings, an exception.
        log.warning("connecting to %s and %s", database_url, broker_url)
        log.info("settings: %r", settings)
        log.info("channels: %s", settings.alert_channels)
        try:
            raise ConnectionError(f"cannot reach {broker_url}")
        except ConnectionError:
            log.exception("broker down")
        log.info("token %s", extra={"token": SECRETS["X_BEARER_TOKEN"]})
        log.debug("acme's keys: %s", settings.credential_profiles["acme"].model_dump_json())
        log.info("posting as acme with %s", SECRETS["X_ACCESS_SECRET__ACME"])

    text = out.getvalue()
    for expected in ("polled query", "send sent", "health check broker failed", "broker down"):
        assert expected in text
    assert "***" in text
    leaked = [s for s in [*SECRETS.values(), BROKER_PASSWORD, HOOK_TOKEN, DB_PASSWORD] if s in text]
    assert leaked == [], [line for line in text.splitlines() if any(s in line for s in leaked)]
    for line in text.splitlines():
        json.loads(line)  # still one JSON object per line after redaction


def test_redaction_masks_url_passwords_in_any_text() -> None:
    assert logs.redact("amqp://guest:guest@rabbit:5672/") == "amqp://guest:***@rabbit:5672/"
    assert (
        logs.redact("postgresql+psycopg://care:p%40ss@db/brandcare")
        == "postgresql+psycopg://care:***@db/brandcare"
    )
    assert logs.redact("redis://:pw@redis:6379/0 and more") == "redis://:***@redis:6379/0 and more"
    assert logs.redact("no url here: a@b c:d") == "no url here: a@b c:d"
