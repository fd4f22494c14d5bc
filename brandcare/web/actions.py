"""The inbox's actions: take, approve, edit, reject, release, requeue, correct a label.

Each is a form post (CSRF-checked by its role's dependency) that commits through
``brandcare.agents`` and redirects; a refused action shows the draft again with the
reason. Kept apart from the pages that render (``web.pages``), which it reuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from brandcare.agents import feedback, requeue, review, users
from brandcare.pipeline.base import reply_size
from brandcare.store import inbox
from brandcare.web.pages import app_settings, draft_context, render
from brandcare.web.security import Posting, Reviewer, tx

router = APIRouter(include_in_schema=False)


def _claim_next(request: Request, user: str, after: int) -> int | None:
    """Claim, for ``user``, the first pending draft after ``after`` that nobody else
    holds, and return it. Each try is the conditional UPDATE of ``inbox.claim``, so two
    agents asking at the same moment get different drafts."""
    ttl = dt.timedelta(minutes=app_settings(request).claim_minutes)
    with tx(request) as s:
        for it in inbox.lane_items(s, inbox.InboxFilter(limit=50)):
            if it.draft.id == after or inbox.held_by_other(it.draft, user) is not None:
                continue
            if inbox.claim(s, it.draft.id, user, ttl).holder == user:
                return it.draft.id
    return None


@router.post("/drafts/next")
def next_draft(request: Request, ws: Reviewer, after: Annotated[int, Form()] = 0) -> Response:
    """The next draft nobody holds, claimed for whoever asked."""
    nxt = _claim_next(request, ws.user.username, after)
    return RedirectResponse(f"/drafts/{nxt}" if nxt else "/inbox", status_code=303)


@router.post("/drafts/{draft_id}/claim")
def take(request: Request, draft_id: int, ws: Reviewer) -> Response:
    """Hold a pending or skipped draft: its page calls this when the agent starts
    editing (``fetch``, answered 204, or 409 with who holds it); "Take it" posts it."""
    ttl = dt.timedelta(minutes=app_settings(request).claim_minutes)
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
        ctx = draft_context(s, ws, draft_id)
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
        ttl = dt.timedelta(minutes=app_settings(request).claim_minutes)
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
