"""The ``brandcare`` command line: the contract other tools and people rely on."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brandcare import logs
from brandcare.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sentiment.data import Corpus

app = typer.Typer(
    help="brandcare: open-source social care. Listen, score, draft, approve, send.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print numbers.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
users_app = typer.Typer(help="Web inbox accounts and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
feedback_app = typer.Typer(help="Agents' label corrections, for retraining.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
alerts_app = typer.Typer(help="Spike alerts on negative mentions.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
import_app = typer.Typer(help="Bring in history: past replies for drafts.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _settings() -> Settings:
    settings = Settings()
    logs.setup(settings)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"brandcare: {message}", err=True)
    return typer.Exit(code)


def _scorer(settings: Settings, quantize: bool | None = None):  # type: ignore[no-untyped-def]
    from sentiment.artifacts import ArtifactError
    from sentiment.transformer import TransformerScorer

    try:
        return TransformerScorer(
            settings.model_dir,
            quantize=settings.score_quantize if quantize is None else quantize,
            batch_size=settings.score_batch_size,
            threads=settings.score_threads,
        )
    except ArtifactError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def score(
    file: Annotated[
        Path | None, typer.Argument(help="JSON Lines of {id, text}; standard input when omitted")
    ] = None,
    batch: Annotated[int, typer.Option(help="lines read and scored at a time")] = 2048,
) -> None:
    """Score mentions: one JSON line out per line in (see DESIGN.md for the contract)."""
    from brandcare.scoring_io import MalformedInputError, parse_lines, score_records

    settings = _settings()
    try:
        stream = sys.stdin if file is None else file.open(encoding="utf-8", errors="strict")
        with stream:
            requests = parse_lines(stream)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise _fail(f"input is not UTF-8 text (byte {exc.start}): {exc.reason}", 2) from exc
    except MalformedInputError as exc:
        raise _fail(str(exc), 2) from exc
    scorer = _scorer(settings)
    out = sys.stdout.buffer
    for start in range(0, len(requests), batch):
        for record in score_records(scorer, requests[start : start + batch]):
            # "replace": an id holding half an emoji still gives a valid UTF-8 line.
            out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace"))
    out.flush()


def _model_dir(settings: Settings) -> Path:
    from sentiment.artifacts import default_model_dir

    return settings.model_dir or default_model_dir()


def _repo_build() -> Path:
    """``build/`` beside ``models/``: caches that a checkout can drop at any time."""
    from sentiment.artifacts import default_model_dir

    return default_model_dir().parent.parent / "build"


@app.command()
def train(
    out: Annotated[
        Path | None,
        typer.Option(
            help="artifact folder (default models/scorer; with --feedback a new folder "
            "beside the source, named after the new version)"
        ),
    ] = None,
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    epochs: Annotated[int | None, typer.Option(help="override the fine-tuning epochs")] = None,
    refit_care: Annotated[
        Path | None,
        typer.Option(help="refit only the care heads on this artifact folder's encoder"),
    ] = None,
    feedback: Annotated[
        Path | None,
        typer.Option(
            help="agents' corrections (JSON Lines from `brandcare feedback export`): refit "
            "the heads of --source on the base data plus these"
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="with --feedback: the model to improve (default BRANDCARE_MODEL_DIR)"),
    ] = None,
    base_limit: Annotated[
        int | None,
        typer.Option(help="with --feedback: base sentiment texts used (default all; for tests)"),
    ] = None,
    eval_limit: Annotated[
        int | None,
        typer.Option(help="with --feedback: items per validation set in the report (default all)"),
    ] = None,
) -> None:
    """Reproduce the scorer's artifacts from ../shared/datasets (about 20 minutes on 2 cores).

    With --feedback, refit only the heads on agents' corrections (a few minutes) and write
    a new model version with its before/after report.
    """
    from sentiment.data import DatasetMissingError
    from sentiment.train import TrainConfig
    from sentiment.train import train as run_training

    settings = _settings()
    if feedback is not None:
        _train_feedback(settings, feedback, source, out, shared, base_limit, eval_limit)
        return
    config = TrainConfig() if epochs is None else TrainConfig(epochs=epochs)
    from sentiment.train import refit_care as run_refit

    try:
        if refit_care is not None:
            folder = run_refit(refit_care, out, shared, config)
        else:
            folder = run_training(out, shared, config)
    except DatasetMissingError as exc:
        raise _fail(str(exc)) from exc
    typer.echo((folder / "MODEL_CARD.md").read_text())


def _train_feedback(
    settings: Settings,
    feedback: Path,
    source: Path | None,
    out: Path | None,
    shared: Path | None,
    base_limit: int | None,
    eval_limit: int | None,
) -> None:
    from sentiment.artifacts import ArtifactError
    from sentiment.corrections import CorrectionsFileError
    from sentiment.data import DatasetMissingError
    from sentiment.feedback_eval import format_report
    from sentiment.feedback_train import FeedbackConfig, FeedbackError, train_with_feedback

    config = FeedbackConfig(base_limit=base_limit, eval_limit=eval_limit)
    try:
        result = train_with_feedback(
            source or _model_dir(settings),
            feedback,
            out,
            shared,
            config,
            cache_dir=_repo_build() / "feedback-cache",
        )
    except (DatasetMissingError, ArtifactError, CorrectionsFileError, FeedbackError) as exc:
        raise _fail(str(exc)) from exc
    for choice in result.choices:
        typer.echo(f"- {choice.describe()}")
    typer.echo(format_report(result.report, result.split))
    if not result.learned:
        typer.echo(
            f"\nnothing learned: no head's corrections showed a pattern cross-validation could "
            f"confirm within the guards; {result.out_dir} holds the same model, {result.version}"
        )
        return
    typer.echo(
        f"\nmodel {result.version} written to {result.out_dir}; score with it: "
        f"BRANDCARE_MODEL_DIR={result.out_dir}, then `brandcare rescore`"
    )


@app.command()
def evaluate(
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    limit: Annotated[int | None, typer.Option(help="evaluate on the first N items per set")] = None,
    fp32: Annotated[bool, typer.Option(help="also evaluate the unquantized model")] = True,
    feedback: Annotated[
        Path | None,
        typer.Option(
            help="corrections a model was retrained on: report before/after on their "
            "held-out slice and on the validation sets; exit 1 on a regression over 1 point"
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="with --feedback: the retrained model (default BRANDCARE_MODEL_DIR)"),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="with --feedback: the model before (default: the one retrained)"),
    ] = None,
) -> None:
    """Print the scorer's metrics on held-out validation data, against the targets."""
    from sentiment.data import DatasetMissingError, load_corpus
    from sentiment.evaluate import evaluate_scorer, format_table

    settings = _settings()
    try:
        corpus = load_corpus(shared)
    except DatasetMissingError as exc:
        raise _fail(str(exc)) from exc
    if feedback is not None:
        _evaluate_feedback(feedback, model or _model_dir(settings), baseline, corpus, limit)
        return
    variants = {"production": _scorer(settings)}
    if fp32 and variants["production"].quantized:
        variants["fp32"] = _scorer(settings, quantize=False)
    reports = {
        f"{name} ({scorer.model_version})": evaluate_scorer(scorer, corpus, limit=limit)
        for name, scorer in variants.items()
    }
    typer.echo(format_table(reports))


def _evaluate_feedback(
    feedback: Path,
    model: Path,
    baseline: Path | None,
    corpus: Corpus,
    limit: int | None,
) -> None:
    from sentiment.artifacts import ArtifactError, default_model_dir, file_sha256, load_config
    from sentiment.corrections import (
        HELDOUT_FRACTION,
        SPLIT_SEED,
        CorrectionsFileError,
        read_corrections,
        split_corrections,
    )
    from sentiment.feedback_eval import compare, format_report
    from sentiment.transformer import TransformerScorer

    try:
        record = load_config(model).extra.get("feedback", {})
        corrections = read_corrections(feedback)
    except (ArtifactError, CorrectionsFileError) as exc:
        raise _fail(str(exc)) from exc
    recorded = Path(record["source_dir"]) if "source_dir" in record else None
    before_dir = baseline or (recorded if recorded and recorded.is_dir() else default_model_dir())
    if before_dir.resolve() == model.resolve():
        raise _fail(
            f"the model and the baseline are both {model}: pass --model (the retrained folder) "
            "and --baseline (the model before)"
        )
    if record.get("file_sha256") not in (None, file_sha256(feedback)):
        typer.echo(
            f"note: {feedback} is not the file {record.get('file')} the model was trained on "
            "(checksums differ); the split is by post, so held-out posts stay held out",
            err=True,
        )
    split = split_corrections(
        corrections,
        float(record.get("heldout_fraction", HELDOUT_FRACTION)),
        int(record.get("split_seed", SPLIT_SEED)),
    )
    try:
        before = TransformerScorer(before_dir, quantize=True)
        after = TransformerScorer(model, quantize=True)
    except ArtifactError as exc:
        raise _fail(str(exc)) from exc
    report = compare(before, after, corpus, split, limit=limit)
    typer.echo(format_report(report, split))
    if report.regressions:
        names = ", ".join(name for name, _, _ in report.regressions)
        raise _fail(f"regression of more than 1 point after retraining: {names}")


@bench_app.command("score")
def bench_score(
    n: Annotated[int, typer.Option(help="texts to score")] = 3000,
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    accuracy: Annotated[bool, typer.Option(help="also measure fp32 vs int8 accuracy")] = True,
) -> None:
    """Mentions per second: naive, production (fp32 and int8) and the bare encoder's limit."""
    from sentiment.bench import run_score_benchmark

    settings = _settings()
    typer.echo(run_score_benchmark(settings.model_dir, n=n, shared=shared, accuracy=accuracy))


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
    from sentiment.feedback_bench import SCENARIOS, run_feedback_benchmark
    from sentiment.feedback_train import FeedbackConfig

    settings = _settings()
    chosen = [s.strip() for s in scenario.split(",") if s.strip()]
    if not chosen or set(chosen) - set(SCENARIOS):
        raise _fail(f"unknown scenario in {scenario!r}; use {', '.join(SCENARIOS)}")
    try:
        typer.echo(
            run_feedback_benchmark(
                _model_dir(settings),
                shared,
                out,
                FeedbackConfig(base_limit=base_limit, eval_limit=eval_limit),
                _repo_build() / "feedback-cache",
                seed,
                tuple(chosen),
            )
        )
    except DatasetMissingError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic) at BRANDCARE_DATABASE_URL."""
    from brandcare.store import migrate as migrations

    settings = _settings()
    migrations.upgrade(settings.database_url)
    typer.echo(f"database at revision {migrations.current(settings.database_url)}")


@app.command()
def setup(file: Annotated[Path, typer.Argument(help="brands JSON: voices, SLAs, queries")]) -> None:
    """Create or update brands and their queries from a file (idempotent)."""
    from brandcare.setup import SetupError, apply_brands, load_brands
    from brandcare.store import make_engine, session_factory, transaction

    settings = _settings()
    try:
        brands = load_brands(file)
    except SetupError as exc:
        raise _fail(str(exc), 2) from exc
    with transaction(session_factory(make_engine(settings.database_url))) as s:
        ids = apply_brands(s, brands)
    typer.echo(f"brands: {', '.join(f'{slug} (id {i})' for slug, i in ids.items())}")


@app.command()
def demo(
    approve: Annotated[int, typer.Option(help="top drafts the demo agent approves and sends")] = 3,
    database: Annotated[str, typer.Option(help="database URL (recreated)")] = "",
    speed: Annotated[float, typer.Option(help="replay speed; 0 = all at once")] = 0.0,
    serve: Annotated[bool, typer.Option(help="then serve the web inbox until Ctrl-C")] = True,
    port: Annotated[int, typer.Option(help="web inbox port")] = 8000,
) -> None:
    """The main job on the embedded default: replay sample mentions through every stage,
    then open the web inbox on the result (with a demo login)."""
    from rich.console import Console

    from brandcare.demo import print_report, run_demo

    settings = _settings()
    url = database or "sqlite:///brandcare-demo.db"
    if not database:
        for suffix in ("", "-wal", "-shm"):
            Path(f"brandcare-demo.db{suffix}").unlink(missing_ok=True)
    settings = settings.model_copy(
        update={"database_url": url, "replay_speed": speed, "replay_rebase": True}
    )
    console = Console()
    report = run_demo(settings, approve=approve, console=Console(stderr=True))
    print_report(report, settings, console)
    if serve:
        from brandcare.demo import demo_login

        # Plain HTTP on localhost: Safari drops Secure cookies there.
        settings = settings.model_copy(update={"web_secure_cookies": False, "web_port": port})
        username, password = demo_login(settings)
        console.print(
            f"\nweb inbox: http://{settings.web_host}:{port}/  "
            f"login: {username} / {password}  (Ctrl-C to stop)",
            markup=False,
        )
        _serve(settings)


def _serve(settings: Settings) -> None:
    import uvicorn

    from brandcare.web import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        # uvicorn's lines go through our handler: the same format, and redacted.
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (BRANDCARE_WEB_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (BRANDCARE_WEB_PORT)")] = None,
) -> None:
    """The web inbox for agents, marketing and admins (create the first admin with
    `brandcare users add NAME --role admin`)."""
    from brandcare.store import migrate

    settings = _settings()
    updates: dict[str, object] = {}
    if host:
        updates["web_host"] = host
    if port:
        updates["web_port"] = port
    settings = settings.model_copy(update=updates)
    current, head = migrate.current(settings.database_url), migrate.head()
    if current != head:
        raise _fail(
            f"the database is at revision {current or 'none'}, the code needs {head}: "
            "run `brandcare migrate` first"
        )
    typer.echo(f"web inbox on http://{settings.web_host}:{settings.web_port}/", err=True)
    _serve(settings)


def _password(prompt_for: str) -> str:
    """From BRANDCARE_NEW_PASSWORD (scripts), else stdin when piped, else a hidden prompt."""
    import os

    env = os.environ.get("BRANDCARE_NEW_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt(
        f"password for {prompt_for}", hide_input=True, confirmation_prompt=True
    )
    return value


def _users_tx() -> AbstractContextManager[Session]:
    from brandcare.store import make_engine, migrate, session_factory, transaction

    settings = _settings()
    migrate.upgrade(settings.database_url)
    return transaction(session_factory(make_engine(settings.database_url)))


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="agent, marketing or admin")] = "agent",
) -> None:
    """Create an account (the password is read from a prompt, stdin or
    BRANDCARE_NEW_PASSWORD; it never appears in the shell history)."""
    from brandcare.users import UserError, add_user

    password = _password(username)
    try:
        with _users_tx() as s:
            user = add_user(s, username, password, role)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"user {user.username} ({user.role}) created")


@users_app.command("token")
def users_token(username: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Issue a new API token for the user (the old one stops working); printed once."""
    from brandcare.users import UserError, issue_token

    try:
        with _users_tx() as s:
            token = issue_token(s, username)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(token)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="login name")],
    enable: Annotated[bool, typer.Option(help="re-enable instead")] = False,
) -> None:
    """Disable an account: its sessions and API token stop working at once."""
    from brandcare.users import UserError, set_disabled

    try:
        with _users_tx() as s:
            set_disabled(s, username, not enable)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@users_app.command("list")
def users_list() -> None:
    """Accounts and their roles."""
    from brandcare.users import list_users

    with _users_tx() as s:
        for u in list_users(s):
            state = "disabled" if u.disabled else "active"
            token = "token" if u.api_token_hash else "-"
            typer.echo(f"{u.username:<24} {u.role:<10} {state:<9} {token}")


@app.command()
def health() -> None:
    """Check the database (and its schema), the broker and the model; exit 1 if not ok."""
    from brandcare import health as checks

    results = checks.run(_settings())
    for c in results:
        typer.echo(f"{'ok ' if c.ok else 'BAD'} {c.name:<9} {c.ms:>7.1f} ms  {c.detail}")
    if not all(c.ok for c in results):
        raise typer.Exit(1)


@app.command()
def digest(
    brand: Annotated[str, typer.Option(help="brand slug")],
    period: Annotated[str, typer.Option(help="day or week")] = "day",
    fmt: Annotated[str, typer.Option("--format", help="html, md or csv")] = "html",
    out: Annotated[Path, typer.Option(help="folder to write the digest in")] = Path("."),
    email: Annotated[
        bool, typer.Option(help="also mail it (SMTP and recipients from settings)")
    ] = False,
) -> None:
    """A brand's sentiment digest for the last day or week, against the one before."""
    from brandcare.insights import digest as digests
    from brandcare.insights import mail, render
    from brandcare.queue import redact
    from brandcare.store import make_engine, session_factory, transaction

    settings = _settings()
    if fmt not in render.FORMATS:
        raise _fail(f"unknown format {fmt!r}; use one of {', '.join(render.FORMATS)}", 2)
    from sqlalchemy.exc import DBAPIError

    try:
        with transaction(session_factory(make_engine(settings.database_url))) as s:
            d = digests.build(s, brand, period)
    except digests.DigestError as exc:
        raise _fail(str(exc), 2) from exc
    except DBAPIError as exc:
        raise _fail(
            f"cannot read {redact(settings.database_url)}: {exc.orig}; "
            "is BRANDCARE_DATABASE_URL right, and was `brandcare migrate` run?"
        ) from exc
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{d.brand}-{d.period}-{d.end:%Y%m%d-%H%M}.{fmt}"
    path.write_text(render.render(d, fmt), encoding="utf-8")
    typer.echo(str(path))
    if email:
        try:
            to = settings.digest_recipients.get(brand, [])
            subject = f"{d.brand_name}: {period} digest"
            mail.send(settings, to, subject, render.html(d), render.markdown(d))
        except mail.MailError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"mailed to {', '.join(settings.digest_recipients[brand])}", err=True)


@alerts_app.command("check")
def alerts_check() -> None:
    """Judge the last 15-minute window for every brand now (the scheduler does this)."""
    from brandcare.insights import alerts
    from brandcare.insights.periodic import notifier
    from brandcare.store import make_engine, session_factory

    settings = _settings()
    sessions = session_factory(make_engine(settings.database_url))
    events = alerts.check(sessions, notifier=notifier(settings), public_url=settings.public_url)
    for e in events:
        sent = ", ".join(f"{d.channel} {'ok' if d.ok else d.error}" for d in e.deliveries)
        typer.echo(
            f"alert {e.alert_id} {e.action}: {e.brand}{'/' + e.issue if e.issue else ''} "
            f"{e.observed} negative vs {e.expected:.1f} expected ({e.severity})"
            + (f"; notified {sent}" if sent else "")
        )
    if not events:
        typer.echo("no spike", err=True)


@alerts_app.command("list")
def alerts_list(
    all_: Annotated[bool, typer.Option("--all", help="resolved ones too")] = False,
) -> None:
    """Alerts, open first."""
    from sqlalchemy import select

    from brandcare.store import make_engine, session_factory, transaction
    from brandcare.store.models import AlertRow, BrandRow

    settings = _settings()
    with transaction(session_factory(make_engine(settings.database_url))) as s:
        stmt = select(AlertRow, BrandRow.slug).join(BrandRow, BrandRow.id == AlertRow.brand_id)
        if not all_:
            stmt = stmt.where(AlertRow.state == "open")
        for a, slug in s.execute(stmt.order_by(AlertRow.state, AlertRow.id.desc()).limit(100)):
            key = f"{slug}/{a.issue}" if a.issue else slug
            typer.echo(
                f"#{a.id} {a.state:<8} {a.severity or '-':<8} {key}"
                f" since {a.window_start:%Y-%m-%d %H:%M} UTC: {a.observed} vs {a.expected:.1f}"
            )


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path | None, typer.Option(help="JSON Lines file (default: stdout)")] = None,
) -> None:
    """Agents' label corrections as JSON Lines (the latest per mention and label)."""
    from brandcare.feedback import export
    from brandcare.store import make_engine, session_factory, transaction

    settings = _settings()
    n = 0
    with transaction(session_factory(make_engine(settings.database_url))) as s:
        lines = [json.dumps(record, ensure_ascii=False) for record in export(s)]
    target = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for line in lines:
            target.write(line + "\n")
            n += 1
    finally:
        if out:
            target.close()
    typer.echo(f"{n} corrections exported", err=True)


@app.command()
def run(
    tick: Annotated[float, typer.Option(help="seconds between scheduler ticks")] = 1.0,
    threads: Annotated[int, typer.Option(help="in-process worker threads (no broker URL)")] = 2,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve /metrics on this port (BRANDCARE_METRICS_PORT)")
    ] = None,
) -> None:
    """The production pipeline: the scheduler, plus in-process workers without a broker URL.

    With BRANDCARE_BROKER_URL set, run workers separately: `brandcare worker`.
    """
    import datetime as dt
    import time

    from brandcare import metrics_http, runtime
    from brandcare.queue import setup_broker
    from brandcare.schedule import Enqueue, Scheduler

    settings = _settings()
    broker = setup_broker(settings.broker_url)
    pipeline = runtime.configure(settings)
    try:
        metrics_http.start(settings, metrics_port, pipeline.sessions)
    except (OSError, metrics_http.MetricsExposureError) as exc:
        raise _fail(f"cannot serve metrics: {exc}") from exc
    from brandcare import tasks

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
    )
    worker = None
    if not settings.broker_url:
        from dramatiq import Worker

        worker = Worker(broker, worker_threads=threads)
        worker.start()
    from brandcare.insights.periodic import Periodic

    insights = Periodic(settings, pipeline.sessions)
    last_sweep = 0.0
    try:
        while True:
            scheduler.tick()
            insights.tick(monotonic=time.monotonic())
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
        typer.Option(help="serve the processes' summed /metrics here (BRANDCARE_METRICS_PORT)"),
    ] = None,
) -> None:
    """Dramatiq worker processes for BRANDCARE_BROKER_URL (scale out: run more of these)."""
    import os

    settings = _settings()
    if not settings.broker_url:
        raise _fail(
            "`brandcare worker` needs BRANDCARE_BROKER_URL (redis://... or amqp://...); "
            "without one, `brandcare run` runs workers in-process"
        )
    import sys

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
    metrics_port = metrics_port or settings.metrics_port
    if metrics_port:
        from brandcare import metrics_http

        try:
            metrics_http.check_exposure(settings.metrics_host, metrics_http.token_of(settings))
        except metrics_http.MetricsExposureError as exc:
            raise _fail(str(exc)) from exc
        os.environ.update(metrics_http.worker_environment(metrics_port))
        args += ["--fork-function", "brandcare.metrics_http:serve_workers"]
    os.execv(args[0], args)  # noqa: S606  (replace this process with Dramatiq's CLI)


@app.command()
def rescore(
    days: Annotated[float, typer.Option(help="mentions posted in the last N days")] = 7.0,
    brand: Annotated[str | None, typer.Option(help="brand slug (default all)")] = None,
    batch: Annotated[int, typer.Option(help="mentions per forward pass and transaction")] = 256,
) -> None:
    """Score recent mentions again with the current model (after a retraining).

    The new version's scores sit beside the old ones and are the ones the inbox, digests
    and alerts read (one score per mention, the newest); drafts keep their state.
    """
    import datetime as dt

    from sqlalchemy import select

    from brandcare import runtime
    from brandcare.store import transaction
    from brandcare.store.models import BrandRow, MentionRow

    settings = _settings()
    pipe = runtime.ensure(settings)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with transaction(pipe.sessions) as s:
        stmt = select(MentionRow.id).where(
            MentionRow.created_at >= since, MentionRow.deleted_at.is_(None)
        )
        if brand:
            brand_id = s.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).first()
            if brand_id is None:
                raise _fail(f"no brand {brand!r}")
            stmt = stmt.where(MentionRow.brand_id == brand_id)
        ids = list(s.scalars(stmt.order_by(MentionRow.id)))
    done = 0
    for start in range(0, len(ids), batch):
        done += len(pipe.rescore(ids[start : start + batch]))
    typer.echo(
        f"{done} of {len(ids)} mentions rescored by {pipe.scorer().model_version} "
        f"({len(ids) - done} had its score already)"
    )


@app.command("queue")
def queue_(
    limit: Annotated[int, typer.Option(help="drafts to show")] = 20,
    brand: Annotated[str | None, typer.Option(help="brand slug")] = None,
) -> None:
    """Pending drafts, highest priority first (urgency, reach, age)."""
    from sqlalchemy import select

    from brandcare.reports import queue_lines
    from brandcare.store import make_engine, queries, session_factory, transaction
    from brandcare.store.models import BrandRow, QueryRow

    settings = _settings()
    with transaction(session_factory(make_engine(settings.database_url))) as s:
        brand_id = None
        if brand:
            brand_id = s.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).first()
            if brand_id is None:
                raise _fail(f"no brand {brand!r}")
        paused = s.scalars(select(QueryRow).where(QueryRow.paused_reason.is_not(None)))
        for q in paused:
            typer.echo(
                f"query {q.id} ({q.platform} {q.kind} {q.terms!r}) PAUSED: {q.paused_reason}"
            )
        brands = dict(s.execute(select(BrandRow.id, BrandRow.slug)).all())
        for line in queue_lines(queries.pending_queue(s, limit, brand_id=brand_id), brands):
            typer.echo(line)


@app.command()
def approve(
    draft_id: Annotated[int, typer.Argument(help="draft id (see `brandcare queue`)")],
    text: Annotated[str | None, typer.Option(help="replace the draft's text")] = None,
    by: Annotated[str, typer.Option(help="who approves")] = "",
) -> None:
    """Approve a pending draft (optionally edited) and send it, exactly once."""
    from brandcare.review import ReviewError, approve_draft

    settings = _settings()
    try:
        outcome = approve_draft(settings, draft_id, text=text, actor=by or _whoami())
    except ReviewError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(outcome)


@app.command()
def reject(
    draft_id: Annotated[int, typer.Argument(help="draft id")],
    reason: Annotated[str, typer.Option(help="why (required; shown in the audit log)")],
    by: Annotated[str, typer.Option(help="who rejects")] = "",
) -> None:
    """Reject a pending draft; nothing is sent."""
    from brandcare.review import ReviewError, reject_draft

    settings = _settings()
    try:
        reject_draft(settings, draft_id, reason=reason, actor=by or _whoami())
    except ReviewError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"draft {draft_id} rejected")


@app.command()
def unskip(
    draft_id: Annotated[int, typer.Argument(help="a skipped draft's id")],
    reason: Annotated[str, typer.Option(help="why it is not trolling (audit log)")],
    by: Annotated[str, typer.Option(help="who un-skips")] = "",
) -> None:
    """Put a mention the model judged trolling back in the queue of pending drafts."""
    from brandcare.review import ReviewError, unskip_draft

    settings = _settings()
    try:
        unskip_draft(settings, draft_id, reason=reason, actor=by or _whoami())
    except ReviewError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"draft {draft_id} is pending again")


def _whoami() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


@bench_app.command("alerts")
def bench_alerts(
    seed: Annotated[int, typer.Option(help="seed of the month shown in detail")] = 7,
    months: Annotated[int, typer.Option(help="more generated months for the summary")] = 5,
) -> None:
    """The spike detector on generated months with seasonality, bursts and decoys."""
    from brandcare.bench_alerts import run_alerts_benchmark

    _settings()
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
    from brandcare.bench_digest import run_digest_benchmark

    _settings()
    counts = [int(x) for x in sizes.split(",") if x.strip()]
    typer.echo(run_digest_benchmark(counts, postgres or None))


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
    from brandcare.bench_pipeline import run_pipeline_benchmark

    _settings()
    typer.echo(
        run_pipeline_benchmark(
            n, postgres=postgres or None, redis=redis or None, processes=processes
        )
    )


@bench_app.command("load")
def bench_load(
    mentions: Annotated[int, typer.Option(help="mentions replayed per run")] = 100_000,
    workers: Annotated[str, typer.Option(help="worker processes per run, comma-separated")] = (
        "1,2,4"
    ),
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
    timeout: Annotated[float, typer.Option(help="seconds one run may take")] = 3600.0,
    out: Annotated[Path | None, typer.Option(help="also write the results as JSON here")] = None,
) -> None:
    """The production shape under load: throughput, queue lag, latency and memory by workers.

    Exits 1 when a count check fails (a mention lost or done twice, a send without an
    approval or an approval without a send).
    """
    from brandcare.bench_load import LoadBenchError, run_load_benchmark
    from brandcare.bench_load_report import LoadOptions

    # The report is the output: thousands of INFO lines (one per approval) would bury it.
    logs.configure("WARNING", Settings().log_format)
    try:
        counts = tuple(int(x) for x in workers.split(",") if x.strip())
    except ValueError as exc:
        raise _fail(f"--workers takes whole numbers separated by commas, got {workers!r}") from exc
    if not counts or min(counts) < 1:
        raise _fail(f"--workers needs at least one count of 1 or more, got {workers!r}")
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
    try:
        text, passed = run_load_benchmark(options, out)
    except LoadBenchError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(text)
    if not passed:
        raise typer.Exit(1)


@import_app.command("conversations")
def import_conversations(
    file: Annotated[Path, typer.Argument(help="JSON Lines of past conversations")],
    brand: Annotated[
        str | None, typer.Option(help="remember everything under this brand slug")
    ] = None,
    create_brands: Annotated[
        bool, typer.Option(help="create a brand for a company handle no brand answers to")
    ] = False,
) -> None:
    """Seed reply memory with past mention -> reply pairs (importing twice stores once)."""
    from brandcare.conversations import import_conversations as run_import
    from brandcare.conversations import load_file
    from brandcare.scoring_io import MalformedInputError
    from brandcare.store import make_engine, migrate, session_factory, transaction

    settings = _settings()
    try:
        items = load_file(file)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise _fail(f"{file} is not UTF-8 text (byte {exc.start}): {exc.reason}", 2) from exc
    except MalformedInputError as exc:
        raise _fail(str(exc), 2) from exc
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(session_factory(engine)) as s:
            report = run_import(s, items, brand=brand, create_brands=create_brands)
    except LookupError as exc:
        raise _fail(str(exc).strip("'\""), 2) from exc
    finally:
        engine.dispose()
    for line in report.lines():
        typer.echo(line)
    typer.echo(
        f"{sum(report.stored.values())} replies remembered, "
        f"{sum(report.already.values())} already there, {sum(report.skipped.values())} skipped"
    )


@app.command()
def draft(
    file: Annotated[
        Path | None,
        typer.Argument(help="JSON Lines of {id, text, brand, author, platform}; stdin if omitted"),
    ] = None,
    templates_only: Annotated[
        bool, typer.Option(help="draft from the templates only, never from past replies")
    ] = False,
    threshold: Annotated[
        float | None, typer.Option(help="similarity from which a past reply is adapted")
    ] = None,
) -> None:
    """Draft replies: one JSON line out per mention in ({id, draft, based_on, skip_reason})."""
    from brandcare.drafting_io import DRAFT_SHAPE, DraftRequest, draft_records
    from brandcare.scoring_io import MalformedInputError, parse_requests
    from brandcare.store import make_engine, migrate, session_factory

    settings = _settings()
    try:
        stream = sys.stdin if file is None else file.open(encoding="utf-8", errors="strict")
        with stream:
            requests = parse_requests(stream, DraftRequest, DRAFT_SHAPE)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise _fail(f"input is not UTF-8 text (byte {exc.start}): {exc.reason}", 2) from exc
    except MalformedInputError as exc:
        raise _fail(str(exc), 2) from exc
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        records = draft_records(
            session_factory(engine),
            _scorer(settings),
            requests,
            templates_only=templates_only,
            threshold=threshold,
        )
    finally:
        engine.dispose()
    out = sys.stdout.buffer
    for record in records:
        out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace"))
    out.flush()


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
    from brandcare.bench_drafts import run_drafts_benchmark, run_search_benchmark
    from sentiment.data import DatasetMissingError, shared_dir

    _settings()
    if search:
        typer.echo(run_search_benchmark([int(x) for x in sizes.split(",") if x.strip()]))
        return
    try:
        folder = shared or shared_dir()
    except DatasetMissingError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(run_drafts_benchmark(folder))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
