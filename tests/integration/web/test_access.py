"""Who can reach what: login, sessions, roles, CSRF, on every route of the app."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, update

from brandcare.agents import users
from brandcare.store import transaction
from brandcare.store.models import UserRow, WebSessionRow
from brandcare.web import actions, admin, api, pages
from tests.integration.web.conftest import PASSWORD, Site, csrf

#: Routes anyone may open: the login form itself and the API's description.
PUBLIC = {"/login", "/api/openapi.json", "/api/docs", "/api/docs/oauth2-redirect"}


def _routes(site: Site) -> list[tuple[str, str]]:
    """Every page, form and API route the app serves (every router, whole)."""
    found = []
    routers = [pages.router, actions.router, admin.router, api.router]
    for route in [r for router in routers for r in router.routes]:
        if not isinstance(route, APIRoute) or route.path in PUBLIC:
            continue
        path = re.sub(r"\{[a-z_]+\}", "1", route.path).replace("/users/1/", "/users/ana/")
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def test_every_route_but_login_refuses_an_anonymous_visitor(site: Site) -> None:
    c = site.client()
    routes = _routes(site)
    assert len(routes) >= 25  # the pages, the forms and the API
    for method, path in routes:
        r = c.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        elif path == "/":
            assert r.status_code == 303  # the home page redirects to the inbox, which asks
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login")


def test_every_form_refuses_a_post_without_the_csrf_token(site: Site) -> None:
    c = site.login("root")  # admin: every role check passes, only CSRF can refuse
    for method, path in _routes(site):
        if method != "POST" or path.startswith("/api/"):
            continue
        r = c.post(path, data={"csrf_token": "forged", "text": "x", "reason": "x"})
        assert r.status_code == 403, (path, r.status_code)
        assert "security token" in r.text


def test_marketing_reads_the_inbox_but_cannot_act_or_administer(site: Site) -> None:
    c = site.login("mia")
    assert c.get("/inbox").status_code == 200
    page = c.get(f"/drafts/{site.drafts['bag']}")
    assert page.status_code == 200
    assert 'id="approve"' not in page.text
    token = csrf(c)
    r = c.post(f"/drafts/{site.drafts['bag']}/approve", data={"csrf_token": token})
    assert r.status_code == 403
    assert c.get("/admin").status_code == 403
    assert site.draft_state(site.drafts["bag"]) == "pending"
    assert site.sent == []


def test_agents_cannot_administer(site: Site) -> None:
    c = site.login("ana")
    assert c.get("/admin").status_code == 403
    r = c.post("/admin/users", data={"csrf_token": csrf(c), "username": "x",
                                     "password": "y" * 12, "role": "admin"})  # fmt: skip
    assert r.status_code == 403


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(site: Site) -> None:
    c = site.client()
    answers = []
    for username, password in (("ana", "wrong password!"), ("nobody", PASSWORD)):
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        r = c.post("/login", data={"username": username, "password": password,
                                   "csrf_token": token.group(1)})  # fmt: skip
        answers.append((r.status_code, "Wrong username or password." in r.text))
    assert answers == [(401, True), (401, True)]


def test_the_login_form_needs_its_csrf_token(site: Site) -> None:
    r = site.client().post("/login", data={"username": "ana", "password": PASSWORD})
    assert r.status_code == 403


def test_passwords_are_stored_as_argon2id_hashes(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        hashes = list(s.scalars(select(UserRow.password_hash)))
    assert hashes
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_the_session_cookie_is_httponly_secure_and_samesite(site: Site) -> None:
    c = site.client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert token
    r = c.post("/login", data={"username": "ana", "password": PASSWORD,
                               "csrf_token": token.group(1)}, follow_redirects=False)  # fmt: skip
    cookie = r.headers["set-cookie"].lower()
    assert "bc_session=" in cookie
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie


@pytest.mark.parametrize("clock", ["expires_at", "last_seen_at"])
def test_sessions_expire(site: Site, clock: str) -> None:
    c = site.login("ana")
    assert c.get("/inbox", follow_redirects=False).status_code == 200
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with transaction(site.pipeline.sessions) as s:
        s.execute(update(WebSessionRow).values({clock: past}))
    r = c.get("/inbox", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    with transaction(site.pipeline.sessions) as s:
        assert s.scalars(select(WebSessionRow)).first() is None  # and it is gone


def test_logout_and_disabling_a_user_end_their_sessions(site: Site) -> None:
    ana, ben = site.login("ana"), site.login("ben")
    ana.post("/logout", data={"csrf_token": csrf(ana)})
    assert ana.get("/inbox", follow_redirects=False).status_code == 303
    with transaction(site.pipeline.sessions) as s:
        users.set_disabled(s, "ben", True)
    assert ben.get("/inbox", follow_redirects=False).status_code == 303


def test_login_never_redirects_off_site(site: Site) -> None:
    c = site.client()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        form = {"username": "ana", "password": PASSWORD, "next": target}
        r = c.post("/login", data=form | {"csrf_token": token.group(1)}, follow_redirects=False)
        assert r.headers["location"] == "/inbox"


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    r = site.login("ana").get("/inbox")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert "unsafe-inline" not in r.headers["content-security-policy"]


def test_the_api_wants_a_token_and_respects_roles(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        agent, marketing = users.issue_token(s, "ana"), users.issue_token(s, "mia")
    c = site.client()
    assert c.get("/api/v1/me").status_code == 401
    assert c.get("/api/v1/me", headers={"Authorization": "Bearer bc_nope"}).status_code == 401
    me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {agent}"})
    assert me.json() == {"username": "ana", "role": "agent"}
    draft = site.drafts["bag"]
    refused = c.post(f"/api/v1/drafts/{draft}/approve", json={},
                     headers={"Authorization": f"Bearer {marketing}"})  # fmt: skip
    assert refused.status_code == 403
    assert site.sent == []
    # The cookie of a browser session is no API credential: no CSRF hole through the API.
    browser = site.login("ana")
    assert browser.post(f"/api/v1/drafts/{draft}/approve", json={}).status_code == 401
    with transaction(site.pipeline.sessions) as s:
        stored = s.scalars(select(UserRow.api_token_hash).where(UserRow.username == "ana")).one()
    assert stored
    assert agent not in stored


def test_repeated_wrong_passwords_lock_the_username_for_a_while(site: Site) -> None:
    from brandcare.web.throttle import USER_LIMIT

    c = site.client()
    statuses = []
    for password in ["wrong"] * USER_LIMIT.max_failures + [PASSWORD]:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        r = c.post("/login", data={"username": "ana", "password": password,
                                   "csrf_token": token.group(1)})  # fmt: skip
        statuses.append(r.status_code)
    assert statuses == [401] * USER_LIMIT.max_failures + [429]
    assert int(r.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in r.text
    site.login("ben")  # another user from the same address still signs in
