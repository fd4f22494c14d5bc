"""``brandcare bench startup``: how long ``brandcare score`` takes to answer one text, cold.

Three kinds of fresh process, alternated ``runs`` times so that a machine whose speed
drifts treats them alike:

- **bare**: import torch and transformers and load the bare base encoder (the floor any
  scorer built on it pays), timed from the process's start to its "ready" line;
- **score**: ``brandcare score`` with one JSON line on standard input, timed from the
  process's start to its first output line;
- **phases** (one process per run): ``score``'s steps one by one (the bare encoder
  loaded first, so the scorer's load shows what it adds), so the table says where the
  time goes.

Prints the medians and the ratio score / bare (the issue's target: 1.25 or less).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_BARE = """
import time, sys
start = time.perf_counter()
import torch, transformers
from sentiment.encoder import load_base_encoder
load_base_encoder()
print("ready", flush=True)
"""

#: ``brandcare score``'s steps on one text, timed in one process; then, for reference,
#: what it no longer does for short inputs (tracing the encoder, from 1,000 texts).
_PHASES = """
import json, time
marks = {}
last = time.perf_counter()
def mark(name):
    global last
    now = time.perf_counter()
    marks[name] = now - last
    last = now
from brandcare.cli._app import load_scorer, load_settings
settings = load_settings()
mark("import brandcare.cli, read settings")
import torch
mark("import torch")
import transformers
mark("import transformers")
from sentiment import encoder
encoder.load_base_encoder()
mark("load the bare base encoder (as bare does)")
scorer = load_scorer(settings, trace=False)
mark("load the scorer: artifacts, int8, heads (no trace)")
scorer.score(["@SkywayAir my bag never arrived, 3 days now"])
mark("score one text")
from sentiment.traced import traced_embed
traced_embed(scorer.network, torch.device("cpu"))
mark("(not in score under 1,000 texts) trace + check the encoder")
print(json.dumps(marks), flush=True)
"""


def _first_line(args: list[str], stdin: str | None, env: dict[str, str]) -> float:
    """Seconds from spawning ``args`` to its first line on standard output."""
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and console script)
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdout.read()
    if proc.wait() != 0 or not line:
        raise RuntimeError(f"{' '.join(args[:3])} failed (exit {proc.returncode})")
    return elapsed


def _score_command() -> list[str]:
    script = Path(sys.executable).parent / "brandcare"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "brandcare.cli"]


def run_startup_benchmark(runs: int = 3) -> str:
    """The table: medians of ``runs`` cold starts of each kind, and where the time goes."""
    env = dict(os.environ, BRANDCARE_LOG_LEVEL="WARNING")
    one = json.dumps({"id": 1, "text": "@SkywayAir my bag never arrived, 3 days now"}) + "\n"
    bare: list[float] = []
    score: list[float] = []
    phases: list[dict[str, float]] = []
    for _ in range(runs):
        bare.append(_first_line([sys.executable, "-c", _BARE], None, env))
        score.append(_first_line([*_score_command(), "score"], one, env))
        out = subprocess.run(  # noqa: S603
            [sys.executable, "-c", _PHASES],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        phases.append(json.loads(out.stdout.strip().splitlines()[-1]))
    b, s = statistics.median(bare), statistics.median(score)
    lines = [
        f"cold start, median of {runs} fresh processes each "
        f"({os.cpu_count()} CPUs, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')})",
        "",
        "| process | seconds (each run) | median |",
        "|---|---|---|",
        f"| bare: import torch + transformers, load the base encoder | "
        f"{', '.join(f'{x:.2f}' for x in bare)} | {b:.2f} |",
        f"| `brandcare score`, one text: start to first output line | "
        f"{', '.join(f'{x:.2f}' for x in score)} | {s:.2f} |",
        "",
        f"score / bare: {s / b:.2f} (target 1.25)",
        "",
        "where `brandcare score`'s time goes (one process per run, medians):",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    for name in phases[0]:
        lines.append(f"| {name} | {statistics.median(p.get(name, 0.0) for p in phases):.2f} |")
    return "\n".join(lines)
