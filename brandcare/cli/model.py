"""Commands around the scorer and the drafter: score, train, evaluate, draft, rescore."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brandcare.cli._app import (
    app,
    check_shared,
    fail,
    load_scorer,
    load_settings,
    model_dir,
    no_brand,
    repo_build,
    require_database,
)
from brandcare.cli._errors import Code, say
from brandcare.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from sentiment.base import Scores
    from sentiment.data import Corpus
    from sentiment.judgment import Verdict


#: Texts from which `brandcare score` traces the encoder (below, start-up matters more).
TRACE_FROM = 1000


@app.command()
def score(
    file: Annotated[
        Path | None, typer.Argument(help="JSON Lines of {id, text}; standard input when omitted")
    ] = None,
    batch: Annotated[int, typer.Option(help="lines read and scored at a time", min=1)] = 2048,
) -> None:
    """Score mentions: one JSON line out per line in.

    The contract (fields, validation, errors) is in brandcare/contracts.py and
    docs/scorer.md. Loading the model takes seconds (`brandcare bench startup`
    measures it): send many texts to one call rather than one call a text.
    """
    from brandcare.contracts import MalformedInputError, parse_lines, score_records

    settings = load_settings()
    try:
        stream = sys.stdin if file is None else file.open(encoding="utf-8", errors="strict")
        with stream:
            requests = parse_lines(stream)
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise fail(f"input is not UTF-8 text (byte {exc.start}): {exc.reason}", 2) from exc
    except MalformedInputError as exc:
        raise fail(str(exc), 2) from exc
    # Tracing the encoder (checked against the eager pass) pays off over thousands of
    # texts, not over a few: a short input starts without it.
    scorer = load_scorer(settings, trace=len(requests) >= TRACE_FROM)
    out = sys.stdout.buffer
    for start in range(0, len(requests), batch):
        for record in score_records(scorer, requests[start : start + batch]):
            # "replace": an id holding half an emoji still gives a valid UTF-8 line.
            out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace"))
    out.flush()


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
    epochs: Annotated[int | None, typer.Option(help="override stage 1's epochs")] = None,
    care_epochs: Annotated[
        int | None, typer.Option(help="override stage 2's (the care decisions') epochs")
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="run stage 1 again even when build/train-cache holds its result for this "
            "config and data",
        ),
    ] = False,
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
    """Reproduce the scorer's artifacts from ../shared/datasets and sentiment/corpus.

    Stage 1 (tweet tasks) takes about 40 minutes on 2 cores and is cached in
    build/train-cache; stage 2 (the care decisions) and the evaluation about 30 more.
    With --feedback, refit only the heads on agents' corrections (a few minutes) and
    write a new model version with its before/after report.
    """
    from sentiment.care_training import CareConfig
    from sentiment.data import DatasetMissingError
    from sentiment.recipe import TrainConfig
    from sentiment.train import train as run_training

    settings = load_settings()
    check_shared(shared)
    if feedback is not None:
        _train_feedback(settings, feedback, source, out, shared, base_limit, eval_limit)
        return
    config = TrainConfig() if epochs is None else TrainConfig(epochs=epochs)
    care = CareConfig() if care_epochs is None else CareConfig(epochs=care_epochs)
    try:
        folder = run_training(
            out,
            shared,
            config,
            care,
            cache_dir=None if fresh else repo_build() / "train-cache",
            decide=policy_verdict,
        )
    except DatasetMissingError as exc:
        raise fail(str(exc), Code.DATA) from exc
    typer.echo((folder / "MODEL_CARD.md").read_text())


def policy_verdict(scores: Scores) -> Verdict:
    """The care team's decision (``responders.policy``) as the judgment table reads it."""
    from responders.policy import decide
    from sentiment.judgment import Verdict

    decision = decide(scores)
    return Verdict(
        needs_reply=decision.needs_reply,
        troll=decision.troll,
        level=decision.urgency_level,
        reasons=decision.reasons,
    )


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
    from sentiment.data import DatasetMissingError
    from sentiment.feedback.corrections import CorrectionsFileError
    from sentiment.feedback.evaluate import format_report
    from sentiment.feedback.train import FeedbackConfig, FeedbackError, train_with_feedback

    config = FeedbackConfig(base_limit=base_limit, eval_limit=eval_limit)
    try:
        result = train_with_feedback(
            source or model_dir(settings),
            feedback,
            out,
            shared,
            config,
            cache_dir=repo_build() / "feedback-cache",
        )
    except (DatasetMissingError, ArtifactError, CorrectionsFileError, FeedbackError) as exc:
        raise fail(str(exc)) from exc
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
    """Print the scorer's metrics and judgment table on held-out data, against the targets."""
    from sentiment.data import DatasetMissingError, load_corpus
    from sentiment.evaluate import evaluate_scorer, format_table
    from sentiment.judgment import evaluate_judgment, format_judgment

    settings = load_settings()
    check_shared(shared)
    try:
        corpus = load_corpus(shared)
    except DatasetMissingError as exc:
        raise fail(str(exc), Code.DATA) from exc
    if feedback is not None:
        _evaluate_feedback(feedback, model or model_dir(settings), baseline, corpus, limit)
        return
    variants = {"production": load_scorer(settings)}
    if fp32 and variants["production"].quantized:
        variants["fp32"] = load_scorer(settings, quantize=False)
    reports = {
        f"{name} ({scorer.model_version})": evaluate_scorer(scorer, corpus, limit=limit)
        for name, scorer in variants.items()
    }
    typer.echo(format_table(reports))
    held = corpus.judgment_heldout[:limit] if limit else corpus.judgment_heldout
    judgments = {
        name: evaluate_judgment(scorer, held, policy_verdict) for name, scorer in variants.items()
    }
    typer.echo("\nJudgment: the held-out 30% of care_judgment, decisions by the policy\n")
    typer.echo(format_judgment(judgments))


def _evaluate_feedback(
    feedback: Path,
    model: Path,
    baseline: Path | None,
    corpus: Corpus,
    limit: int | None,
) -> None:
    from sentiment.artifacts import ArtifactError, default_model_dir, file_sha256, load_config
    from sentiment.feedback.corrections import (
        HELDOUT_FRACTION,
        SPLIT_SEED,
        CorrectionsFileError,
        read_corrections,
        split_corrections,
    )
    from sentiment.feedback.evaluate import compare, format_report
    from sentiment.transformer import TransformerScorer

    try:
        record = load_config(model).extra.get("feedback", {})
        corrections = read_corrections(feedback)
    except (ArtifactError, CorrectionsFileError) as exc:
        raise fail(str(exc)) from exc
    recorded = Path(record["source_dir"]) if "source_dir" in record else None
    before_dir = baseline or (recorded if recorded and recorded.is_dir() else default_model_dir())
    if before_dir.resolve() == model.resolve():
        raise fail(
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
        raise fail(str(exc)) from exc
    report = compare(before, after, corpus, split, limit=limit)
    typer.echo(format_report(report, split))
    if report.regressions:
        names = ", ".join(name for name, _, _ in report.regressions)
        raise fail(f"regression of more than 1 point after retraining: {names}")


@app.command()
def rescore(
    days: Annotated[float, typer.Option(help="mentions posted in the last N days")] = 7.0,
    brand: Annotated[str | None, typer.Option(help="brand slug (default all)")] = None,
    batch: Annotated[
        int, typer.Option(help="mentions per forward pass and transaction", min=1)
    ] = 256,
) -> None:
    """Score recent mentions again with the current model (after a retraining).

    The new version's scores sit beside the old ones and are the ones the inbox, digests
    and alerts read (one score per mention, the newest); drafts keep their state.
    """
    import datetime as dt

    from sqlalchemy import select

    from brandcare.pipeline import runtime
    from brandcare.store import transaction
    from brandcare.store.models import BrandRow, MentionRow

    settings = load_settings()
    require_database(settings)
    pipe = runtime.ensure(settings)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with transaction(pipe.sessions) as s:
        stmt = select(MentionRow.id).where(
            MentionRow.created_at >= since, MentionRow.deleted_at.is_(None)
        )
        if brand:
            brand_id = s.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).first()
            if brand_id is None:
                raise fail(no_brand(s, brand), Code.NOT_FOUND)
            stmt = stmt.where(MentionRow.brand_id == brand_id)
        ids = list(s.scalars(stmt.order_by(MentionRow.id)))
    done = 0
    for start in range(0, len(ids), batch):
        done += len(pipe.rescore(ids[start : start + batch]))
    typer.echo(
        f"{done} of {len(ids)} mentions rescored by {pipe.scorer().model_version} "
        f"({len(ids) - done} had its score already)"
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
    """Draft replies: one JSON line out per mention in ({id, draft, based_on, skip_reason}).

    Brands' voices and past replies come from the database; it is read, never created. A
    brand it does not know (or no database at all) drafts from the templates in a plain
    voice signed with the brand as given, and a note on standard error says so.
    """
    from brandcare.contracts import DRAFT_SHAPE, DraftRequest, MalformedInputError, parse_requests
    from brandcare.replies.drafting import draft_records
    from brandcare.store import session_factory

    settings = load_settings()
    try:
        stream = sys.stdin if file is None else file.open(encoding="utf-8", errors="strict")
        with stream:
            requests = parse_requests(stream, DraftRequest, DRAFT_SHAPE)
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise fail(f"input is not UTF-8 text (byte {exc.start}): {exc.reason}", 2) from exc
    except MalformedInputError as exc:
        raise fail(str(exc), 2) from exc
    engine = _draft_store(settings, sorted({r.brand for r in requests}))
    try:
        records = draft_records(
            session_factory(engine),
            load_scorer(settings),
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


def _draft_store(settings: Settings, brands: list[str]) -> Engine:
    """The database ``draft`` reads voices and past replies from, and notes on what it lacks.

    No SQLite file there: an empty schema in memory (templates, plain voices), so a
    command that only reads never leaves a database behind.
    """
    from sqlalchemy.pool import StaticPool

    from brandcare.replies.conversations import brand_index, find_brand
    from brandcare.store import make_engine, session_factory, transaction
    from brandcare.store.migrate import sqlite_file
    from brandcare.store.models import Base

    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        say(
            f"note: no database at {path}: drafting from the templates in a plain voice, "
            "without past replies (`brandcare setup` and `import conversations` add them)"
        )
        engine = make_engine("sqlite://", poolclass=StaticPool)
        Base.metadata.create_all(engine)
        return engine
    require_database(settings)
    engine = make_engine(settings.database_url)
    with transaction(session_factory(engine)) as s:
        index = brand_index(s)
    unknown = [name for name in brands if find_brand(index, name) is None]
    if unknown:
        say(
            f"note: no brand {', '.join(repr(b) for b in unknown)} in the database: drafted "
            "from the templates in a plain voice signed with the name as given "
            "(`brandcare setup` adds brands and their voices)"
        )
    return engine
