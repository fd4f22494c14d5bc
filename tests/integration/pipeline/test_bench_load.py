"""`brandcare bench load` at a tiny size, flood and steady rate: count checks, result files.

Runs the command as a user does (a process: it starts its own scheduler and worker),
on PostgreSQL + Redis, and reads the JSON it writes. A Redis server of its own (each
run empties its broker's database): another checkout running the same test at the same
time, or a flow test emptying the tests' database, cannot drop or take its messages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.deployment import RedisServer
from tests.servers import postgres_server_url, require_port

N = 200


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    """A Redis server for this test alone, killed at the end."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_bench_load_counts_every_mention_once_and_sends_one_reply_per_approval(
    tmp_path: Path, broker_url: str
) -> None:
    require_port(postgres_server_url(), "PostgreSQL")
    out = tmp_path / "load.json"
    command = [
        sys.executable, "-m", "brandcare.cli", "bench", "load",
        "--mentions", str(N), "--workers", "1", "--approve-share", "0.5",
        "--database-url", postgres_server_url(), "--broker-url", broker_url,
        "--timeout", "120", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS") == 6
    assert "FAIL" not in done.stdout

    result = json.loads(out.read_text())
    assert result["passed"] is True
    assert (result["mentions"], result["workers"], result["approve_share"]) == (N, [1], 0.5)
    (run,) = result["runs"]
    assert run["workers"] == 1
    assert run["passed"] is True
    assert all(check["passed"] for check in run["checks"])

    counts = run["counts"]
    assert counts["stored"] == counts["scored"] == counts["score_rows"] == N
    assert counts["drafted"] + counts["skipped"] + counts["ignored"] == N
    assert counts["drafts"] == counts["drafted"] + counts["skipped"]
    # Every second pending draft was approved (or refused by review, e.g. no text) ...
    assert run["pending_drafts_seen"] == counts["drafted"]
    assert run["approvals"] + run["approvals_refused"] == counts["drafted"] // 2
    assert run["approvals"] > 0
    # ... and each approval sent exactly one reply through the replay source, as the
    # platform itself counts them (its posts file, which every worker process writes).
    assert counts["replies_posted"] == counts["drafts_sent"] == run["approvals"]
    assert counts["platform_posts"] == counts["replies_posted"]
    assert counts["mentions_posted_twice"] == 0

    assert run["mentions_per_s"] > 0
    assert run["scaling"] == 1.0
    assert 0 < run["latency_s"]["p50"] <= run["latency_s"]["p95"]
    assert set(run["queue_lag"]) == {
        "oldest_unscored_s",
        "oldest_undrafted_s",
        "waiting_poll",
        "waiting_score",
        "waiting_draft",
        "waiting_send",
    }
    assert all(set(spread) == {"max", "p95"} for spread in run["queue_lag"].values())
    assert run["queue_lag"]["waiting_poll"]["max"] <= N
    (worker,) = run["processes"]["workers"]
    # Dramatiq's supervisor and its worker process; the worker holds the model.
    assert worker["processes"] >= 2
    assert worker["largest_mib"] > 200
    assert worker["tree_mib"] >= worker["largest_mib"]
    assert worker["cpu_s"] > 0
    assert set(run["cpu"]) == {"machine_busy", "postgres_s", "bench_s"}
    assert 0 < run["cpu"]["machine_busy"] <= 1
    assert run["log_errors"] == 0


def test_bench_load_steady_mode_reports_every_phase_and_counts_every_mention_once(
    tmp_path: Path, broker_url: str
) -> None:
    require_port(postgres_server_url(), "PostgreSQL")
    out = tmp_path / "steady.json"
    command = [
        sys.executable, "-m", "brandcare.cli", "bench", "load",
        "--rate", "3", "--duration", "6", "--spike-factor", "2", "--spike-seconds", "4",
        "--recovery-max", "30", "--workers", "1", "--approve-share", "0.5",
        "--database-url", postgres_server_url(), "--broker-url", broker_url,
        "--timeout", "240", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command, check=False, cwd=REPO, capture_output=True, text=True, timeout=480
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS") == 6
    assert "FAIL" not in done.stdout
    for words in ("posted -> draft", "poll wait", "fetch -> draft", "recovery:", "first pass"):
        assert words in done.stdout

    result = json.loads(out.read_text())
    assert (result["mode"], result["rates"], result["workers"]) == ("steady", [3.0], [1])
    assert result["passed"] is True
    (run,) = result["runs"]
    assert all(check["passed"] for check in run["checks"])
    counts = run["counts"]
    released = run["checks"][0]["values"][0]  # mentions in: what the releaser posted
    assert released > 0
    assert counts["stored"] == counts["scored"] == counts["score_rows"] == released
    assert counts["replies_posted"] == counts["drafts_sent"] == run["approvals"]
    assert counts["platform_posts"] == counts["replies_posted"]

    (rate,) = run["rates"]
    assert [p["name"] for p in rate["phases"]] == ["steady", "spike", "recovery"]
    assert sum(p["released"] for p in rate["phases"]) == released
    for phase in rate["phases"]:
        for measure in ("total", "poll_wait", "pipeline", "seen_lag"):
            assert set(phase[measure]) == {"n", "p50", "p95", "p99", "max"}
        q = phase["pipeline"]
        assert q["n"] == 0 or q["p50"] <= q["p95"] <= q["p99"] <= q["max"]
    # The steady phase's mentions the spike cannot have overtaken, apart.
    assert set(rate["phases"][0]["settled"]) == {"n", "p50", "p95", "p99", "max"}
    assert rate["phases"][1]["settled"] is None
    assert set(rate["cpu_ms"]) == {"worker_steady", "worker_all", "postgres_steady", "postgres_all"}
    assert rate["cpu_ms"]["worker_all"] > 0
    urgency = rate["urgency"]
    assert urgency["marked_high"] <= min(urgency["marked"], urgency["high"])
    assert [t["phase"] for t in run["timeline"]] == ["r3-steady", "r3-spike", "r3-recovery"]
    assert run["backlog"]
    assert set(run["backlog"][0]) == {
        "t", "phase", "poll", "score", "draft", "send", "oldest_unscored_s",
        "oldest_undrafted_s",
    }  # fmt: skip
    assert run["kill"] is None
    assert (tmp_path / "steady.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
