"""People who sign in: accounts, password checks, API tokens, browser sessions.

Shared by ``brandcare users ...`` and the web UI. Passwords are hashed with Argon2id
(argon2-cffi's defaults follow RFC 9106's recommendation); API and session tokens are
random 256-bit values of which only a SHA-256 is stored, so the database alone never
lets anyone in. An API token carries scopes (``TOKEN_SCOPES``): ``inbox`` (the inbox's
routes, as the user's role allows) and ``score`` (scoring as a service), so a scoring
integration holds a token that cannot read a customer's post. A wrong username and a
wrong password take the same time and give the same answer, so neither can be probed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from brandcare.store.models import TOKEN_SCOPES, USER_ROLES, UserRow, WebSessionRow, utcnow

_hasher = PasswordHasher()
#: Verified against when the username is unknown, so both failures cost the same.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 10
#: A token's scopes when none are asked for: the access tokens always had.
DEFAULT_SCOPES: tuple[str, ...] = ("inbox",)


class UserError(ValueError):
    """A user account cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class User:
    """The signed-in person as the web UI and API see them."""

    id: int
    username: str
    role: str

    @property
    def can_review(self) -> bool:
        """Agents and admins act on drafts; marketing only reads."""
        return self.role in ("agent", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class ApiToken:
    """The bearer of an API token: its user, and what the token may do."""

    user: User
    scopes: frozenset[str]


@dataclass(frozen=True)
class WebSession:
    """A live browser session: who, and the token its forms must carry."""

    user: User
    csrf_token: str
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User(row.id, row.username, row.role)


def add_user(session: Session, username: str, password: str, role: str) -> User:
    """Create an account; refuses weak passwords, unknown roles and taken names."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise UserError("a username is 1-100 characters without spaces")
    if role not in USER_ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalars(select(UserRow.id).where(UserRow.username == username)).first():
        raise UserError(f"user {username!r} exists already")
    row = UserRow(username=username, password_hash=_hasher.hash(password), role=role)
    session.add(row)
    session.flush()
    return _user(row)


def set_disabled(session: Session, username: str, disabled: bool) -> None:
    """Disable (or re-enable) an account; disabling ends its sessions and token at once."""
    row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if row is None:
        raise UserError(f"no user {username!r}")
    row.disabled = disabled
    if disabled:
        row.api_token_hash = None
        session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user whose password this is, or None; rehashes when parameters have moved on."""
    row = session.scalars(select(UserRow).where(UserRow.username == username.strip())).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    return _user(row)


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes in ``TOKEN_SCOPES`` order, once each; UserError for none or an unknown one."""
    wanted = set(scopes)
    unknown = sorted(wanted - set(TOKEN_SCOPES))
    if unknown:
        raise UserError(
            f"unknown token scope {unknown[0]!r}: use one or more of {', '.join(TOKEN_SCOPES)}"
        )
    if not wanted:
        raise UserError(f"a token needs at least one scope: {', '.join(TOKEN_SCOPES)}")
    return tuple(s for s in TOKEN_SCOPES if s in wanted)


def issue_token(session: Session, username: str, scopes: Iterable[str] = DEFAULT_SCOPES) -> str:
    """A new API token for the user with ``scopes`` (the old one stops working); shown
    once, stored hashed."""
    chosen = check_scopes(scopes)
    row = session.scalars(select(UserRow).where(UserRow.username == username)).first()
    if row is None or row.disabled:
        raise UserError(f"no active user {username!r}")
    token = "bc_" + secrets.token_urlsafe(32)
    row.api_token_hash = _digest(token)
    row.api_token_scopes = " ".join(chosen)
    return token


def token_for(session: Session, token: str) -> ApiToken | None:
    """The active user an API token belongs to, with the token's scopes."""
    row = session.scalars(
        select(UserRow).where(UserRow.api_token_hash == _digest(token), UserRow.disabled.is_(False))
    ).first()
    if row is None:
        return None
    return ApiToken(_user(row), frozenset(row.api_token_scopes.split()))


def user_for_token(session: Session, token: str) -> User | None:
    """The active user an API token belongs to (whatever its scopes)."""
    found = token_for(session, token)
    return found.user if found else None


def start_session(session: Session, user: User, lifetime: dt.timedelta) -> tuple[str, WebSession]:
    """A new browser session; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSessionRow(
        id=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return token, WebSession(user, row.csrf_token, row.expires_at)


def find_session(
    session: Session, token: str, idle: dt.timedelta, *, touch: bool = True
) -> WebSession | None:
    """The live session for a cookie token, or None once expired, idle too long or disabled.

    Two clocks: ``expires_at`` is absolute (set at login); ``idle`` ends a session
    nobody used for a while, as on a shared desk. ``touch=False`` for requests a page
    makes by itself (the inbox's refresh every few seconds): they are not someone at
    the desk, so they must not keep an unattended session alive.
    """
    row = session.get(WebSessionRow, _digest(token))
    if row is None:
        return None
    now = utcnow()
    user = session.get(UserRow, row.user_id)
    if user is None or user.disabled or row.expires_at <= now or row.last_seen_at + idle <= now:
        session.delete(row)
        return None
    if touch and now - row.last_seen_at > dt.timedelta(seconds=30):  # one write per 30 s
        row.last_seen_at = now
    return WebSession(_user(user), row.csrf_token, row.expires_at)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSessionRow).where(WebSessionRow.id == _digest(token)))


def purge_sessions(session: Session) -> int:
    """Delete expired sessions; returns how many."""
    result = session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
