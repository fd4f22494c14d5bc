"""The JSON API: everything the inbox does, for scripts and other tools.

Authenticated with per-user bearer tokens (``brandcare users token NAME``), never
cookies, so it needs no CSRF token. Roles are the pages' roles; these routes also want
the token's ``inbox`` scope (``web.scoring``'s route wants ``score``). FastAPI describes
it at ``/api/openapi.json`` (and ``/api/docs``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from brandcare.agents import feedback, requeue, review, users
from brandcare.pipeline.base import reply_size
from brandcare.store import inbox
from brandcare.store.models import BrandRow
from brandcare.web import views
from brandcare.web.security import ApiReviewer, ApiUser, tx

router = APIRouter(prefix="/api/v1", tags=["inbox"])


class UserOut(BaseModel):
    username: str
    role: str


class ScoreOut(BaseModel):
    model_version: str
    sentiment: str
    probabilities: dict[str, float]
    urgency: float
    urgency_level: str
    needs_reply: bool
    troll: bool
    troll_prob: float
    issue: str
    reasons: list[str]


class MentionOut(BaseModel):
    id: int
    platform: str
    brand: str
    author_handle: str
    author_name: str
    author_followers: int | None
    text: str
    url: str | None = Field(description="the original post (http(s) only)")
    created_at: dt.datetime
    deleted: bool


class DraftOut(BaseModel):
    id: int
    state: str
    text: str
    length: int
    limit: int
    skip_reason: str | None
    reject_reason: str | None
    failure_reason: str | None
    approved_by: str | None
    first_approved_by: str | None
    claimed_by: str | None
    sent_url: str | None
    first_response_minutes: float | None
    sla_minutes: int
    sla_breached: bool
    mention: MentionOut
    score: ScoreOut | None
    based_on: int | None = Field(
        default=None, description="the remembered reply (reply memory id) this draft adapted"
    )


class EventOut(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, object]


class DraftDetailOut(DraftOut):
    thread: list[MentionOut]
    replied_in_thread: list[int] = Field(
        description="other drafts in this conversation that went out"
    )
    audit: list[EventOut]


class ApproveIn(BaseModel):
    text: str | None = Field(default=None, max_length=20_000, description="the edited reply")


class EditIn(BaseModel):
    text: str = Field(max_length=20_000)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CorrectionIn(BaseModel):
    field: Literal["sentiment", "urgency_level", "troll"]
    value: str


class ResultOut(BaseModel):
    draft_id: int
    state: str
    message: str


def _mention(m: object, brand: BrandRow) -> MentionOut:
    from brandcare.store.models import MentionRow

    assert isinstance(m, MentionRow)
    return MentionOut(
        id=m.id,
        platform=m.platform,
        brand=brand.slug,
        author_handle=m.author_handle,
        author_name=m.author_name,
        author_followers=m.author_followers,
        text=m.text,
        url=views.safe_url(m.url),
        created_at=m.created_at,
        deleted=m.deleted_at is not None,
    )


def _draft(it: inbox.InboxItem) -> DraftOut:
    d, m, sc = it.draft, it.mention, it.score
    answered = it.reply.posted_at if it.reply else None
    sla = views.sla_status(m.created_at, answered, it.brand.sla_minutes)
    size = reply_size(d.text, m)
    return DraftOut(
        id=d.id,
        state=d.state,
        text=d.text,
        length=size[0],
        limit=size[1],
        skip_reason=d.skip_reason,
        reject_reason=d.reject_reason,
        failure_reason=d.failure_reason,
        approved_by=d.approved_by,
        first_approved_by=d.first_approved_by,
        claimed_by=d.claimed_by,
        sent_url=it.reply.url if it.reply else None,
        first_response_minutes=sla.minutes if answered else None,
        sla_minutes=it.brand.sla_minutes,
        sla_breached=sla.breached,
        mention=_mention(m, it.brand),
        based_on=d.based_on,
        score=None
        if sc is None
        else ScoreOut(
            model_version=sc.model_version,
            sentiment=sc.sentiment,
            probabilities={
                "negative": sc.prob_negative,
                "neutral": sc.prob_neutral,
                "positive": sc.prob_positive,
            },
            urgency=sc.urgency,
            urgency_level=sc.urgency_level,
            needs_reply=sc.needs_reply,
            troll=sc.troll,
            troll_prob=sc.troll_prob,
            issue=sc.issue,
            reasons=list(sc.reasons),
        ),
    )


@router.get("/me")
def me(user: ApiUser) -> UserOut:
    return UserOut(username=user.username, role=user.role)


@router.get("/drafts")
def list_drafts(
    request: Request,
    user: ApiUser,
    lane: Annotated[str, Query(description=f"one of {', '.join(inbox.LANES)}")] = "pending",
    brand: str = "",
    platform: str = "",
    sentiment: str = "",
    urgency: str = "",
    q: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DraftOut]:
    """A lane of the inbox in priority order, with the pages' filters."""
    with tx(request) as s:
        if lane not in inbox.LANES:
            raise HTTPException(422, f"unknown lane {lane!r}; use one of {', '.join(inbox.LANES)}")
        from sqlalchemy import select

        brand_id = (
            s.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).first() if brand else None
        )
        if brand and brand_id is None:
            raise HTTPException(404, f"no brand {brand!r}")
        f = inbox.InboxFilter(
            lane=lane,
            brand_id=brand_id,
            platform=platform or None,
            sentiment=sentiment or None,
            urgency_level=urgency or None,
            text=q or None,
            limit=limit,
        )
        return [_draft(it) for it in inbox.lane_items(s, f)]


@router.get("/drafts/{draft_id}")
def get_draft(request: Request, draft_id: int, user: ApiUser) -> DraftDetailOut:
    """A draft with its mention, scores, thread and audit log."""
    with tx(request) as s:
        it = inbox.item(s, draft_id)
        if it is None:
            raise HTTPException(404, f"no draft {draft_id}")
        return DraftDetailOut(
            **_draft(it).model_dump(),
            thread=[_mention(t.mention, it.brand) for t in inbox.thread(s, it.mention)],
            replied_in_thread=[d.id for d in inbox.replies_in_thread(s, it.draft, it.mention)],
            audit=[
                EventOut(at=e.at, actor=e.actor, action=e.action, detail=dict(e.detail))
                for e in inbox.audit_log(s, it.mention.id, it.draft.id)
            ],
        )


def _result(request: Request, draft_id: int, message: str) -> ResultOut:
    with tx(request) as s:
        it = inbox.item(s, draft_id)
    return ResultOut(draft_id=draft_id, state=it.draft.state if it else "unknown", message=message)


# The review actions commit in their own transaction, never inside one of ours (on
# SQLite the two would wait on each other's write lock).


@router.post("/drafts/{draft_id}/approve")
def approve(request: Request, draft_id: int, body: ApproveIn, user: ApiReviewer) -> ResultOut:
    """Approve (optionally with edited text); the reply is sent once, in the background."""
    try:
        result = review.approve(
            request.app.state.sessions, draft_id, text=body.text, actor=user.username
        )
    except review.ReviewError as exc:
        raise HTTPException(409, str(exc)) from exc
    if result.approved:
        request.app.state.send(draft_id)
    return _result(request, draft_id, result.message)


def _act(
    request: Request, draft_id: int, user: users.User, message: str,
    action: Callable[..., None], **words: str,
) -> ResultOut:  # fmt: skip
    """Run a review action; a refusal is a 409 with the reason."""
    try:
        action(request.app.state.sessions, draft_id, actor=user.username, **words)
    except review.ReviewError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _result(request, draft_id, message)


@router.post("/drafts/{draft_id}/edit")
def edit(request: Request, draft_id: int, body: EditIn, user: ApiReviewer) -> ResultOut:
    return _act(request, draft_id, user, "saved", review.edit, text=body.text)


@router.post("/drafts/{draft_id}/reject")
def reject(request: Request, draft_id: int, body: ReasonIn, user: ApiReviewer) -> ResultOut:
    return _act(request, draft_id, user, "rejected", review.reject, reason=body.reason)


@router.post("/drafts/{draft_id}/unskip")
def unskip(request: Request, draft_id: int, body: ReasonIn, user: ApiReviewer) -> ResultOut:
    return _act(request, draft_id, user, "pending again", review.unskip, reason=body.reason)


@router.post("/drafts/{draft_id}/requeue")
def requeue_failed(request: Request, draft_id: int, user: ApiReviewer) -> ResultOut:
    """Send a failed draft again once its cause is fixed: the platform is asked first,
    so a reply already there is recorded as sent instead of posted twice."""
    try:
        result = requeue.requeue(request.app.state.pipeline, draft_id, actor=user.username)
    except review.ReviewError as exc:
        raise HTTPException(409, str(exc)) from exc
    if result.requeued:
        request.app.state.send(draft_id)
    return _result(request, draft_id, result.message)


@router.post("/mentions/{mention_id}/corrections", status_code=201)
def correct(
    request: Request, mention_id: int, body: CorrectionIn, user: ApiReviewer
) -> dict[str, object]:
    """Fix the model's label; stored with who and when, exported for retraining."""
    with tx(request) as s:
        try:
            row = feedback.correct(s, mention_id, body.field, body.value, user.username)
        except feedback.CorrectionError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"id": row.id, "field": row.field, "value": row.value, "previous": row.previous}
