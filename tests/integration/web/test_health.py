"""Health: the command and /healthz say what is wrong, without secrets."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from brandcare.cli import app as cli
from brandcare.config import Settings
from brandcare.ops import health
from brandcare.web import create_app
from tests.integration.web.conftest import Site
from tests.servers import RABBITMQ_URL, REDIS_URL, require_port


def test_healthz_is_public_and_says_ok_with_timings(site: Site) -> None:
    r = site.client().get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "broker", "model"}


def test_a_dead_broker_makes_healthz_503_without_naming_the_url(site: Site) -> None:
    dead = site.settings.model_copy(update={"broker_url": "redis://:s3cret@127.0.0.1:9/0"})
    r = TestClient(create_app(dead, send=[].append)).get("/healthz")
    assert r.status_code == 503
    assert r.json()["checks"]["broker"]["ok"] is False
    assert "s3cret" not in r.text
    assert "127.0.0.1" not in r.text


def test_the_command_checks_schema_and_real_brokers(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    result = CliRunner().invoke(cli, ["health"])
    assert result.exit_code == 1
    assert "create it with `brandcare migrate`" in result.output
    assert not (tmp_path / "new.db").exists()  # a check never creates the database
    require_port(REDIS_URL, "Redis")
    require_port(RABBITMQ_URL, "RabbitMQ")
    for url in (REDIS_URL, RABBITMQ_URL):
        [broker] = [c for c in health.run(Settings(broker_url=url)) if c.name == "broker"]
        assert broker.ok, broker.detail
        assert "guest:guest" not in broker.detail


def test_the_command_prints_no_credentials_profile_secret(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secrets = {
        "X_BEARER_TOKEN__ACME": "acme-bearer-Secret-1111",
        "X_ACCESS_SECRET__ACME": "acme-access-Secret-2222",
        "REDDIT_PASSWORD__ACME": "acme-password-Secret-3333",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("BRANDCARE_LOG_LEVEL", "DEBUG")
    result = CliRunner().invoke(cli, ["health"])
    assert "database" in result.output
    assert [v for v in secrets.values() if v in result.output] == []
