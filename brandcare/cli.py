"""The ``brandcare`` command line: the contract other tools and people rely on."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from brandcare import logs
from brandcare.config import Settings

app = typer.Typer(
    help="brandcare: open-source social care. Listen, score, draft, approve, send.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print numbers.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _settings() -> Settings:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
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
    out = sys.stdout
    for start in range(0, len(requests), batch):
        for record in score_records(scorer, requests[start : start + batch]):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()


@app.command()
def train(
    out: Annotated[
        Path | None, typer.Option(help="artifact folder (default models/scorer)")
    ] = None,
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    epochs: Annotated[int | None, typer.Option(help="override the fine-tuning epochs")] = None,
) -> None:
    """Reproduce the scorer's artifacts from ../shared/datasets (about 20 minutes on 2 cores)."""
    from sentiment.data import DatasetMissingError
    from sentiment.train import TrainConfig
    from sentiment.train import train as run_training

    _settings()
    config = TrainConfig() if epochs is None else TrainConfig(epochs=epochs)
    try:
        folder = run_training(out, shared, config)
    except DatasetMissingError as exc:
        raise _fail(str(exc)) from exc
    typer.echo((folder / "MODEL_CARD.md").read_text())


@app.command()
def evaluate(
    shared: Annotated[Path | None, typer.Option(help="the shared folder holding datasets/")] = None,
    limit: Annotated[int | None, typer.Option(help="evaluate on the first N items per set")] = None,
    fp32: Annotated[bool, typer.Option(help="also evaluate the unquantized model")] = True,
) -> None:
    """Print the scorer's metrics on held-out validation data, against the targets."""
    from sentiment.data import DatasetMissingError, load_corpus
    from sentiment.evaluate import evaluate_scorer, format_table

    settings = _settings()
    try:
        corpus = load_corpus(shared)
    except DatasetMissingError as exc:
        raise _fail(str(exc)) from exc
    variants = {"production": _scorer(settings)}
    if fp32 and variants["production"].quantized:
        variants["fp32"] = _scorer(settings, quantize=False)
    reports = {
        f"{name} ({scorer.model_version})": evaluate_scorer(scorer, corpus, limit=limit)
        for name, scorer in variants.items()
    }
    typer.echo(format_table(reports))


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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
