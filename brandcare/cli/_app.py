"""The command line's shared pieces: the Typer apps and what every command needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from brandcare.cli._errors import Code, Group, HelpGroup, say, settings_error
from brandcare.config import Settings
from brandcare.ops import logs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

EPILOG = (
    "Exit codes: 0 ok; 1 the answer is no (a failed check, a refused action); 2 bad flags "
    "or input; 3 a setting that cannot be used; 4 no such brand, draft or user; 5 no "
    "database or an old schema (`brandcare migrate`); 6 database unreachable; 7 broker "
    "unreachable; 8 port taken; 9 model missing; 10 datasets missing; 130 Ctrl-C."
)


def _group(**words: Any) -> typer.Typer:
    # Plain help (no boxes): paragraphs wrap to the terminal, flags show no "<bool>".
    words.setdefault("cls", HelpGroup)
    return typer.Typer(no_args_is_help=True, rich_markup_mode=None, **words)


app = _group(
    help="brandcare: open-source social care. Listen, score, draft, approve, send.",
    epilog=EPILOG,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)
bench_app = _group(help="Benchmarks that print numbers.")
app.add_typer(bench_app, name="bench")
users_app = _group(help="Web inbox accounts and API tokens.")
app.add_typer(users_app, name="users")
feedback_app = _group(help="Agents' label corrections, for retraining.")
app.add_typer(feedback_app, name="feedback")
alerts_app = _group(help="Spike alerts on negative mentions.")
app.add_typer(alerts_app, name="alerts")
import_app = _group(help="Bring in history: past replies for drafts.")
app.add_typer(import_app, name="import")


def load_settings() -> Settings:
    """The settings from the environment (and ``.env``), with logging set up by them."""
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError, a settings source's error
        raise fail(f"bad setting: {settings_error(exc) or exc}", Code.SETTINGS) from exc
    logs.setup(settings)
    return settings


def fail(message: str, code: int = Code.FAILED) -> typer.Exit:
    """Say ``message`` (one line) and return the exit to raise."""
    say(message)
    return typer.Exit(code)


def require_database(settings: Settings) -> None:
    """Exit (``Code.SCHEMA``) unless the settings' database exists at the code's schema.

    Never creates a database: a command that needs one says what to run instead.
    """
    from brandcare.ops.logs import redact_url
    from brandcare.store.migrate import DatabaseNotReady, require_current, sqlite_file

    url = settings.database_url
    shown = None if sqlite_file(url) else f"the database at {redact_url(url).split('?')[0]}"
    try:
        require_current(url, shown)
    except DatabaseNotReady as exc:
        raise fail(f"{exc}{demo_hint(settings)}", Code.SCHEMA) from exc


def open_store(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the settings' database, which must exist at the code's schema."""
    from brandcare.store import make_engine, session_factory

    require_database(settings)
    return session_factory(make_engine(settings.database_url))


def no_brand(s: Session, slug: str) -> str:
    """The message for an unknown brand slug, naming the ones there are."""
    from sqlalchemy import select

    from brandcare.store.models import BrandRow

    known = ", ".join(s.scalars(select(BrandRow.slug).order_by(BrandRow.slug)))
    return f"no brand {slug!r}; known brands: {known or 'none (add them with `brandcare setup`)'}"


#: Where ``brandcare demo`` keeps its database when no --database is given.
DEMO_DATABASE = "brandcare-demo.db"


def demo_hint(settings: Settings) -> str:
    """A pointer at the demo's database, when the default one is missing beside it."""
    if settings.database_url != "sqlite:///brandcare.db" or not Path(DEMO_DATABASE).is_file():
        return ""
    return (
        f" (the demo's database is {DEMO_DATABASE}: put "
        f"BRANDCARE_DATABASE_URL=sqlite:///{DEMO_DATABASE} before the command to use it)"
    )


def load_scorer(  # type: ignore[no-untyped-def]
    settings: Settings, quantize: bool | None = None, *, trace: bool | None = None
):
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
            trace=settings.score_trace if trace is None else trace and settings.score_trace,
        )
    except (ArtifactError, ExternalSentimentError) as exc:
        raise fail(str(exc), Code.MODEL) from exc


def model_dir(settings: Settings) -> Path:
    from sentiment.artifacts import default_model_dir

    return settings.model_dir or default_model_dir()


def check_shared(shared: Path | None) -> None:
    """Exit (``Code.DATA``) when a --shared folder was given that holds no datasets/."""
    if shared is not None and not (shared / "datasets").is_dir():
        raise fail(
            f"no datasets/ folder in {shared}: --shared takes the folder that holds datasets/ "
            "(../shared beside the checkout)",
            Code.DATA,
        )


def repo_build() -> Path:
    """``build/`` beside ``models/``: caches that a checkout can drop at any time."""
    from sentiment.artifacts import default_model_dir

    return default_model_dir().parent.parent / "build"


def whoami() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"
