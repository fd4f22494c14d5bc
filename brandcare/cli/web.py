"""The web inbox and its accounts: serve, users."""

from __future__ import annotations

import errno
import socket
import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer

from brandcare.cli._app import app, fail, load_settings, open_store, require_database, users_app
from brandcare.cli._errors import Code, say
from brandcare.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for the server to listen on; OSError if taken."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn binds: a port in TIME_WAIT is free, one another program listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _free_port(host: str, after: int, tries: int = 50) -> socket.socket | None:
    for candidate in range(after + 1, min(after + 1 + tries, 65536)):
        try:
            return bind(host, candidate)
        except OSError:
            continue
    return None


def claim_port(host: str, port: int | None, default: int) -> socket.socket:
    """Bind the port to serve on before anything is printed about it.

    ``port`` given (a flag) and taken: exit with the flag to choose another. Not given
    and the default is taken: the next free port, said on standard error.
    """
    wanted = port or default
    try:
        return bind(host, wanted)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise fail(f"cannot listen on {host}:{wanted}: {exc.strerror}", Code.PORT) from exc
        other = _free_port(host, wanted)
        if port is None and other is not None:
            say(f"port {wanted} on {host} is taken; using {other.getsockname()[1]} instead")
            return other
        hint = f" (--port {other.getsockname()[1]} is free)" if other is not None else ""
        if other is not None:
            other.close()
        raise fail(
            f"port {wanted} on {host} is taken by another program (an earlier demo or "
            f"`brandcare serve` still running?): choose another with --port{hint}",
            Code.PORT,
        ) from exc


def serve_app(settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve the web app on ``sock`` (bound by ``claim_port``), else on the settings' port."""
    import uvicorn

    from brandcare.web import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        # uvicorn's lines go through our handler: the same format, and redacted.
        log_config=None,
        proxy_headers=True,
    )
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (BRANDCARE_WEB_HOST)")] = None,
    port: Annotated[
        int | None, typer.Option(help="port (BRANDCARE_WEB_PORT)", min=0, max=65535)
    ] = None,
) -> None:
    """The web inbox for agents, marketing and admins.

    Create the first admin with `brandcare users add NAME --role admin`.
    """
    settings = load_settings()
    updates: dict[str, object] = {}
    if host:
        updates["web_host"] = host
    settings = settings.model_copy(update=updates)
    require_database(settings)
    sock = claim_port(settings.web_host, port or settings.web_port, settings.web_port)
    bound = sock.getsockname()[1]
    settings = settings.model_copy(update={"web_port": bound})
    typer.echo(f"web inbox on http://{settings.web_host}:{bound}/", err=True)
    serve_app(settings, sock)


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


def _users_tx(*, create: bool = False) -> AbstractContextManager[Session]:
    """A transaction on the database; ``create``: make and migrate it first (the first
    admin of a new deployment), else it must be there."""
    from brandcare.store import make_engine, migrate, session_factory, transaction

    settings = load_settings()
    if not create:
        return transaction(open_store(settings))
    migrate.upgrade(settings.database_url)
    return transaction(session_factory(make_engine(settings.database_url)))


def _user_error(exc: Exception) -> typer.Exit:
    return fail(str(exc), Code.NOT_FOUND if str(exc).startswith("no ") else Code.FAILED)


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
        with _users_tx(create=True) as s:
            user = add_user(s, username, password, role)
    except UserError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"user {user.username} ({user.role}) created")


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Argument(help="login name")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="what the token may do, repeatable: inbox (the inbox's API routes, as the "
            "user's role allows; the default) and score (POST /api/v1/score)"
        ),
    ] = None,
) -> None:
    """Issue a new API token for the user (the old one stops working); printed once.

    A scoring integration wants `--scope score` alone: its token scores texts and reads
    nothing of the inbox. `--scope inbox --scope score` gives both.
    """
    from brandcare.agents.users import DEFAULT_SCOPES, UserError, check_scopes, issue_token

    try:
        scopes = check_scopes(scope or DEFAULT_SCOPES)
    except UserError as exc:
        raise fail(f"--scope: {exc}", Code.USAGE) from exc
    try:
        with _users_tx() as s:
            token = issue_token(s, username, scopes)
    except UserError as exc:
        raise _user_error(exc) from exc
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
        raise _user_error(exc) from exc
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@users_app.command("list")
def users_list() -> None:
    """Accounts, their roles and their API token's scopes."""
    from brandcare.agents.users import list_users

    with _users_tx() as s:
        for u in list_users(s):
            state = "disabled" if u.disabled else "active"
            token = f"token: {u.api_token_scopes.replace(' ', ',')}" if u.api_token_hash else "-"
            typer.echo(f"{u.username:<24} {u.role:<10} {state:<9} {token}")
