"""`brandcare bench score-api` at a tiny size: it runs end to end and prints its fields.

Run as a user runs it (a process that starts its own `brandcare serve` and `brandcare
score` processes), with the committed model; the numbers are not checked, only that
every one is there and the table names each measurement.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from brandcare.bench.score_api import Latency, ScoreApiResult, report
from tests.conftest import REPO

pytestmark = pytest.mark.model


def test_bench_score_api_prints_every_field() -> None:
    command = [
        sys.executable, "-m", "brandcare.cli", "bench", "score-api",
        "--texts", "6", "--batch", "3", "--requests", "2", "--json",
    ]  # fmt: skip
    done = subprocess.run(
        command, check=False, cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout)
    assert (found["texts"], found["batch"]) == (6, 3)
    assert len(found["api_rates"]) == 2
    assert [(x["texts"], x["requests"]) for x in found["latency"]] == [(1, 2), (3, 2)]
    for key in (
        "api_first_request_s", "cli_seconds", "cli_one_text_s", "cli_batch_s",
        "api_texts_per_s", "cli_texts_per_s", "load_before", "load_after",
        "server_idle_mib", "server_scoring_mib",
    ):  # fmt: skip
        assert isinstance(found[key], float), key
        assert found[key] >= 0, key
    for lat in found["latency"]:
        assert 0 < lat["p50"] <= lat["p95"]

    fields = {k: v for k, v in found.items() if k in ScoreApiResult.__dataclass_fields__}
    fields["latency"] = [Latency(**x) for x in found["latency"]]
    table = report(ScoreApiResult(**fields))
    for label in (
        "POST /api/v1/score, batches of 3",
        "`brandcare score`, one process, all 6 texts",
        "service / command:",
        "POST /api/v1/score, 1 text |",
        "POST /api/v1/score, 3 texts |",
        "`brandcare score`, 1 text (a fresh process)",
        "the service's first request (loads the model)",
        "load average",
        "MiB before its first scoring request",
    ):
        assert label in table, label
