"""The administration pages: accounts, brands' voices, SLAs and alerting, their queries.

For admins only (``ReadAdmin`` to read; ``Admin`` for the forms, which also checks the
session's CSRF token, as the inbox's forms do). Rendered like the inbox (``pages.render``).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from brandcare.agents import users
from brandcare.store import inbox
from brandcare.store.models import URGENCY_LEVELS, USER_ROLES, BrandRow, QueryRow
from brandcare.web import views
from brandcare.web.pages import render
from brandcare.web.security import Admin, ReadAdmin, tx

router = APIRouter(include_in_schema=False)


@router.get("/admin")
def admin_page(request: Request, ws: ReadAdmin) -> HTMLResponse:
    with tx(request) as s:
        ctx = {
            "ws": ws,
            "users": users.list_users(s),
            "roles": USER_ROLES,
            "brands": inbox.brands(s),
            "queries": list(s.scalars(select(QueryRow).order_by(QueryRow.brand_id, QueryRow.id))),
            "brand_names": {b.id: b.name for b in inbox.brands(s)},
            "urgencies": URGENCY_LEVELS,
            "token": None,
        }
        return render(request, "admin.html", ctx)


@router.post("/admin/users")
def add_user(
    request: Request,
    ws: Admin,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()],
) -> Response:
    with tx(request) as s:
        try:
            users.add_user(s, username, password, role)
        except users.UserError as exc:
            raise HTTPException(422, str(exc)) from exc
        return RedirectResponse("/admin?done=user_added", status_code=303)


@router.post("/admin/users/{username}/disable")
def disable_user(
    request: Request,
    username: str,
    ws: Admin,
    disabled: Annotated[bool, Form()] = True,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Disable (after a second, explicit click: the form's ``confirm``) or enable a user."""
    with tx(request) as s:
        if username == ws.user.username:
            raise HTTPException(422, "you cannot disable your own account")
        if disabled and confirm != username:
            raise HTTPException(422, f"confirm that {username} should be disabled")
        try:
            users.set_disabled(s, username, disabled)
        except users.UserError as exc:
            raise HTTPException(404, str(exc)) from exc
        done = "user_disabled" if disabled else "user_enabled"
        return RedirectResponse(f"/admin?done={done}#users", status_code=303)


@router.post("/admin/brands/{brand_id}")
def save_brand(
    request: Request,
    brand_id: int,
    ws: Admin,
    sla_minutes: Annotated[int, Form(ge=1, le=10080)],
    greeting: Annotated[str, Form()] = "",
    sign_off: Annotated[str, Form()] = "",
    dm_invitation: Annotated[str, Form()] = "",
    support_link: Annotated[str, Form()] = "",
    second_approval_urgency: Annotated[str, Form()] = "",
    second_approval_min_followers: Annotated[str, Form()] = "",
    alert_sensitivity: Annotated[str, Form()] = "medium",
    alert_cooldown_minutes: Annotated[int, Form(ge=15, le=10080)] = 120,
    alert_quiet_hours: Annotated[str, Form(max_length=11)] = "",
) -> Response:
    with tx(request) as s:
        brand = s.get(BrandRow, brand_id)
        if brand is None:
            raise HTTPException(404, f"no brand {brand_id}")
        if support_link and views.safe_url(support_link) is None:
            raise HTTPException(422, "the support link must be an http(s) URL")
        followers = second_approval_min_followers.strip()
        if followers and not followers.isdigit():
            raise HTTPException(422, "the reach threshold is a whole number of followers")
        brand.sla_minutes = sla_minutes
        brand.voice = {
            **brand.voice,
            "greeting": greeting.strip(),
            "sign_off": sign_off.strip(),
            "dm_invitation": dm_invitation.strip(),
            "support_link": support_link.strip(),
        }
        brand.second_approval_urgency = (
            second_approval_urgency if second_approval_urgency in URGENCY_LEVELS else None
        )
        brand.second_approval_min_followers = int(followers) if followers else None
        quiet = alert_quiet_hours.strip()
        if quiet and not re.fullmatch(r"\d{1,2}(:00)?-\d{1,2}(:00)?", quiet):
            raise HTTPException(422, "quiet hours are like 22-07 (UTC hours)")
        if alert_sensitivity not in ("low", "medium", "high"):
            raise HTTPException(422, "sensitivity is low, medium or high")
        brand.alerting = {
            "sensitivity": alert_sensitivity,
            "cooldown_minutes": alert_cooldown_minutes,
            **({"quiet_hours": quiet} if quiet else {}),
        }
        return RedirectResponse("/admin?done=saved_settings#brands", status_code=303)


@router.post("/admin/queries/{query_id}")
def toggle_query(
    request: Request, query_id: int, ws: Admin, enabled: Annotated[bool, Form()] = False
) -> Response:
    with tx(request) as s:
        q = s.get(QueryRow, query_id)
        if q is None:
            raise HTTPException(404, f"no query {query_id}")
        q.enabled = enabled
        if enabled:
            q.paused_reason = None
        return RedirectResponse("/admin?done=saved_settings#queries", status_code=303)
