"""The inbox's commands: the demo login, and `serve` on a database it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from brandcare.cli import app as cli
from brandcare.cli.demo import demo_login
from tests.integration.web.conftest import Site


def test_the_demo_login_signs_in_and_changes_every_run(site: Site) -> None:
    first = demo_login(site.settings)
    second = demo_login(site.settings)
    assert first[0] == second[0] == "demo"
    assert first[1] != second[1]
    site.login("demo", second[1])
    with pytest.raises(AssertionError):
        site.login("demo", first[1])  # the old password no longer works


def test_serve_refuses_a_database_that_is_not_migrated(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 5  # Code.SCHEMA
    assert "create it with `brandcare migrate`" in result.output
    assert not (tmp_path / "empty.db").exists()  # serving never creates the database
