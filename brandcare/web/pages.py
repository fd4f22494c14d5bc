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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from brandcare.agents import feedback, requeue, review, users
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
    Posting,
    Reviewer,
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


def _settings(request: Request) -> Settings:
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
        secure=_settings(request).web_secure_cookies,
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
    conf = _settings(request)
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


def _draft_context(s: Session, ws: users.WebSession, draft_id: int) -> dict[str, Any]:
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


def _claim_next(request: Request, user: str, after: int) -> int | None:
    """Claim, for ``user``, the first pending draft after ``after`` that nobody else
    holds, and return it. Each try is the conditional UPDATE of ``inbox.claim``, so two
    agents asking at the same moment get different drafts."""
    ttl = dt.timedelta(minutes=_settings(request).claim_minutes)
    with tx(request) as s:
        for it in inbox.lane_items(s, inbox.InboxFilter(limit=50)):
            if it.draft.id == after or inbox.held_by_other(it.draft, user) is not None:
                continue
            if inbox.claim(s, it.draft.id, user, ttl).holder == user:
                return it.draft.id
    return None


@router.get("/drafts/{draft_id}")
def draft_page(request: Request, draft_id: int, ws: Browser) -> HTMLResponse:
    """One draft with everything an agent needs. Reading claims nothing: an agent takes
    a draft by starting to edit, by a keyboard action, by "Take it" or "Next draft"."""
    with tx(request) as s:
        return render(request, "draft.html", _draft_context(s, ws, draft_id))


@router.post("/drafts/next")
def next_draft(request: Request, ws: Reviewer, after: Annotated[int, Form()] = 0) -> Response:
    """The next draft nobody holds, claimed for whoever asked."""
    nxt = _claim_next(request, ws.user.username, after)
    return RedirectResponse(f"/drafts/{nxt}" if nxt else "/inbox", status_code=303)


@router.post("/drafts/{draft_id}/claim")
def take(request: Request, draft_id: int, ws: Reviewer) -> Response:
    """Hold a pending or skipped draft: its page calls this when the agent starts
    editing (``fetch``, answered 204, or 409 with who holds it); "Take it" posts it."""
    ttl = dt.timedelta(minutes=_settings(request).claim_minutes)
    quiet = request.headers.get("x-requested-with") == "fetch"
    with tx(request) as s:
        found = inbox.item(s, draft_id)
        if found is None:
            raise HTTPException(404, f"no draft {draft_id}")
        if found.draft.state not in ("pending", "skipped", "approved"):
            message = f"draft {draft_id} is {found.draft.state}: there is nothing to hold"
            if quiet:
                return Response(message, status_code=409, media_type="text/plain")
            raise HTTPException(409, message)
        got = inbox.claim(s, draft_id, ws.user.username, ttl)
    if got.holder != ws.user.username:
        message = (
            f"{got.holder} took this draft at the same time and holds it until "
            f"{got.until:%H:%M} UTC: you can read it, not act on it."
        )
        if quiet:
            return Response(message, status_code=409, media_type="text/plain")
        return RedirectResponse(f"/drafts/{draft_id}", status_code=303)
    if quiet:
        return Response(status_code=204)
    return RedirectResponse(f"/drafts/{draft_id}?done=taken", status_code=303)


@router.post("/drafts/{draft_id}/count")
def count(
    request: Request, draft_id: int, ws: Posting, text: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """The live character count, as the platform counts (links, wide characters,
    graphemes) what will be posted (the author's address in front where it must be)."""
    with tx(request) as s:
        found = inbox.item(s, draft_id)
        if found is None:
            raise HTTPException(404, f"no draft {draft_id}")
        length, limit = reply_size(text, found.mention)
        ctx = {"length": length, "limit": limit}
        return render(request, "_count.html", ctx)


def _after_action(request: Request, ws: users.WebSession, draft_id: int, done: str) -> Response:
    """On to the next draft nobody holds, claimed for this agent (never the one that a
    colleague finishing at the same moment is sent to)."""
    nxt = _claim_next(request, ws.user.username, draft_id)
    target = f"/drafts/{nxt}" if nxt else "/inbox"
    return RedirectResponse(f"{target}?done={done}", status_code=303)


def _refused(request: Request, ws: users.WebSession, draft_id: int,
             exc: Exception, text: str | None = None) -> HTMLResponse:  # fmt: skip
    with tx(request) as s:
        ctx = _draft_context(s, ws, draft_id)
        ctx["error"] = str(exc)
        if text is not None:
            ctx["text"] = text
            ctx["length"] = reply_size(text, ctx["it"].mention)[0]
        return render(request, "draft.html", ctx, status_code=409)


# The review actions commit in their own transaction (``brandcare.agents.review``), never
# inside one of ours: on SQLite the two would wait on each other's write lock.


@router.post("/drafts/{draft_id}/approve")
def approve(
    request: Request, draft_id: int, ws: Reviewer, text: Annotated[str, Form()] = ""
) -> Response:
    sessions = request.app.state.sessions
    try:
        result = review.approve(sessions, draft_id, text=text or None, actor=ws.user.username)
    except review.ReviewError as exc:
        return _refused(request, ws, draft_id, exc, text or None)
    if result.approved:
        request.app.state.send(draft_id)
        return _after_action(request, ws, draft_id, "approved")
    return RedirectResponse(f"/drafts/{draft_id}?done=first_approval", status_code=303)


def _act(
    request: Request, ws: users.WebSession, draft_id: int, done: str, action: Callable[..., None],
    *, move_on: bool = False, **words: str,
) -> Response:  # fmt: skip
    """Run a review action; show the draft with the reason if it is refused.

    ``move_on``: the draft is finished with, so open the next one; otherwise stay on it.
    """
    try:
        action(request.app.state.sessions, draft_id, actor=ws.user.username, **words)
    except review.ReviewError as exc:
        return _refused(request, ws, draft_id, exc, words.get("text"))
    if move_on:
        return _after_action(request, ws, draft_id, done)
    return RedirectResponse(f"/drafts/{draft_id}?done={done}", status_code=303)


@router.post("/drafts/{draft_id}/save")
def save(
    request: Request, draft_id: int, ws: Reviewer, text: Annotated[str, Form()] = ""
) -> Response:
    response = _act(request, ws, draft_id, "saved", review.edit, text=text)
    if response.status_code == 303:  # saved: an edit is intent, so the draft is held
        ttl = dt.timedelta(minutes=_settings(request).claim_minutes)
        with tx(request) as s:
            inbox.claim(s, draft_id, ws.user.username, ttl)
    return response


@router.post("/drafts/{draft_id}/reject")
def reject(
    request: Request, draft_id: int, ws: Reviewer, reason: Annotated[str, Form()] = ""
) -> Response:
    return _act(request, ws, draft_id, "rejected", review.reject, move_on=True, reason=reason)


@router.post("/drafts/{draft_id}/unskip")
def unskip(
    request: Request, draft_id: int, ws: Reviewer, reason: Annotated[str, Form()] = ""
) -> Response:
    return _act(request, ws, draft_id, "unskipped", review.unskip, reason=reason)


@router.post("/drafts/{draft_id}/requeue")
def requeue_failed(request: Request, draft_id: int, ws: Reviewer) -> Response:
    """Send a failed draft again. Asks the platform first (a short, bounded request:
    the answer decides between sending and recording it as sent), then commits in its
    own transaction like the other actions; the send itself goes to the dispatcher."""
    try:
        result = requeue.requeue(request.app.state.pipeline, draft_id, actor=ws.user.username)
    except review.ReviewError as exc:
        return _refused(request, ws, draft_id, exc)
    if result.requeued:
        request.app.state.send(draft_id)
        return RedirectResponse(f"/drafts/{draft_id}?done=requeued", status_code=303)
    return RedirectResponse(f"/drafts/{draft_id}?done=found_sent", status_code=303)


@router.post("/drafts/{draft_id}/release")
def release(request: Request, draft_id: int, ws: Reviewer) -> Response:
    """Let go of one's own claim. Someone else's is refused and left alone (it expires
    by itself); releasing nothing says so instead of reporting success."""
    with tx(request) as s:
        found = inbox.item(s, draft_id)
        if found is None:
            raise HTTPException(404, f"no draft {draft_id}")
        held = inbox.held_by_other(found.draft, ws.user.username)
        released = False if held else inbox.release(s, draft_id, ws.user.username)
    if held:
        refusal = review.ReviewError(
            f"not released: {held.holder} holds this draft until {held.until:%H:%M} UTC, "
            "and only they can release it (it frees itself then)"
        )
        return _refused(request, ws, draft_id, refusal)
    if not released:
        return RedirectResponse(f"/drafts/{draft_id}?done=not_held", status_code=303)
    return RedirectResponse("/inbox?done=released", status_code=303)


@router.post("/mentions/{mention_id}/correct")
def correct(
    request: Request,
    mention_id: int,
    ws: Reviewer,
    field: Annotated[str, Form()],
    value: Annotated[str, Form()],
    draft_id: Annotated[int, Form()],
) -> Response:
    with tx(request) as s:
        try:
            feedback.correct(s, mention_id, field, value, ws.user.username)
        except feedback.CorrectionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return RedirectResponse(f"/drafts/{draft_id}?done=corrected#labels", status_code=303)


@router.post("/mentions/{mention_id}/corrections/{correction_id}/undo")
def undo_correction(
    request: Request,
    mention_id: int,
    correction_id: int,
    ws: Reviewer,
    draft_id: Annotated[int, Form()],
) -> Response:
    """Take back one's own correction, within ``feedback.UNDO_WINDOW``: a chip clicked
    by mistake must not train the next model."""
    with tx(request) as s:
        try:
            feedback.undo(s, mention_id, correction_id, ws.user.username)
        except feedback.CorrectionError as exc:
            raise HTTPException(409, str(exc)) from exc
        return RedirectResponse(f"/drafts/{draft_id}?done=uncorrected#labels", status_code=303)


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
