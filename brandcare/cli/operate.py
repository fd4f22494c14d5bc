"""Commands that run and steer the pipeline: migrate, setup, demo, run, worker, review."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from brandcare.cli._app import (
    DEMO_DATABASE,
    app,
    fail,
    load_settings,
    no_brand,
    open_store,
    require_database,
    whoami,
)
from brandcare.cli._errors import Code


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic) at BRANDCARE_DATABASE_URL."""
    from alembic.util.exc import CommandError

    from brandcare.store import migrate as migrations

    settings = load_settings()
    try:
        migrations.upgrade(settings.database_url)
    except CommandError as exc:  # a revision this code does not know: a newer brandcare
        raise fail(f"cannot migrate: {exc}", Code.SCHEMA) from exc
    typer.echo(f"database at revision {migrations.current(settings.database_url)}")


@app.command()
def setup(file: Annotated[Path, typer.Argument(help="brands JSON: voices, SLAs, queries")]) -> None:
    """Create or update brands and their queries from a file (idempotent)."""
    from brandcare.brands.setup import SetupError, apply_brands, load_brands
    from brandcare.store import transaction

    settings = load_settings()
    try:
        brands = load_brands(file)
    except SetupError as exc:
        raise fail(str(exc), Code.USAGE) from exc
    with transaction(open_store(settings)) as s:
        ids = apply_brands(s, brands)
    typer.echo(f"brands: {', '.join(f'{slug} (id {i})' for slug, i in ids.items())}")
    for brand in brands:
        # setup runs with the deployment's environment (compose: the migrate service), so
        # a profile with no variable here is a typo or a forgotten .env line: say so now,
        # not at the brand's first poll.
        if brand.credentials and brand.credentials not in settings.credential_profiles:
            suffix = brand.credentials.upper()
            typer.echo(
                f"brandcare: warning: brand {brand.slug!r} names credentials profile "
                f"{brand.credentials!r}, but no X_*__{suffix}, REDDIT_*__{suffix}, "
                f"MASTODON_*__{suffix} or BLUESKY_*__{suffix} variable is set here: its polls "
                "and replies will fail until they are",
                err=True,
            )


@app.command()
def demo(
    approve: Annotated[int, typer.Option(help="top drafts the demo agent approves and sends")] = 3,
    database: Annotated[
        str, typer.Option(help=f"database URL, recreated (default sqlite:///{DEMO_DATABASE})")
    ] = "",
    speed: Annotated[float, typer.Option(help="replay speed; 0 = all at once")] = 0.0,
    serve: Annotated[bool, typer.Option(help="then serve the web inbox until Ctrl-C")] = True,
    port: Annotated[
        int | None,
        typer.Option(
            help="web inbox port (default 8000, or the next free one when it is taken)",
            min=0,
            max=65535,
        ),
    ] = None,
) -> None:
    """The main job on the embedded default: replay sample mentions through every stage,
    then open the web inbox on the result (with a demo login).

    The demo keeps its own database (brandcare-demo.db here), so it never replaces the
    default one (brandcare.db); it ends with the commands to run on its data, ready to
    copy.
    """
    from rich.console import Console

    from brandcare.cli.demo import print_report, run_demo
    from brandcare.cli.web import claim_port

    settings = load_settings()
    # The port first: a busy one is said before a minute of replay, not after.
    sock = claim_port(settings.web_host, port, settings.web_port) if serve else None
    url = database or f"sqlite:///{DEMO_DATABASE}"
    if not database:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DATABASE}{suffix}").unlink(missing_ok=True)
    settings = settings.model_copy(
        update={"database_url": url, "replay_speed": speed, "replay_rebase": True}
    )
    console = Console(soft_wrap=True)
    report = run_demo(settings, approve=approve, console=Console(stderr=True))
    print_report(report, settings, console)
    if sock is not None:
        from brandcare.cli.demo import demo_login
        from brandcare.cli.web import serve_app

        bound = sock.getsockname()[1]
        # Plain HTTP on localhost: Safari drops Secure cookies there.
        settings = settings.model_copy(update={"web_secure_cookies": False, "web_port": bound})
        username, password = demo_login(settings)
        console.print(
            f"\nweb inbox: http://{settings.web_host}:{bound}/  "
            f"login: {username} / {password}  (Ctrl-C to stop)",
            markup=False,
        )
        serve_app(settings, sock)


@app.command()
def run(
    tick: Annotated[float, typer.Option(help="seconds between scheduler ticks")] = 1.0,
    threads: Annotated[int, typer.Option(help="in-process worker threads (no broker URL)")] = 2,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="serve /metrics on this port (BRANDCARE_METRICS_PORT)", min=0, max=65535),
    ] = None,
) -> None:
    """The production pipeline: the scheduler, plus in-process workers without a broker URL.

    With BRANDCARE_BROKER_URL set, run workers separately: `brandcare worker`.
    """
    import datetime as dt
    import time

    from brandcare.brands import credentials
    from brandcare.ops import metrics_http
    from brandcare.pipeline import runtime
    from brandcare.pipeline.queue import DeadWorkerReclaimer, setup_broker
    from brandcare.pipeline.schedule import RECLAIM_EVERY_SECONDS, Enqueue, Scheduler

    settings = load_settings()
    require_database(settings)
    broker = setup_broker(settings.broker_url)
    pipeline = runtime.configure(settings, worker_threads=threads)
    try:
        metrics_http.start(settings, metrics_port, pipeline.sessions)
    except OSError as exc:
        raise fail(
            f"cannot serve metrics: {exc.strerror or exc}; choose another --metrics-port",
            Code.PORT,
        ) from exc
    except metrics_http.MetricsExposureError as exc:
        raise fail(f"cannot serve metrics: {exc}", Code.SETTINGS) from exc
    from brandcare.pipeline import tasks

    scheduler = Scheduler(
        pipeline.sessions,
        Enqueue(
            tasks.poll_query.send,
            tasks.score_mentions.send,
            tasks.draft_mentions.send,
            tasks.send_draft.send,
        ),
        reddit_requests_per_minute=settings.reddit_requests_per_minute,
        stale_after=dt.timedelta(seconds=settings.stale_after_seconds),
        reddit_app=lambda profile: credentials.reddit_app(settings, profile),
    )
    if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        scheduler.reclaimer = DeadWorkerReclaimer(
            settings.broker_url,
            {actor.queue_name for actor in tasks.ACTORS},
            settings.dead_worker_seconds,
        )
    worker = None
    if not settings.broker_url:
        from dramatiq import Worker

        worker = Worker(broker, worker_threads=threads)
        worker.start()
    from brandcare.insights.periodic import Periodic

    insights = Periodic(settings, pipeline.sessions)
    last_sweep = last_reclaim = 0.0
    try:
        while True:
            scheduler.tick()
            insights.tick(monotonic=time.monotonic())
            if time.monotonic() - last_reclaim > RECLAIM_EVERY_SECONDS:
                scheduler.reclaim()
                last_reclaim = time.monotonic()
            if time.monotonic() - last_sweep > settings.sweep_every_seconds:
                scheduler.sweep()
                last_sweep = time.monotonic()
            time.sleep(tick)
    except KeyboardInterrupt:
        typer.echo("stopping", err=True)
    finally:
        if worker is not None:
            worker.stop()


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="worker processes")] = 2,
    threads: Annotated[int, typer.Option(help="threads per process")] = 2,
    queues: Annotated[str, typer.Option(help="comma-separated queues (default all)")] = "",
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="serve the processes' summed /metrics here (BRANDCARE_METRICS_PORT)",
            min=0,
            max=65535,
        ),
    ] = None,
) -> None:
    """Dramatiq worker processes for BRANDCARE_BROKER_URL (scale out: run more of these)."""
    import os

    settings = load_settings()
    if not settings.broker_url:
        raise fail(
            "`brandcare worker` needs BRANDCARE_BROKER_URL (redis://... or amqp://...); "
            "without one, `brandcare run` runs workers in-process",
            Code.SETTINGS,
        )
    # What the forked processes would fail on, said here once rather than per process.
    require_database(settings)
    from brandcare.ops.health import broker_check
    from brandcare.pipeline.queue import make_broker

    make_broker(settings.broker_url)  # an unsupported URL: one line (BrokerConfigError)
    broker_check(settings)

    # Dramatiq forks the processes; each reads its scoring lanes from the environment,
    # fitted here where the number of processes sharing the cores is known.
    from brandcare.ops.layout import QUEUES_ENV, scoring_layout

    layout = scoring_layout(settings, processes=processes, worker_threads=threads)
    os.environ["BRANDCARE_SCORE_LANES"] = str(layout.lanes)
    os.environ["BRANDCARE_SCORE_THREADS"] = str(layout.threads)

    # The interpreter running us, not whatever `dramatiq` is first on PATH.
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        "brandcare.worker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    if queues:
        args += ["--queues", *queues.split(",")]
        os.environ[QUEUES_ENV] = queues
    metrics_port = metrics_port or settings.metrics_port
    if metrics_port:
        from brandcare.ops import metrics_http

        try:
            metrics_http.check_exposure(settings.metrics_host, metrics_http.token_of(settings))
        except metrics_http.MetricsExposureError as exc:
            raise fail(str(exc), Code.SETTINGS) from exc
        os.environ.update(metrics_http.worker_environment(metrics_port))
        args += ["--fork-function", "brandcare.ops.metrics_http:serve_workers"]
    os.execv(args[0], args)  # noqa: S606  (replace this process with Dramatiq's CLI)


@app.command("queue")
def queue_(
    limit: Annotated[int, typer.Option(help="drafts to show")] = 20,
    brand: Annotated[str | None, typer.Option(help="brand slug")] = None,
) -> None:
    """Pending drafts, highest priority first (urgency, reach, age)."""
    from sqlalchemy import select

    from brandcare.cli.reports import queue_lines
    from brandcare.store import transaction
    from brandcare.store.drafts import pending_queue
    from brandcare.store.models import BrandRow, QueryRow

    settings = load_settings()
    with transaction(open_store(settings)) as s:
        brand_id = None
        if brand:
            brand_id = s.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).first()
            if brand_id is None:
                raise fail(no_brand(s, brand), Code.NOT_FOUND)
        paused = s.scalars(select(QueryRow).where(QueryRow.paused_reason.is_not(None)))
        for q in paused:
            typer.echo(
                f"query {q.id} ({q.platform} {q.kind} {q.terms!r}) PAUSED: {q.paused_reason}"
            )
        brands = dict(s.execute(select(BrandRow.id, BrandRow.slug)).all())
        for line in queue_lines(pending_queue(s, limit, brand_id=brand_id), brands):
            typer.echo(line)


def _review(action: Callable[..., object], draft_id: int, by: str, **words: object) -> object:
    """Run one review action as ``by`` (default: this user); a refusal exits with its reason."""
    from brandcare.agents.review import DraftNotFound, ReviewError

    settings = load_settings()
    require_database(settings)
    try:
        return action(settings, draft_id, actor=by or whoami(), **words)
    except DraftNotFound as exc:
        raise fail(str(exc), Code.NOT_FOUND) from exc
    except ReviewError as exc:
        raise fail(str(exc)) from exc


@app.command()
def approve(
    draft_id: Annotated[int, typer.Argument(help="draft id (see `brandcare queue`)")],
    text: Annotated[str | None, typer.Option(help="replace the draft's text")] = None,
    by: Annotated[str, typer.Option(help="who approves")] = "",
) -> None:
    """Approve a pending draft (optionally edited) and send it, exactly once."""
    from brandcare.agents.review import approve_draft

    typer.echo(_review(approve_draft, draft_id, by, text=text))


@app.command()
def reject(
    draft_id: Annotated[int, typer.Argument(help="draft id")],
    reason: Annotated[str, typer.Option(help="why (required; shown in the audit log)")],
    by: Annotated[str, typer.Option(help="who rejects")] = "",
) -> None:
    """Reject a pending draft; nothing is sent."""
    from brandcare.agents.review import reject_draft

    _review(reject_draft, draft_id, by, reason=reason)
    typer.echo(f"draft {draft_id} rejected")


@app.command()
def requeue(
    draft_id: Annotated[int, typer.Argument(help="a failed draft's id")],
    by: Annotated[str, typer.Option(help="who sends it again (audit log)")] = "",
) -> None:
    """Send a failed draft again after fixing its cause; asks the platform first, so a
    reply already there is recorded as sent and never posted twice."""
    from brandcare.agents.requeue import requeue_draft

    typer.echo(_review(requeue_draft, draft_id, by))


@app.command()
def unskip(
    draft_id: Annotated[int, typer.Argument(help="a skipped draft's id")],
    reason: Annotated[str, typer.Option(help="why it is not trolling (audit log)")],
    by: Annotated[str, typer.Option(help="who un-skips")] = "",
) -> None:
    """Put a mention the model judged trolling back in the queue of pending drafts."""
    from brandcare.agents.review import unskip_draft

    _review(unskip_draft, draft_id, by, reason=reason)
    typer.echo(f"draft {draft_id} is pending again")
