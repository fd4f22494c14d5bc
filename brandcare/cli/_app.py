"""The command line's shared pieces: the Typer apps and what every command needs."""

from __future__ import annotations

from pathlib import Path

import typer

from brandcare.config import Settings
from brandcare.ops import logs

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


def load_settings() -> Settings:
    settings = Settings()
    logs.setup(settings)
    return settings


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"brandcare: {message}", err=True)
    return typer.Exit(code)


def load_scorer(settings: Settings, quantize: bool | None = None):  # type: ignore[no-untyped-def]
    from sentiment.artifacts import ArtifactError
    from sentiment.external import ExternalSentimentError
    from sentiment.transformer import TransformerScorer

    try:
        return TransformerScorer(
            settings.model_dir,
            quantize=settings.score_quantize if quantize is None else quantize,
            batch_size=settings.score_batch_size,
            threads=settings.score_threads,
            sentiment_model=settings.sentiment_model,
            trace=settings.score_trace,
        )
    except (ArtifactError, ExternalSentimentError) as exc:
        raise fail(str(exc)) from exc


def model_dir(settings: Settings) -> Path:
    from sentiment.artifacts import default_model_dir

    return settings.model_dir or default_model_dir()


def repo_build() -> Path:
    """``build/`` beside ``models/``: caches that a checkout can drop at any time."""
    from sentiment.artifacts import default_model_dir

    return default_model_dir().parent.parent / "build"


def whoami() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"
