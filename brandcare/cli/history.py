"""Bringing in history: past mention -> reply pairs for the reply memory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brandcare.cli._app import fail, import_app, load_settings
from brandcare.cli._errors import Code


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
    from brandcare.contracts import MalformedInputError
    from brandcare.replies.conversations import import_conversations as run_import
    from brandcare.replies.conversations import load_file
    from brandcare.store import make_engine, migrate, session_factory, transaction

    settings = load_settings()
    try:
        items = load_file(file)
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise fail(f"{file} is not UTF-8 text (byte {exc.start}): {exc.reason}", 2) from exc
    except MalformedInputError as exc:
        raise fail(str(exc), 2) from exc
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(session_factory(engine)) as s:
            report = run_import(s, items, brand=brand, create_brands=create_brands)
    except LookupError as exc:
        raise fail(str(exc).strip("'\""), Code.NOT_FOUND) from exc
    finally:
        engine.dispose()
    for line in report.lines():
        typer.echo(line)
    typer.echo(
        f"{sum(report.stored.values())} replies remembered, "
        f"{sum(report.already.values())} already there, {sum(report.skipped.values())} skipped"
    )
