"""``brandcare bench score-api``: scoring as a service against ``brandcare score``.

The same texts (the demo's, cycled to ``texts`` with unique ids), in the same run, two
ways an integrator scores them:

- **the service**: a real ``brandcare serve`` process on a free port over a throwaway
  SQLite store, a scoring-only token, ``POST /api/v1/score`` in batches of ``batch``
  from one keep-alive client. Its first request loads the model (timed on its own);
  throughput is measured warm, once before and once after the command-line runs, so a
  machine whose speed drifts shows it. Then ``requests`` requests of 1 text and of
  ``batch`` texts each give the latency percentiles.
  Its resident memory is read before the first scoring request and after the
  throughput runs: what a worker that scores holds beyond one that does not.
- **the command**: ``brandcare score`` with all the texts on standard input, start-up
  included (that is what each call costs), and, for the latency table, one call of 1
  text and one of ``batch`` texts.

Both score with the production settings (int8; the command traces the encoder from
1,000 texts, the service always). The machine's load average is printed beside the
numbers: on a shared machine they move with it.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from brandcare.agents import users
from brandcare.bench.servers import spawn_cli, stop_group
from brandcare.brands.sources import sample_dir
from brandcare.store import make_engine, migrate, session_factory, transaction

#: Seconds the server may take to answer /healthz once started.
START_TIMEOUT = 180.0
#: Seconds one scoring request may take: the first loads the model, which takes minutes
#: on a machine busy with other work.
REQUEST_TIMEOUT = 600.0
#: The benchmark's user, who holds the scoring-only token.
BENCH_USER = "bench-scorer"


class ScoreApiBenchError(RuntimeError):
    """The benchmark could not run; the message says what to check."""


class ModelMissingError(ScoreApiBenchError):
    """The server answered that it cannot load the model (503)."""


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds per request of one size: median, 95th percentile, how many requests."""

    texts: int
    requests: int
    p50: float
    p95: float


@dataclass(frozen=True, slots=True)
class ScoreApiResult:
    texts: int
    batch: int
    cpus: int
    load_before: float
    load_after: float
    server_idle_mib: float
    server_scoring_mib: float
    api_first_request_s: float
    api_rates: list[float]
    cli_seconds: float
    cli_one_text_s: float
    cli_batch_s: float
    latency: list[Latency]

    @property
    def api_rate(self) -> float:
        """Texts/s of the service: the mean of its runs before and after the command's."""
        return statistics.fmean(self.api_rates)

    @property
    def cli_rate(self) -> float:
        return self.texts / self.cli_seconds

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found.update(api_texts_per_s=round(self.api_rate, 1), cli_texts_per_s=self.cli_rate)
        return found


def bench_texts(n: int) -> list[dict[str, Any]]:
    """``n`` score requests: the demo's texts cycled, ids ``0``..``n-1``."""
    lines = (sample_dir() / "demo_mentions.jsonl").read_text(encoding="utf-8").splitlines()
    sample = [json.loads(line)["text"] for line in lines if line.strip()]
    return [{"id": i, "text": sample[i % len(sample)]} for i in range(n)]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _rss_mib(pid: int) -> float:
    """The process's resident memory now, in MiB."""
    import psutil

    rss: int = psutil.Process(pid).memory_info().rss
    return round(rss / (1024 * 1024), 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _store(folder: Path) -> tuple[str, str]:
    """A migrated SQLite store in ``folder`` with the bench user; its URL and a token
    with the score scope only."""
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            users.add_user(s, BENCH_USER, "bench-password-" + os.urandom(8).hex(), "marketing")
            token = users.issue_token(s, BENCH_USER, ["score"])
    finally:
        engine.dispose()
    return url, token


def _log_tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return " | ".join(text[-lines:]) or "(nothing logged)"


@contextmanager
def _server(folder: Path, url: str) -> Iterator[tuple[str, int]]:
    """``brandcare serve`` on a free port over ``url``; its base URL once it answers, and
    its process id."""
    port = _free_port()
    env = dict(os.environ, BRANDCARE_DATABASE_URL=url, BRANDCARE_LOG_LEVEL="WARNING")
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        proc = spawn_cli(["serve", "--port", str(port)], env, log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise ScoreApiBenchError(
                        f"`brandcare serve` exited ({proc.returncode}): {_log_tail(log_path)}"
                    )
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ScoreApiBenchError(
                        f"`brandcare serve` did not answer in {START_TIMEOUT:.0f} s: "
                        f"{_log_tail(log_path)}"
                    )
                time.sleep(0.2)
            yield base, proc.pid
        finally:
            stop_group(proc, timeout=30)


def _post(client: httpx.Client, items: list[dict[str, Any]]) -> float:
    """Seconds one scoring request took; ScoreApiBenchError unless all came back."""
    started = time.perf_counter()
    try:
        r = client.post("/api/v1/score", json={"items": items})
    except httpx.TransportError as exc:
        raise ScoreApiBenchError(
            f"POST /api/v1/score of {len(items)} text(s) got no answer "
            f"({type(exc).__name__}: {exc or 'no detail'}) within {REQUEST_TIMEOUT:.0f} s"
        ) from exc
    elapsed = time.perf_counter() - started
    if r.status_code == 503:
        raise ModelMissingError(f"the server cannot score: {r.json().get('detail', r.text)}")
    if r.status_code != 200 or len(r.json()["items"]) != len(items):
        raise ScoreApiBenchError(f"POST /api/v1/score answered {r.status_code}: {r.text[:300]}")
    return elapsed


def _api_rate(client: httpx.Client, texts: list[dict[str, Any]], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        _post(client, texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def _cli_seconds(texts: list[dict[str, Any]], env: dict[str, str]) -> float:
    """Wall seconds of one ``brandcare score`` process over ``texts``, start-up included."""
    stdin = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "brandcare.cli", "score"],
        input=stdin.encode(),
        capture_output=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    printed = done.stdout.count(b"\n")
    if done.returncode != 0 or printed != len(texts):
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise ScoreApiBenchError(
            f"`brandcare score` exited {done.returncode} after {printed} of {len(texts)} "
            f"lines: {why[0]}"
        )
    return elapsed


def run_score_api_benchmark(
    texts: int = 2000, batch: int = 64, requests: int = 30
) -> ScoreApiResult:
    """Measure both ways on the same ``texts`` texts; see the module's docstring."""
    items = bench_texts(texts)
    env = dict(os.environ, BRANDCARE_LOG_LEVEL="WARNING")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="brandcare-bench-api-") as tmp:
        folder = Path(tmp)
        url, token = _store(folder)
        with (
            _server(folder, url) as (base, pid),
            httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {token}"},
                timeout=REQUEST_TIMEOUT,
            ) as client,
        ):
            idle_mib = _rss_mib(pid)
            first = _post(client, items[:1])  # loads the model
            _post(client, items[:batch])  # warm-up: a full batch's shapes
            rates = [_api_rate(client, items, batch)]
            cli_seconds = _cli_seconds(items, env)
            cli_one = _cli_seconds(items[:1], env)
            cli_batch = _cli_seconds(items[:batch], env)
            rates.append(_api_rate(client, items, batch))
            latency = []
            scoring_mib = _rss_mib(pid)
            for size in (1, batch):
                times = [
                    _post(client, [items[(i * size + j) % texts] for j in range(size)])
                    for i in range(requests)
                ]
                latency.append(
                    Latency(size, requests, _percentile(times, 0.5), _percentile(times, 0.95))
                )
    return ScoreApiResult(
        texts=texts,
        batch=batch,
        cpus=os.cpu_count() or 1,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        server_idle_mib=idle_mib,
        server_scoring_mib=scoring_mib,
        api_first_request_s=first,
        api_rates=rates,
        cli_seconds=cli_seconds,
        cli_one_text_s=cli_one,
        cli_batch_s=cli_batch,
        latency=latency,
    )


def report(result: ScoreApiResult) -> str:
    """The result as the tables ``brandcare bench score-api`` prints."""
    r = result
    before, after = r.api_rates[0], r.api_rates[-1]
    lines = [
        f"scoring as a service against `brandcare score`: {r.texts} texts (the demo's, "
        f"cycled), {r.cpus} CPUs, load average {r.load_before:.2f} before, "
        f"{r.load_after:.2f} after",
        "",
        "| path | texts/s | seconds |",
        "|---|---|---|",
        f"| POST /api/v1/score, batches of {r.batch}, one client, warm worker "
        f"(before / after the command) | {before:.1f} / {after:.1f} | "
        f"{r.texts / before:.2f} / {r.texts / after:.2f} |",
        f"| `brandcare score`, one process, all {r.texts} texts, start-up included "
        f"| {r.cli_rate:.1f} | {r.cli_seconds:.2f} |",
        "",
        f"service / command: {r.api_rate / r.cli_rate:.2f}x; the web worker's memory: "
        f"{r.server_idle_mib:.0f} MiB before its first scoring request, "
        f"{r.server_scoring_mib:.0f} MiB once scoring",
        "",
        "| latency of one call | p50 s | p95 s | calls |",
        "|---|---|---|---|",
    ]
    for lat in r.latency:
        lines.append(
            f"| POST /api/v1/score, {lat.texts} text{'s' if lat.texts > 1 else ''} "
            f"| {lat.p50:.3f} | {lat.p95:.3f} | {lat.requests} |"
        )
    lines += [
        f"| `brandcare score`, 1 text (a fresh process) | {r.cli_one_text_s:.3f} | | 1 |",
        f"| `brandcare score`, {r.batch} texts (a fresh process) | {r.cli_batch_s:.3f} | | 1 |",
        f"| the service's first request (loads the model), 1 text | "
        f"{r.api_first_request_s:.3f} | | 1 |",
    ]
    return "\n".join(lines)
