"""Every subcommand, driven into each condition a user can cause that it can reach.

Missing, empty or old database, a wrong database URL, a database or broker that does
not answer, a busy port, a missing model or dataset folder, an unknown brand, draft or
user, bad flags and bad settings: each ends with one line on standard error (naming
what is wrong and what fixes it), the condition's own exit code, and no traceback. A
command that only reads never leaves a database behind.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from brandcare.cli import app as cli
from brandcare.cli._errors import Code
from brandcare.pipeline import runtime
from brandcare.pipeline.queue import setup_broker
from brandcare.store import migrate

#: A log line (``logs.configure``'s text format); everything else on stderr is a message.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
#: Nothing listens on port 1.
DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/test"
DEAD_REDIS = "redis://127.0.0.1:1/0"

#: Every command that reads or writes an existing database, with arguments that would
#: otherwise be valid. ``health`` reports instead of failing (its own test below).
DATABASE_COMMANDS: list[list[str]] = [
    ["setup", "BRANDS"],
    ["run"],
    ["queue"],
    ["approve", "1"],
    ["reject", "1", "--reason", "dup"],
    ["requeue", "1"],
    ["unskip", "1", "--reason", "real"],
    ["serve", "--port", "0"],
    ["rescore"],
    ["digest", "--brand", "skyway"],
    ["users", "token", "ana"],
    ["users", "disable", "ana"],
    ["users", "list"],
    ["feedback", "export"],
    ["alerts", "check"],
    ["alerts", "list"],
]

#: Every leaf command, for bad flags.
ALL_COMMANDS: list[list[str]] = [
    ["migrate"],
    ["setup"],
    ["demo"],
    ["run"],
    ["worker"],
    ["queue"],
    ["approve"],
    ["reject"],
    ["requeue"],
    ["unskip"],
    ["serve"],
    ["score"],
    ["train"],
    ["evaluate"],
    ["rescore"],
    ["draft"],
    ["health"],
    ["digest"],
    ["bench", "score"],
    ["bench", "startup"],
    ["bench", "score-api"],
    ["bench", "feedback"],
    ["bench", "alerts"],
    ["bench", "digest"],
    ["bench", "pipeline"],
    ["bench", "load"],
    ["bench", "drafts"],
    ["users", "add"],
    ["users", "token"],
    ["users", "disable"],
    ["users", "list"],
    ["feedback", "export"],
    ["alerts", "check"],
    ["alerts", "list"],
    ["import", "conversations"],
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder, the default settings, no process pipeline or broker."""
    monkeypatch.chdir(tmp_path)
    for name in ("BRANDCARE_DATABASE_URL", "BRANDCARE_BROKER_URL", "BRANDCARE_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "BRANDS").write_text('{"brands": []}')
    monkeypatch.setattr(runtime, "_state", {})
    yield tmp_path
    setup_broker(None)  # a test that set a dead broker leaves the in-process one behind


def invoke(args: list[str], input: str | None = None, **env: str) -> Result:
    return CliRunner().invoke(cli, args, input=input, env=env or None)


def said(result: Result, code: int, *words: str) -> str:
    """Assert one line on stderr (log lines aside), ``code``, no traceback; return the line."""
    where = f"exit {result.exit_code}: {result.output!r}"
    assert result.exit_code == code, where
    assert result.exception is None or isinstance(result.exception, SystemExit), where
    assert "Traceback" not in result.output, where
    lines = [line for line in result.stderr.splitlines() if line and not LOG_LINE.match(line)]
    assert len(lines) == 1, where
    assert lines[0].startswith("brandcare: "), where
    for word in words:
        assert word in lines[0], where
    return lines[0]


def files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_no_database_is_said_and_never_created(folder: Path, args: list[str]) -> None:
    before = files(folder)
    said(invoke(args), Code.SCHEMA, "no database at brandcare.db", "`brandcare migrate`")
    assert files(folder) == before


def test_the_hint_points_at_the_demo_database_when_it_is_there(folder: Path) -> None:
    migrate.upgrade("sqlite:///brandcare-demo.db")
    line = said(invoke(["queue"]), Code.SCHEMA, "no database at brandcare.db")
    assert "BRANDCARE_DATABASE_URL=sqlite:///brandcare-demo.db" in line
    url = {"BRANDCARE_DATABASE_URL": "sqlite:///brandcare-demo.db"}
    assert invoke(["queue"], **url).exit_code == 0


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_a_database_without_the_schema_says_migrate(folder: Path, args: list[str]) -> None:
    (folder / "brandcare.db").write_bytes(b"")
    said(invoke(args), Code.SCHEMA, "no brandcare schema", "`brandcare migrate`")


@pytest.mark.parametrize("args", [["queue"], ["approve", "1"], ["users", "list"]], ids=" ".join)
def test_an_old_schema_says_migrate(folder: Path, args: list[str]) -> None:
    migrate.upgrade("sqlite:///brandcare.db", "0001")
    said(invoke(args), Code.SCHEMA, "revision 0001", "`brandcare migrate`")


def test_migrate_refuses_a_database_a_newer_brandcare_made(folder: Path) -> None:
    import sqlite3

    migrate.upgrade("sqlite:///brandcare.db")
    with sqlite3.connect(folder / "brandcare.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_future'")
    said(invoke(["queue"]), Code.SCHEMA, "9999_future", "does not know")
    said(invoke(["migrate"]), Code.SCHEMA, "9999_future")


@pytest.mark.parametrize("args", [["migrate"], *DATABASE_COMMANDS], ids=" ".join)
def test_a_wrong_database_url_is_a_setting(folder: Path, args: list[str]) -> None:
    said(invoke(args, BRANDCARE_DATABASE_URL="not a url"), Code.SETTINGS,
         "BRANDCARE_DATABASE_URL")  # fmt: skip


@pytest.mark.parametrize(
    "args", [["migrate"], ["queue"], ["approve", "1"], ["users", "add", "ana"]], ids=" ".join
)
def test_a_database_that_does_not_answer(folder: Path, args: list[str]) -> None:
    said(
        invoke(args, BRANDCARE_DATABASE_URL=DEAD_POSTGRES, BRANDCARE_NEW_PASSWORD="x" * 12),
        Code.DATABASE,
        "cannot reach the database",
        "BRANDCARE_DATABASE_URL",
    )


def test_a_worker_whose_broker_does_not_answer(folder: Path) -> None:
    migrate.upgrade("sqlite:///brandcare.db")
    said(invoke(["worker"], BRANDCARE_BROKER_URL=DEAD_REDIS), Code.BROKER,
         "cannot reach the broker", "BRANDCARE_BROKER_URL")  # fmt: skip
    said(invoke(["worker"], BRANDCARE_BROKER_URL="kafka://x"), Code.SETTINGS, "unsupported")
    said(invoke(["worker"]), Code.SETTINGS, "BRANDCARE_BROKER_URL")


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_busy_port_is_said_before_anything_else(folder: Path, taken: int) -> None:
    migrate.upgrade("sqlite:///brandcare.db")
    line = said(invoke(["serve", "--port", str(taken)]), Code.PORT, f"port {taken}", "--port")
    assert "is free" in line
    # The demo says it before replaying anything (no database made, no login printed).
    demo = invoke(["demo", "--port", str(taken)])
    said(demo, Code.PORT, f"port {taken}")
    assert "login" not in demo.output
    assert not (folder / "brandcare-demo.db").exists()
    said(invoke(["run", "--metrics-port", str(taken)], BRANDCARE_METRICS_TOKEN="t" * 32),
         Code.PORT, "--metrics-port")  # fmt: skip


@pytest.fixture
def drafted(folder: Path) -> int:
    """brandcare.db with one brand and a pending draft; its id."""
    from sqlalchemy import select

    from brandcare.store import transaction
    from brandcare.store.models import DraftRow
    from listener.base import Page
    from listener.fake import ScriptedSource, make_mention
    from tests.integration.pipeline.conftest import drafted_pipeline

    url = "sqlite:///brandcare.db"
    migrate.upgrade(url)
    mention = make_mention("m1", "@SkywayAir my bag is lost, please help")
    source = ScriptedSource(pages=[Page([mention], cursor="1")])
    pipeline = drafted_pipeline(url, source)
    with transaction(pipeline.sessions) as s:
        return int(s.scalars(select(DraftRow.id).where(DraftRow.state == "pending")).one())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["queue", "--brand", "nope"], ["no brand 'nope'", "skyway"]),
        (["approve", "999"], ["no draft 999"]),
        (["reject", "999", "--reason", "dup"], ["no draft 999"]),
        (["requeue", "999"], ["no draft 999"]),
        (["unskip", "999", "--reason", "real"], ["no draft 999"]),
        (["rescore", "--brand", "nope"], ["no brand 'nope'"]),
        (["digest", "--brand", "nope"], ["no brand 'nope'"]),
        (["users", "token", "nobody"], ["nobody"]),
        (["users", "disable", "nobody"], ["nobody"]),
    ],
    ids=lambda v: " ".join(v) if v and v[0][0].isalpha() and " " not in v[0] else "",
)
def test_unknown_brands_drafts_and_users(drafted: int, args: list[str], words: list[str]) -> None:
    said(invoke(args), Code.NOT_FOUND, *words)


def test_an_approval_whose_send_cannot_be_queued_says_so_and_succeeds(drafted: int) -> None:
    result = invoke(["approve", str(drafted), "--by", "ana"], BRANDCARE_BROKER_URL=DEAD_REDIS)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, result.output
    assert f"draft {drafted} approved by ana" in lines[0]
    assert "the send is queued when it is back" in lines[0]
    again = invoke(["approve", str(drafted), "--by", "ana"])
    said(again, Code.FAILED, "approved")


@pytest.mark.parametrize("args", ALL_COMMANDS, ids=" ".join)
def test_bad_flags(folder: Path, args: list[str]) -> None:
    said(invoke([*args, "--no-such-flag"]), Code.USAGE, "--no-such-flag", "--help")


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "--limit", "many"],
        ["score", "--batch", "0"],
        ["rescore", "--batch", "0"],
        ["reject", "1"],
        ["approve", "one"],
        ["digest", "--brand", "skyway", "--period", "month"],
        ["digest", "--brand", "skyway", "--format", "pdf"],
        ["bench", "load", "--workers", "two"],
        ["bench", "digest", "--sizes", "0"],
        ["bench", "score-api", "--batch", "257"],
        ["users", "token", "ana", "--scope", "admin"],
        ["serve", "--port", "99999"],
        ["demo", "--port", "-1"],
        ["nonsense"],
    ],
    ids=" ".join,
)
def test_bad_values_and_missing_arguments(folder: Path, args: list[str]) -> None:
    said(invoke(args), Code.USAGE)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["setup", "missing.json"], Code.USAGE),
        (["import", "conversations", "missing.jsonl"], Code.USAGE),
        (["score", "missing.jsonl"], Code.USAGE),
        (["draft", "missing.jsonl"], Code.USAGE),
        (["feedback", "export", "--out", "no/such/folder/x.jsonl"], Code.USAGE),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_missing_files(folder: Path, args: list[str], code: int) -> None:
    if args[0] == "feedback":
        migrate.upgrade("sqlite:///brandcare.db")
    said(invoke(args), code)


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--shared", "nowhere"],
        ["evaluate", "--shared", "nowhere"],
        ["bench", "score", "--shared", "nowhere"],
        ["bench", "feedback", "--shared", "nowhere"],
        ["bench", "drafts", "--shared", "nowhere"],
    ],
    ids=" ".join,
)
def test_a_shared_folder_without_datasets(folder: Path, args: list[str]) -> None:
    said(invoke(args), Code.DATA, "datasets/")


def test_malformed_input_is_named_in_plain_words(folder: Path) -> None:
    # The contract names every bad line on a line of its own, after one summary line.
    result = invoke(["score"], input='{"id": 1, "text": "a\tb"}\n')
    assert result.exit_code == Code.USAGE
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert "line 1: not valid JSON (Invalid control character at column" in result.stderr


def test_a_bad_setting_names_the_variable(folder: Path) -> None:
    said(invoke(["queue"], BRANDCARE_SCORE_BATCH_SIZE="0"), Code.SETTINGS,
         "BRANDCARE_SCORE_BATCH_SIZE")  # fmt: skip
    said(invoke(["health"], BRANDCARE_LOG_FORMAT="xml"), Code.SETTINGS, "BRANDCARE_LOG_FORMAT")


def test_health_reports_a_missing_database_without_creating_it(folder: Path) -> None:
    result = invoke(["health"])
    assert result.exit_code == Code.FAILED
    assert "no database at brandcare.db" in result.output
    assert "Traceback" not in result.output
    assert not (folder / "brandcare.db").exists()


@pytest.mark.model
def test_a_missing_model(folder: Path) -> None:
    said(invoke(["score"], BRANDCARE_MODEL_DIR=str(folder / "nowhere")), Code.MODEL, "nowhere")


def test_help_has_no_type_noise_and_lists_the_exit_codes() -> None:
    top = invoke(["--help"])
    assert top.exit_code == 0
    assert "<bool>" not in top.output
    assert "Exit codes:" in top.output
    for args in ALL_COMMANDS:
        text = invoke([*args, "--help"]).output
        assert "<bool>" not in text, args
        assert "DESIGN.md" not in text, args
