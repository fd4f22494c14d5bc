"""The inbox's pages: login, the lanes of drafts, one draft with its context, alerts.

Every page is rendered on the server with Jinja2's autoescaping on: mention text,
author names and URLs are untrusted and are only ever inserted as escaped text (links
only when they are plain http(s)). Forms post back here with the session's CSRF token;
HTMX only refreshes fragments (the queue, the character count). The administration
pages are ``web.admin``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from brandcare.agents import feedback, users
from brandcare.config import Settings
from brandcare.pipeline.base import reply_size
from brandcare.store import inbox
from brandcare.store import memory as reply_memory
from brandcare.store.models import (
    SENTIMENTS,
    URGENCY_LEVELS,
    AlertRow,
    BrandRow,
    CorrectionRow,
    DraftRow,
    MentionRow,
    QueryRow,
    ScoreRow,
    utcnow,
)
from brandcare.web import views
from brandcare.web.icons import platform_icon
from brandcare.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Browser,
    Passive,
    check_csrf,
    login_redirect_target,
    set_session_cookie,
    tx,
)
from brandcare.web.throttle import LoginThrottle
from listener.registry import label, live_platforms

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(
    ago=views.ago,
    safe_url=views.safe_url,
    compact=views.compact,
    duration=views.duration,
    day=views.day,
    handle=views.handle,
    display_name=views.display_name,
    stamp=views.stamp,
    audit_value=views.audit_value,
)
templates.env.globals.update(
    sla_status=views.sla_status,
    platform_label=label,
    platform_icon=platform_icon,
    correctable=feedback.ALLOWED_VALUES,
    held_by_other=inbox.held_by_other,
)

#: A post longer than this scrolls in its own box on the draft page, so the state, the
#: SLA and the actions never end up thousands of pixels down.
LONG_TEXT = 1200
UNDO_MINUTES = int(feedback.UNDO_WINDOW.total_seconds() // 60)

#: Messages a redirect may ask the next page to show, by code: never free text from
#: the URL, which would let a link put words in the app's mouth.
NOTICES = {
    "approved": "Approved: the reply is on its way.",
    "first_approval": "First approval recorded: a second agent must approve this draft.",
    "rejected": "Rejected: nothing will be sent.",
    "unskipped": "Back in the queue as a pending draft.",
    "requeued": "Not on the platform yet: approved again, the reply is on its way.",
    "found_sent": "The reply was already on the platform: recorded as sent, nothing posted again.",
    "saved": "Draft saved.",
    "corrected": "Label corrected: thank you, this trains the next model.",
    "released": "Released: another agent can take it.",
    "not_held": "Nothing to release: you were not holding this draft.",
    "taken": "It is yours for now: nobody else can act on it until you act or release it.",
    "uncorrected": "Correction undone: the label is as it was.",
    "user_added": "User added.",
    "user_disabled": "User disabled: their sessions and API token stop working now.",
    "user_enabled": "User enabled: they can sign in again.",
    "saved_settings": "Settings saved.",
    "token": "API token issued.",
}


def app_settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context.setdefault("notice", NOTICES.get(request.query_params.get("done", "")))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"status": status_code, "message": message, "ws": None},
        status_code=status_code,
    )  # fmt: skip


def platform_choices(s: Session) -> list[str]:
    """The inbox's platform filter: every real platform (X, Reddit, Mastodon, Bluesky, by
    name) whether or not a query watches it yet, then any other source a query names (a
    replayed file); stored names, shown with ``label``."""
    live = sorted(live_platforms(), key=label)
    others = sorted(set(s.scalars(select(QueryRow.platform).distinct())) - set(live))
    return live + others


def _filters(p: InboxQuery, s: Session) -> tuple[inbox.InboxFilter, dict[str, str]]:
    """The inbox filter from query parameters; unknown values are dropped, not trusted."""
    brand_id = None
    if p.brand:
        brand_id = s.scalars(select(BrandRow.id).where(BrandRow.slug == p.brand)).first()
    lang = p.lang if re.fullmatch(r"[a-z]{2,3}", p.lang) else ""
    platform = p.platform if p.platform in platform_choices(s) else ""
    f = inbox.InboxFilter(
        lane=p.lane if p.lane in inbox.LANES else "pending",
        brand_id=brand_id,
        platform=platform or None,
        sentiment=p.sentiment if p.sentiment in SENTIMENTS else None,
        urgency_level=p.urgency if p.urgency in URGENCY_LEVELS else None,
        text=p.q[:200] or None,
        language=lang or None,
    )
    params = {
        "lane": f.lane,
        "brand": p.brand if brand_id else "",
        "platform": platform,
        "sentiment": f.sentiment or "",
        "urgency": f.urgency_level or "",
        "lang": lang,
        "q": p.q[:200],
    }
    return f, params


# --- signing in ------------------------------------------------------------------------


def _login_form(request: Request, next_url: str, error: str | None, status: int) -> HTMLResponse:
    """The login page with a fresh double-submit token (cookie + hidden field)."""
    token = secrets.token_urlsafe(24)
    ctx = {"next": next_url, "csrf": token, "error": error, "ws": None}
    response = render(request, "login.html", ctx, status_code=status)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
        secure=app_settings(request).web_secure_cookies,
    )  # fmt: skip
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/inbox") -> HTMLResponse:
    return _login_form(request, next, None, 200)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/inbox",
) -> Response:
    """Password login; the login form is CSRF-protected too (double-submit cookie)."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        raise HTTPException(403, "the login form expired; reload the page and sign in again")
    conf = app_settings(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(username, address)
    if wait:
        log.warning("sign-in refused: too many failures (retry in %d s)", wait)
        message = f"Too many failed sign-ins. Try again in {math.ceil(wait / 60)} minutes."
        refused = _login_form(request, next, message, 429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    with tx(request) as s:
        user = users.authenticate(s, username, password)
        if user is None:
            throttle.failed(username, address)
            return _login_form(request, next, "Wrong username or password.", 401)
        throttle.succeeded(username)
        users.purge_sessions(s)  # expired ones of everyone: the table stays small
        cookie, _ = users.start_session(s, user, dt.timedelta(hours=conf.web_session_hours))
    response = RedirectResponse(login_redirect_target(next), status_code=303)
    set_session_cookie(response, cookie, conf)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, ws: Browser) -> Response:
    await check_csrf(request, ws)
    with tx(request) as s:
        users.end_session(s, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- the inbox ---------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return RedirectResponse("/inbox", status_code=303)


def _inbox_context(s: Session, ws: users.WebSession, p: InboxQuery) -> dict[str, Any]:
    f, params = _filters(p, s)
    return {
        "ws": ws,
        "items": _unheld_first(inbox.lane_items(s, f), ws.user.username),
        "counts": inbox.lane_counts(s, f),
        "lanes": list(inbox.LANES),
        "params": params,
        "query": urlencode({k: v for k, v in params.items() if v and k != "lane"}),
        "brands": inbox.brands(s),
        "show_brand": not params["brand"] and len(inbox.brands(s)) > 1,
        "platforms": platform_choices(s),
        "sentiments": SENTIMENTS,
        "urgencies": URGENCY_LEVELS,
        "languages": inbox.languages(s),
        "now": utcnow(),
    }


@dataclass(frozen=True)
class InboxQuery:
    """The inbox's query parameters (FastAPI reads them from this signature)."""

    lane: str = "pending"
    brand: str = ""
    platform: str = ""
    sentiment: str = ""
    urgency: str = ""
    q: str = ""
    #: ISO 639-1 code of the mention's language ("" = any).
    lang: str = ""


Params = Annotated[InboxQuery, Depends()]


def _inbox(request: Request, ws: users.WebSession, p: InboxQuery, template: str) -> HTMLResponse:
    with tx(request) as s:
        ctx = _inbox_context(s, ws, p)
        return render(request, template, ctx)


@router.get("/inbox")
def inbox_page(request: Request, ws: Browser, p: Params) -> HTMLResponse:
    return _inbox(request, ws, p, "inbox.html")


@router.get("/inbox/rows")
def inbox_rows(request: Request, ws: Passive, p: Params) -> HTMLResponse:
    """The lanes and the table alone: HTMX polls this so new drafts appear without a reload.

    The page asks by itself every few seconds, so it does not extend the session: an
    unattended desk is signed out after the idle timeout like any other."""
    return _inbox(request, ws, p, "_queue.html")


def draft_context(s: Session, ws: users.WebSession, draft_id: int) -> dict[str, Any]:
    found = inbox.item(s, draft_id)
    if found is None:
        raise HTTPException(404, f"no draft {draft_id}")
    m = found.mention
    corrections = inbox.corrections(s, m.id)
    return {
        "ws": ws,
        "it": found,
        "thread": inbox.thread(s, m),
        "replied": inbox.replies_in_thread(s, found.draft, m),
        "audit": inbox.audit_log(s, m.id, found.draft.id),
        "corrections": corrections,
        "labels": _labels(found.score, corrections),
        "held": inbox.held_by_other(found.draft, ws.user.username),
        "mine": _mine(found.draft, ws.user.username),
        "long_text": LONG_TEXT,
        "undo_minutes": UNDO_MINUTES,
        "undoable": {c.id for c in corrections if feedback.undoable(c, ws.user.username, utcnow())},
        "limit": reply_size(found.draft.text, m)[1],
        "length": reply_size(found.draft.text, m)[0],
        "now": utcnow(),
        "error": None,
        "text": found.draft.text,
        "next_id": _next_pending(s, draft_id),
        "based_on": reply_memory.rows(s, [found.draft.based_on]).get(found.draft.based_on)
        if found.draft.based_on is not None
        else None,
    }


def _labels(score: ScoreRow | None, corrections: list[CorrectionRow]) -> dict[str, str]:
    """The labels as they stand: the model's, overridden by agents' latest corrections."""
    labels: dict[str, str] = {}
    if score is not None:
        labels = {
            "sentiment": score.sentiment,
            "urgency_level": score.urgency_level,
            "troll": "true" if score.troll else "false",
        }
    for c in corrections:  # oldest first: the latest wins
        labels[c.field] = c.value
    return labels


def _unheld_first(items: list[inbox.InboxItem], user: str) -> list[inbox.InboxItem]:
    """Drafts someone else holds go below the rest (in the same order): nobody else can
    act on them, so they should not sit at the top of everyone's queue."""
    now = utcnow()
    free = [it for it in items if inbox.held_by_other(it.draft, user, now) is None]
    held = [it for it in items if inbox.held_by_other(it.draft, user, now) is not None]
    return free + held


def _mine(draft: DraftRow, user: str) -> inbox.Claim | None:
    """``user``'s own live claim on ``draft``, if any."""
    if draft.claimed_by == user and draft.claimed_until and draft.claimed_until > utcnow():
        return inbox.Claim(user, draft.claimed_until)
    return None


def _next_pending(s: Session, after: int) -> int | None:
    """The next pending draft nobody holds (for viewers, who never claim)."""
    for it in inbox.lane_items(s, inbox.InboxFilter(limit=20)):
        if it.draft.id != after and not inbox.held_by_other(it.draft, ""):
            return it.draft.id
    return None


@router.get("/drafts/{draft_id}")
def draft_page(request: Request, draft_id: int, ws: Browser) -> HTMLResponse:
    """One draft with everything an agent needs. Reading claims nothing: an agent takes
    a draft by starting to edit, by a keyboard action, by "Take it" or "Next draft"."""
    with tx(request) as s:
        return render(request, "draft.html", draft_context(s, ws, draft_id))


@router.get("/alerts")
def alerts_page(request: Request, ws: Browser) -> HTMLResponse:
    """Spike alerts, open first, with why they fired; links to the digests."""
    with tx(request) as s:
        rows = s.execute(
            select(AlertRow, BrandRow)
            .join(BrandRow, BrandRow.id == AlertRow.brand_id)
            .order_by((AlertRow.state == "open").desc(), AlertRow.updated_at.desc())
            .limit(50)
        ).all()
        ctx = {"ws": ws, "alerts": [(a, b) for a, b in rows], "brands": inbox.brands(s)}
        return render(request, "alerts.html", ctx)


#: The digest is a standalone document (it is also the email): its own styles, no
#: script at all, images only as data URIs.
DIGEST_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@router.get("/digest")
def digest_page(
    request: Request, ws: Browser, brand: str = "", period: str = "day"
) -> HTMLResponse:
    """The brand's digest for marketing (and everyone signed in)."""
    from brandcare.insights import digest as digests
    from brandcare.insights import render as renders

    with tx(request) as s:
        try:
            d = digests.build(s, brand, period)
        except digests.DigestError as exc:
            raise HTTPException(404, str(exc)) from exc
    page = renders.html(d)
    # The digest is also the email, which has no inbox to go back to: the page adds it.
    back = (
        '<nav style="font:14px system-ui,sans-serif;margin:0 0 12px">'
        '<a href="/inbox">&larr; Back to the inbox</a> &middot; '
        '<a href="/alerts">Alerts &amp; digests</a></nav>'
    )
    page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + back, page, count=1)
    return HTMLResponse(page, headers={"content-security-policy": DIGEST_CSP})


@router.get("/mentions/{mention_id}")
def mention_page(request: Request, mention_id: int, ws: Browser) -> Response:
    """A mention's page is its draft's page (every stored mention that needs a reply has one)."""
    with tx(request) as s:
        from brandcare.store.models import DraftRow

        draft_id = s.scalars(select(DraftRow.id).where(DraftRow.mention_id == mention_id)).first()
        if draft_id is None:
            if s.get(MentionRow, mention_id) is None:
                raise HTTPException(404, f"no mention {mention_id}")
            raise HTTPException(404, f"mention {mention_id} has no draft (it needed no reply)")
        return RedirectResponse(f"/drafts/{draft_id}", status_code=303)
