"""Who is asking, and may they: sessions, API tokens, roles, CSRF, response headers.

Pages use a server-side session (cookie ``bc_session``: HttpOnly, SameSite=Lax,
Secure by default) and every form carries the session's CSRF token, checked on every
POST. The JSON API takes ``Authorization: Bearer <token>`` only, never the cookie, so
a cross-site request cannot ride an agent's login; each route also asks for a scope of
the token (``inbox`` or ``score``), so a scoring integration's token reads no post.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from contextlib import AbstractContextManager
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brandcare.agents import users
from brandcare.config import Settings
from brandcare.store import transaction

SESSION_COOKIE = "bc_session"
LOGIN_CSRF_COOKIE = "bc_login_csrf"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class LoginRequired(Exception):
    """A page needs a signed-in user; the handler redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class SecurityHeaders:
    """Adds CSP and friends to every response (pure ASGI, so streaming is unaffected)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def sessions(request: Request) -> sessionmaker[Session]:
    found: sessionmaker[Session] = request.app.state.sessions
    return found


def tx(request: Request) -> AbstractContextManager[Session]:
    """One short transaction, committed when the block ends.

    Handlers open their own instead of sharing one per request: on SQLite every
    transaction holds the write lock (``BEGIN IMMEDIATE``), so a request-long one would
    block the review actions, which commit in theirs; and a redirect must only go out
    once what it reports is committed.
    """
    return transaction(sessions(request))


#: A draft's action URLs (POST only) and the page each is on.
_ACTION_URL = re.compile(r"^(/drafts/\d+)/[a-z]+/?$")


def _local(url: str | None, request: Request) -> str | None:
    """The path and query of ``url`` when it is on this site, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def return_to(request: Request) -> str:
    """Where to send the browser back after signing in: the page the person was on.

    A GET is its own page. A background refresh (HTMX) came from the page in
    ``HX-Current-URL``. A form post (an approve whose session ended while the agent
    typed) came from its Referer; never the POST-only action URL itself, which a GET
    after the login would answer with 405.
    """
    if request.headers.get("hx-request"):
        page = _local(request.headers.get("hx-current-url"), request)
        if page:
            return page
    if request.method in ("GET", "HEAD") and not request.headers.get("hx-request"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page = _local(request.headers.get("referer"), request)
    if page and page != request.url.path:
        return page
    action = _ACTION_URL.match(request.url.path)
    return action.group(1) if action else "/inbox"


def _web_session(request: Request, *, touch: bool) -> users.WebSession:
    token = request.cookies.get(SESSION_COOKIE)
    conf = settings(request)
    found = None
    if token:
        with tx(request) as s:
            idle = dt.timedelta(minutes=conf.web_idle_minutes)
            found = users.find_session(s, token, idle, touch=touch)
    if found is None:
        raise LoginRequired(return_to(request))
    return found


def web_session(request: Request) -> users.WebSession:
    """The signed-in browser, or a redirect to the login page."""
    return _web_session(request, touch=True)


def passive_session(request: Request) -> users.WebSession:
    """The signed-in browser for a request the page made by itself (a periodic refresh):
    checked like any other, but it does not count as activity for the idle timeout."""
    return _web_session(request, touch=False)


Browser = Annotated[users.WebSession, Depends(web_session)]
Passive = Annotated[users.WebSession, Depends(passive_session)]


def reviewer(ws: Browser) -> users.WebSession:
    """Agents and admins: the roles that act on drafts."""
    if not ws.user.can_review:
        raise HTTPException(403, f"the {ws.user.role} role can read the inbox but not act on it")
    return ws


def admin(ws: Browser) -> users.WebSession:
    if not ws.user.is_admin:
        raise HTTPException(403, "only admins manage users, brands and queries")
    return ws


async def csrf_token_of(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    form = await request.form()
    value = form.get("csrf_token")
    return value if isinstance(value, str) else ""


async def check_csrf(request: Request, ws: Browser) -> users.WebSession:
    """Every state-changing form must carry the session's token (synchroniser pattern)."""
    sent = await csrf_token_of(request)
    if not sent or not secrets.compare_digest(sent, ws.csrf_token):
        raise HTTPException(403, "the form's security token is missing or stale; reload the page")
    return ws


async def check_review_csrf(
    request: Request, ws: Annotated[users.WebSession, Depends(reviewer)]
) -> users.WebSession:
    return await check_csrf(request, ws)


async def check_admin_csrf(
    request: Request, ws: Annotated[users.WebSession, Depends(admin)]
) -> users.WebSession:
    return await check_csrf(request, ws)


Posting = Annotated[users.WebSession, Depends(check_csrf)]
Reviewer = Annotated[users.WebSession, Depends(check_review_csrf)]
Admin = Annotated[users.WebSession, Depends(check_admin_csrf)]
ReadAdmin = Annotated[users.WebSession, Depends(admin)]


#: Declares the bearer token in the OpenAPI document (so ``/api/docs`` has "Authorize");
#: the check itself is ``api_user``'s, with its own message.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description=(
        "A user's API token: `brandcare users token NAME` (shown once); its scopes say what "
        "it may do: `--scope inbox` (the default) and `--scope score` (POST /api/v1/score)."
    ),
)


def api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> users.ApiToken:
    """The bearer of a valid token (its user and scopes); 401 otherwise."""
    found = None
    if credentials is not None and credentials.credentials.strip():
        with tx(request) as s:
            found = users.token_for(s, credentials.credentials.strip())
    if found is None:
        raise HTTPException(
            401,
            "send a valid API token: 'Authorization: Bearer <token>' (brandcare users token NAME)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


ApiToken = Annotated[users.ApiToken, Depends(api_token)]


def require_scope(token: users.ApiToken, scope: str, what: str) -> users.User:
    """The token's user when the token has ``scope``; else 403 naming the scope and the
    command that issues a token with it (which replaces the user's current token)."""
    if scope not in token.scopes:
        held = " ".join(f"--scope {s}" for s in sorted(token.scopes | {scope}))
        raise HTTPException(
            403,
            f"this API token has no '{scope}' scope ({what}): issue one that has it with "
            f"`brandcare users token {token.user.username} {held}` where brandcare runs (it "
            "replaces the current token)",
        )
    return token.user


def api_user(token: ApiToken) -> users.User:
    """The user of a token with the inbox scope; 401 without a token, 403 without the scope."""
    return require_scope(token, "inbox", "needed for the inbox's routes")


ApiUser = Annotated[users.User, Depends(api_user)]


def api_reviewer(user: ApiUser) -> users.User:
    if not user.can_review:
        raise HTTPException(403, f"the {user.role} role can read but not act on drafts")
    return user


ApiReviewer = Annotated[users.User, Depends(api_reviewer)]


def api_scorer(token: ApiToken) -> users.User:
    """The user of a token with the score scope, whatever their role: scoring reads and
    changes nothing of the inbox."""
    return require_scope(token, "score", "needed to score texts")


ApiScorer = Annotated[users.User, Depends(api_scorer)]


def set_session_cookie(response: Response, token: str, conf: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(conf.web_session_hours * 3600),
        httponly=True,
        secure=conf.web_secure_cookies,
        samesite="lax",
        path="/",
    )


def login_redirect_target(next_url: str | None) -> str:
    """Only local paths: an open redirect after login is a phishing tool."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return "/inbox"
    if "\\" in next_url:
        return "/inbox"
    action = _ACTION_URL.match(urlsplit(next_url).path)
    if action:  # an action answers POST only: its page instead, where nothing is sent
        return action.group(1)
    return next_url


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")
