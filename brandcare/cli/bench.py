"""Benchmarks that print numbers (never timed tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brandcare.cli._app import (
    bench_app,
    check_shared,
    fail,
    load_settings,
    model_dir,
    repo_build,
)
from brandcare.cli._errors import Code
from brandcare.config import Settings
from brandcare.ops import logs


@bench_app.command("score")
def bench_score(
    n: Annotated[int, typer.Option(help="texts to score")] = 3000,
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    accuracy: Annotated[bool, typer.Option(help="also measure fp32 vs int8 accuracy")] = True,
) -> None:
    """Mentions per second: naive, production (fp32 and int8) and the bare encoder's limit."""
    from sentiment.bench import run_score_benchmark

    settings = load_settings()
    check_shared(shared)
    typer.echo(run_score_benchmark(settings.model_dir, n=n, shared=shared, accuracy=accuracy))


@bench_app.command("startup")
def bench_startup(
    runs: Annotated[int, typer.Option(help="fresh processes of each kind", min=1)] = 3,
) -> None:
    """Cold start of `brandcare score` on one text against loading the bare encoder."""
    from brandcare.bench.startup import run_startup_benchmark

    load_settings()
    typer.echo(run_startup_benchmark(runs))


@bench_app.command("score-api")
def bench_score_api(
    texts: Annotated[int, typer.Option(help="texts scored each way", min=1)] = 2000,
    batch: Annotated[int, typer.Option(help="texts per request", min=1, max=256)] = 64,
    requests: Annotated[
        int, typer.Option(help="requests of 1 and of --batch texts for the latencies", min=1)
    ] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="print the numbers as JSON")] = False,
) -> None:
    """Scoring as a service (POST /api/v1/score on `brandcare serve`) against `brandcare score`.

    The same texts in the same run: texts/s in batches of --batch against one `brandcare
    score` process (start-up included), and p50/p95 latency for 1 and --batch texts.
    """
    import json

    from brandcare.bench.score_api import (
        ModelMissingError,
        ScoreApiBenchError,
        report,
        run_score_api_benchmark,
    )

    # The tables are the output: no line per request or migration step around them.
    logs.configure("WARNING", load_settings().log_format)
    try:
        result = run_score_api_benchmark(texts, batch, requests)
    except ModelMissingError as exc:
        raise fail(str(exc), Code.MODEL) from exc
    except ScoreApiBenchError as exc:
        raise fail(str(exc)) from exc
    typer.echo(json.dumps(result.as_json(), indent=2) if as_json else report(result))


@bench_app.command("feedback")
def bench_feedback(
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    out: Annotated[
        Path | None, typer.Option(help="keep the corrections and the retrained model here")
    ] = None,
    seed: Annotated[int, typer.Option(help="which half of the care hold-out is the inbox")] = 0,
    scenario: Annotated[
        str, typer.Option(help="care, pattern or both (comma-separated)")
    ] = "care,pattern",
    base_limit: Annotated[
        int | None, typer.Option(help="base sentiment texts used (default all)")
    ] = None,
    eval_limit: Annotated[
        int | None, typer.Option(help="items per validation set (default all)")
    ] = None,
) -> None:
    """Learning from corrections: simulated inboxes' corrections, retrained on, before/after."""
    from sentiment.data import DatasetMissingError
    from sentiment.feedback.bench import SCENARIOS, run_feedback_benchmark
    from sentiment.feedback.config import FeedbackConfig

    settings = load_settings()
    check_shared(shared)
    chosen = [s.strip() for s in scenario.split(",") if s.strip()]
    if not chosen or set(chosen) - set(SCENARIOS):
        raise fail(f"unknown scenario in {scenario!r}; use {', '.join(SCENARIOS)}", Code.USAGE)
    try:
        typer.echo(
            run_feedback_benchmark(
                model_dir(settings),
                shared,
                out,
                FeedbackConfig(base_limit=base_limit, eval_limit=eval_limit),
                repo_build() / "feedback-cache",
                seed,
                tuple(chosen),
            )
        )
    except DatasetMissingError as exc:
        raise fail(str(exc), Code.DATA) from exc


@bench_app.command("alerts")
def bench_alerts(
    seed: Annotated[int, typer.Option(help="seed of the month shown in detail")] = 7,
    months: Annotated[int, typer.Option(help="more generated months for the summary")] = 5,
) -> None:
    """The spike detector on generated months with seasonality, bursts and decoys."""
    from brandcare.bench.alerts import run_alerts_benchmark

    load_settings()
    typer.echo(run_alerts_benchmark(seed, months))


@bench_app.command("digest")
def bench_digest(
    sizes: Annotated[str, typer.Option(help="mention counts, comma-separated")] = (
        "10000,100000,1000000"
    ),
    postgres: Annotated[str, typer.Option(help="PostgreSQL server URL ('' to skip)")] = (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
) -> None:
    """Digest and alert-check time at growing mention counts, SQLite and PostgreSQL."""
    from brandcare.bench.digest import run_digest_benchmark

    load_settings()
    typer.echo(run_digest_benchmark(_counts("--sizes", sizes), postgres or None))


@bench_app.command("pipeline")
def bench_pipeline(
    n: Annotated[int, typer.Option(help="mentions to replay")] = 10_000,
    postgres: Annotated[str, typer.Option(help="PostgreSQL server URL ('' to skip)")] = (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    redis: Annotated[
        str, typer.Option(help="Redis URL ('' to skip)")
    ] = "redis://127.0.0.1:6379/13",
    processes: Annotated[int, typer.Option(help="worker processes on PostgreSQL + Redis")] = 2,
) -> None:
    """Pipeline throughput and fetch-to-draft latency against the bare scorer."""
    from brandcare.bench.pipeline import run_pipeline_benchmark

    load_settings()
    typer.echo(
        run_pipeline_benchmark(
            n, postgres=postgres or None, redis=redis or None, processes=processes
        )
    )


@bench_app.command("load")
def bench_load(
    mentions: Annotated[int, typer.Option(help="mentions replayed per run")] = 100_000,
    workers: Annotated[
        str | None,
        typer.Option(help="worker processes per run, comma-separated (1,2,4; with --rate 2)"),
    ] = None,
    approve_share: Annotated[
        float, typer.Option(help="share of drafts approved (and sent) during the run")
    ] = 0.1,
    database_url: Annotated[
        str, typer.Option(help="PostgreSQL server; each run creates and drops its own database")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    broker_url: Annotated[
        str, typer.Option(help="Redis database for the queues (emptied before each run)")
    ] = "redis://127.0.0.1:6379/12",
    threads: Annotated[int, typer.Option(help="Dramatiq threads per worker process")] = 2,
    score_threads: Annotated[int, typer.Option(help="torch threads per worker process")] = 1,
    timeout: Annotated[float, typer.Option(help="seconds one run (or drain) may take")] = 3600.0,
    out: Annotated[Path | None, typer.Option(help="also write the results as JSON here")] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            help="steady mode: base rates in mentions/s, comma-separated (each: steady, "
            "spike, recovery); --mentions is then unused"
        ),
    ] = None,
    duration: Annotated[
        float, typer.Option(help="--rate: seconds at each base rate (before and after its spike)")
    ] = 60.0,
    spike_factor: Annotated[
        float, typer.Option(help="--rate: the spike's rate as a multiple (1: no spike)")
    ] = 10.0,
    spike_seconds: Annotated[float, typer.Option(help="--rate: how long a spike lasts")] = 60.0,
    recovery_max: Annotated[
        float, typer.Option(help="--rate: the longest the base rate runs after a spike")
    ] = 600.0,
    target_p95: Annotated[
        float, typer.Option(help="--rate: fetch-to-draft p95 target, s (polling excluded)")
    ] = 2.0,
    poll_interval: Annotated[
        int, typer.Option(help="--rate: the query's poll interval, s (5 at least)")
    ] = 5,
    kill_worker_at: Annotated[
        float | None,
        typer.Option(help="--rate: SIGKILL one worker process this many seconds in"),
    ] = None,
) -> None:
    """The production shape under load: throughput, queue lag, latency and memory by workers.

    With --rate: latency at a steady rate, through a spike and after it, written as JSON
    (--out, default load-steady.json) with a PNG chart beside it. Exits 1 when a count
    check fails (a mention lost or done twice, a send without an approval or an approval
    without a send).
    """
    from brandcare.bench.load import LoadBenchError, run_load_benchmark
    from brandcare.bench.load_report import LoadOptions

    # The report is the output: thousands of INFO lines (one per approval) would bury it.
    logs.configure("WARNING", Settings().log_format)
    default_workers = "2" if rate else "1,2,4"
    counts = tuple(_counts("--workers", workers or default_workers))
    options = LoadOptions(
        mentions=mentions,
        workers=counts,
        approve_share=approve_share,
        database_url=database_url,
        broker_url=broker_url,
        threads=threads,
        score_threads=score_threads,
        timeout=timeout,
    )
    if kill_worker_at is not None and not rate:
        raise fail("--kill-worker-at needs --rate (the steady mode)", Code.USAGE)
    try:
        if rate:
            from brandcare.bench.steady import run_steady_benchmark
            from brandcare.bench.steady_report import SteadyOptions

            steady = SteadyOptions(
                load=options,
                rates=tuple(_rates(rate)),
                duration=duration,
                spike_factor=spike_factor,
                spike_seconds=spike_seconds,
                recovery_max=recovery_max,
                target_p95=target_p95,
                poll_interval=poll_interval,
                kill_worker_at=kill_worker_at,
            )
            text, passed = run_steady_benchmark(steady, out or Path("load-steady.json"))
        else:
            text, passed = run_load_benchmark(options, out)
    except LoadBenchError as exc:
        raise fail(str(exc)) from exc
    typer.echo(text)
    if not passed:
        raise typer.Exit(1)


@bench_app.command("drafts")
def bench_drafts(
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    search: Annotated[
        bool, typer.Option("--search", help="time nearest-neighbour search instead")
    ] = False,
    sizes: Annotated[str, typer.Option(help="--search: vector counts, comma-separated")] = (
        "10000,100000,1000000"
    ),
) -> None:
    """Retrieval drafts against template drafts, scored against the real agents' replies."""
    from brandcare.bench.drafts import run_drafts_benchmark, run_search_benchmark
    from sentiment.data import DatasetMissingError, shared_dir

    load_settings()
    check_shared(shared)
    if search:
        typer.echo(run_search_benchmark(_counts("--sizes", sizes)))
        return
    try:
        folder = shared or shared_dir()
    except DatasetMissingError as exc:
        raise fail(str(exc), Code.DATA) from exc
    typer.echo(run_drafts_benchmark(folder))


def _rates(text: str) -> list[float]:
    """Mentions per second above 0, separated by commas; exits (usage) otherwise."""
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise fail(f"--rate takes numbers separated by commas, got {text!r}", Code.USAGE) from exc
    if not rates or min(rates) <= 0:
        raise fail(f"--rate needs mentions per second above 0, got {text!r}", Code.USAGE)
    return rates


def _counts(flag: str, text: str) -> list[int]:
    """Whole numbers of 1 or more, separated by commas; exits (usage) otherwise."""
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise fail(
            f"{flag} takes whole numbers separated by commas, got {text!r}", Code.USAGE
        ) from exc
    if not counts or min(counts) < 1:
        raise fail(f"{flag} needs at least one count of 1 or more, got {text!r}", Code.USAGE)
    return counts
