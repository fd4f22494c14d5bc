"""The web inbox and its accounts: serve, users."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer

from brandcare.cli._app import app, fail, load_settings, users_app
from brandcare.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def serve_app(settings: Settings) -> None:
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

    settings = load_settings()
    updates: dict[str, object] = {}
    if host:
        updates["web_host"] = host
    if port:
        updates["web_port"] = port
    settings = settings.model_copy(update=updates)
    current, head = migrate.current(settings.database_url), migrate.head()
    if current != head:
        raise fail(
            f"the database is at revision {current or 'none'}, the code needs {head}: "
            "run `brandcare migrate` first"
        )
    typer.echo(f"web inbox on http://{settings.web_host}:{settings.web_port}/", err=True)
    serve_app(settings)


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

    settings = load_settings()
    migrate.upgrade(settings.database_url)
    return transaction(session_factory(make_engine(settings.database_url)))


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="agent, marketing or admin")] = "agent",
) -> None:
    """Create an account (the password is read from a prompt, stdin or
    BRANDCARE_NEW_PASSWORD; it never appears in the shell history)."""
    from brandcare.agents.users import UserError, add_user

    password = _password(username)
    try:
        with _users_tx() as s:
            user = add_user(s, username, password, role)
    except UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"user {user.username} ({user.role}) created")


@users_app.command("token")
def users_token(username: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Issue a new API token for the user (the old one stops working); printed once."""
    from brandcare.agents.users import UserError, issue_token

    try:
        with _users_tx() as s:
            token = issue_token(s, username)
    except UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(token)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="login name")],
    enable: Annotated[bool, typer.Option(help="re-enable instead")] = False,
) -> None:
    """Disable an account: its sessions and API token stop working at once."""
    from brandcare.agents.users import UserError, set_disabled

    try:
        with _users_tx() as s:
            set_disabled(s, username, not enable)
    except UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@users_app.command("list")
def users_list() -> None:
    """Accounts and their roles."""
    from brandcare.agents.users import list_users

    with _users_tx() as s:
        for u in list_users(s):
            state = "disabled" if u.disabled else "active"
            token = "token" if u.api_token_hash else "-"
            typer.echo(f"{u.username:<24} {u.role:<10} {state:<9} {token}")
