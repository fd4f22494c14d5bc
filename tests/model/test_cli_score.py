"""``brandcare score`` end to end, as a process: the JSON Lines contract and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.contract import ADDED_KEYS, SCORE_KEYS

SAMPLE = REPO / "brandcare" / "samples" / "mentions.jsonl"
KEYS = SCORE_KEYS | ADDED_KEYS


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "brandcare.cli", "score", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )


def test_scores_the_sample_file_one_line_per_mention():
    result = run(str(SAMPLE))
    assert result.returncode == 0, result.stderr.decode()
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    ids = [json.loads(line)["id"] for line in SAMPLE.read_text().splitlines() if line.strip()]
    assert [o["id"] for o in out] == ids
    for record in out:
        assert set(record) == KEYS
        assert record["urgency_level"] in {"low", "medium", "high"}
        assert isinstance(record["reasons"], list)
    by_id = {o["id"]: o for o in out}
    assert by_id["s6"]["troll"] is True  # "bunch of clowns and idiots, go die in a fire"
    assert by_id["s1"]["urgency_level"] == "high"  # flight in 2 hours, cancelled
    assert "reach: 48k followers" in by_id["s4"]["reasons"]


def test_reads_standard_input_when_no_file_is_given():
    result = run(stdin=b'{"id": 1, "text": "@SkywayAir thanks, great crew today!"}\n')
    assert result.returncode == 0, result.stderr.decode()
    (record,) = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert record["id"] == 1
    assert record["sentiment"] == "positive"


def test_malformed_line_exits_2_naming_the_line_and_prints_nothing():
    lines = b'{"id": 1, "text": "ok"}\n{"id": 2, "text": \n{"id": 3}\n'
    result = run(stdin=lines)
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode()
    assert "line 2: not valid JSON" in err
    assert "line 3: 'text' field required" in err


def test_missing_file_and_non_utf8_input_exit_2(tmp_path: Path):
    assert run(str(tmp_path / "nope.jsonl")).returncode == 2
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"id": 1, "text": "caf\xe9"}\n'.encode("latin-1"))
    result = run(str(bad))
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr.decode()


def test_odd_but_valid_texts_all_score(tmp_path: Path):
    texts = ["", "   ", "x" * 100_000, "😡✈️", "שלום @SkywayAir", "<b onerror=x>hi</b>", "a\u0000b"]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    result = run(str(path))
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.decode().splitlines()) == len(texts)
