"""``brandcare draft`` end to end, as processes: import a history, then draft through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

KEYS = {"id", "draft", "based_on", "skip_reason"}
PAST = {
    "agentURL": {
        "tweet_ID": "900",
        "url_utterance": "@kim_t Hi Kim, we're sorry your bag is lost. Please file a report "
        "at https://skyway.example/bags and we'll trace it for you.",
    },
    "dialogContent": [
        {
            "client": "kim_t",
            "datetime": "2026-05-03T10:00:00.000Z",
            "message": "@SkywayAir my suitcase never arrived in Denver, it is lost. Help!",
            "tweet_ID": "899",
        }
    ],
    "dialogHeader": {"company": "SkywayAir", "conversationDateTime": "2026-05-03T10:00:00.000Z"},
}


def brandcare(
    db: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "BRANDCARE_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "brandcare.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        cwd=REPO,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("draft")
    history = folder / "history.jsonl"
    history.write_text(json.dumps(PAST) + "\n")
    result = brandcare(folder / "b.db", "import", "conversations", str(history), "--create-brands")
    assert result.returncode == 0, result.stderr.decode()
    assert b"1 replies remembered" in result.stdout
    return folder / "b.db"


LINES = [
    {"id": 1, "text": "@SkywayAir my suitcase never arrived in Denver, it is lost!!",
     "brand": "SkywayAir", "author": "sam_f", "platform": "twitter"},
    {"id": "two", "text": "@SkywayAir how do I add my loyalty number to a booking I made?",
     "brand": "SkywayAir", "author": "lee", "platform": "twitter"},
    {"id": 3, "text": "@SkywayAir you are a bunch of clowns and idiots, go die in a fire",
     "brand": "SkywayAir", "author": "troll99"},
]  # fmt: skip


def drafts(db: Path, *args: str) -> list[dict[str, object]]:
    stdin = "".join(json.dumps(line) + "\n" for line in LINES).encode()
    result = brandcare(db, "draft", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_draft_adapts_a_remembered_reply_falls_back_and_skips_trolls(db: Path) -> None:
    near, unrelated, troll = drafts(db)
    assert all(set(r) == KEYS for r in (near, unrelated, troll))
    assert [r["id"] for r in (near, unrelated, troll)] == [1, "two", 3]
    assert isinstance(near["based_on"], dict)
    assert near["based_on"]["author"] == "kim_t"
    # The encoder trained on the care decisions puts these two lost-bag posts at 0.82
    # (the tweet-only encoder: above 0.9); reply memory adapts above its own threshold.
    assert near["based_on"]["similarity"] > 0.8
    assert str(near["draft"]).startswith("@sam_f Hi there, we're sorry your bag is lost.")
    assert "kim" not in str(near["draft"]).lower()
    assert unrelated["based_on"] is None
    assert unrelated["draft"]
    assert troll["draft"] is None
    assert "trolling" in str(troll["skip_reason"])


def test_templates_only_never_adapts(db: Path) -> None:
    assert all(r["based_on"] is None for r in drafts(db, "--templates-only"))


def test_a_malformed_line_exits_2_naming_it_and_drafts_nothing(db: Path) -> None:
    result = brandcare(db, "draft", stdin=b'{"id": 1, "text": "hi", "brand": "x"}\n{"id": 2}\n')
    assert result.returncode == 2
    assert result.stdout == b""
    assert "line 2" in result.stderr.decode()


def test_without_a_database_it_drafts_from_templates_says_so_and_creates_none(
    tmp_path: Path,
) -> None:
    stdin = "".join(json.dumps(line) + "\n" for line in LINES[:2]).encode()
    result = brandcare(tmp_path / "none.db", "draft", stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    assert not (tmp_path / "none.db").exists()
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["based_on"] for r in records] == [None, None]
    assert all(r["draft"] for r in records)
    notes = [line for line in result.stderr.decode().splitlines() if "brandcare:" in line]
    assert len(notes) == 1
    assert "no database at" in notes[0]
    assert "Traceback" not in result.stderr.decode()


def test_an_unknown_brand_is_said_and_drafted_in_a_plain_voice(db: Path) -> None:
    line = {**LINES[1], "brand": "NoSuchAir"}
    result = brandcare(db, "draft", stdin=(json.dumps(line) + "\n").encode())
    assert result.returncode == 0, result.stderr.decode()
    assert "no brand 'NoSuchAir'" in result.stderr.decode()
    (record,) = [json.loads(x) for x in result.stdout.decode().splitlines()]
    assert record["draft"]
