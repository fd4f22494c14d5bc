"""What a command says when something a user can cause stops it: one line, one exit code.

Missing or old schema, a wrong database or broker URL, a server that does not answer,
a busy port, a missing model, an unknown brand or draft, bad flags: each is one line on
standard error naming what is wrong and the command that fixes it, with its own exit
code (``Code``; docs/pipeline.md's "Exit codes" lists them). A traceback is left for what no
user can cause: a bug.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import typer
from typer._click import exceptions as click  # Typer's own copy of click raises these
from typer.core import TyperGroup


class Code(IntEnum):
    """The command line's exit codes."""

    OK = 0
    #: The command ran and the answer is no: a health check failed, a review action was
    #: refused (a draft in another state, held by another agent), a regression.
    FAILED = 1
    #: Bad flags, arguments or input file (click's own code for usage errors).
    USAGE = 2
    #: A setting (environment variable, URL) that cannot be used as it is.
    SETTINGS = 3
    #: No such brand, draft or user.
    NOT_FOUND = 4
    #: No database there, or one without brandcare's schema or with an old one:
    #: `brandcare migrate`.
    SCHEMA = 5
    #: The database does not answer.
    DATABASE = 6
    #: The broker does not answer.
    BROKER = 7
    #: The port to serve on is taken.
    PORT = 8
    #: The scorer's artifacts (or the sentiment model named in settings) are missing.
    MODEL = 9
    #: The datasets in ../shared that training and benchmarks read are missing.
    DATA = 10
    #: Stopped with Ctrl-C.
    INTERRUPTED = 130


def say(message: str) -> None:
    """One line on standard error, prefixed like every message of the command line."""
    typer.echo(f"brandcare: {message.strip()}", err=True)


def settings_error(exc: BaseException) -> str | None:
    """A pydantic validation error of the settings, as the variables a user sets."""
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ != "ValidationError" or not callable(errors):
        return None
    if getattr(exc, "title", "") not in ("Settings", "ProfileSecrets"):
        return None  # another model's validation: not something set in the environment
    parts = []
    for error in errors():
        loc = ".".join(str(x) for x in error.get("loc", ())) or "settings"
        name = loc if loc.isupper() else f"BRANDCARE_{loc.upper()}"
        parts.append(f"{name}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or str(exc)


def _module_error(exc: BaseException, module: str, *names: str) -> bool:
    return any(
        cls.__module__.startswith(module) and cls.__name__ in names for cls in type(exc).__mro__
    )


def _config(exc: BaseException) -> tuple[str, Code] | None:
    """Settings, URLs and ports: what a user set that cannot be used."""
    from brandcare.store.migrate import DatabaseNotReady

    if isinstance(exc, DatabaseNotReady):
        return str(exc), Code.SCHEMA
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"the port is taken ({exc.strerror}): choose another with --port", Code.PORT
    settings = settings_error(exc)
    if settings is not None:
        return f"bad setting: {settings}", Code.SETTINGS
    if _module_error(exc, "sqlalchemy", "ArgumentError", "NoSuchModuleError"):
        return (
            f"BRANDCARE_DATABASE_URL is not a database URL brandcare can use ({exc}): "
            "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB",
            Code.SETTINGS,
        )
    if _module_error(exc, "brandcare.pipeline.queue", "BrokerConfigError"):
        return str(exc), Code.SETTINGS
    return None


def _servers(exc: BaseException) -> tuple[str, Code] | None:
    """The database and the broker: not there, not answering, or without the schema."""
    from brandcare.ops.outage import schema_missing, unreachable

    if schema_missing(exc):
        return (
            "the database has no brandcare schema, or an old one: run `brandcare migrate`",
            Code.SCHEMA,
        )
    down = unreachable(exc)
    if down is None:
        return None
    if down.dependency == "database":
        return (
            f"cannot reach the database ({down.detail}): is it running, and is "
            "BRANDCARE_DATABASE_URL right? `brandcare health` checks both",
            Code.DATABASE,
        )
    return (
        f"cannot reach the broker ({down.detail}): is it running, and is "
        "BRANDCARE_BROKER_URL right? `brandcare health` checks both",
        Code.BROKER,
    )


def _files(exc: BaseException) -> tuple[str, Code] | None:
    """The model and the datasets, which live in folders a user chooses."""
    if _module_error(exc, "sentiment.", "ArtifactError", "ExternalSentimentError"):
        return str(exc), Code.MODEL
    if _module_error(exc, "sentiment.", "DatasetMissingError"):
        return str(exc), Code.DATA
    return None


def explain(exc: BaseException) -> tuple[str, Code] | None:
    """The one-line message and exit code for a condition a user can cause; None for a bug."""
    for recognise in (_config, _servers, _files):
        found = recognise(exc)
        if found is not None:
            return found
    return None


class HelpGroup(TyperGroup):
    """A group whose command list shows each command's first sentence whole, wrapped to
    the terminal, instead of cut at the column's width with "..."."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class Group(HelpGroup):
    """The root command: usage errors and user-caused conditions as one line, no traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except click.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "brandcare"
            say(f"{exc.format_message()} (see `{where} --help`)")
            sys.exit(Code.USAGE)
        except click.ClickException as exc:
            say(exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort:
            say("aborted")
            sys.exit(Code.INTERRUPTED)
        except Exception as exc:
            known = explain(exc)
            if known is None:
                raise
            say(known[0])
            sys.exit(known[1])
        sys.exit(result if isinstance(result, int) else Code.OK)
