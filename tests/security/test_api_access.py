"""Access to the API and to every route of the app, beyond what test_access covers.

``tests/integration/web/test_access.py`` walks the pages' and the API's routers; these
tests walk the *app* (so a route added on another router, or on the app itself, must be
guarded or declared public here), and check that an API token only ever does what its
user's role allows, for as long as the user may.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute

from brandcare.agents import users
from brandcare.store import transaction
from brandcare.store.models import DraftRow, EventRow
from tests.integration.web.conftest import Site

#: Routes open to anyone, each for a reason; anything else must ask who is calling.
PUBLIC = {
    "/login": "the login form itself",
    "/healthz": "load balancers; names and timings only (tests/integration/web/test_health)",
    "/metrics": "its own bearer token (tests/integration/observability/test_metrics)",
    "/api/openapi.json": "the API's description",
    "/api/docs": "the API's description",
    "/api/docs/oauth2-redirect": "the API's description",
    "/api/docs/assets/{name}": "Swagger UI's own files, for /api/docs",
}


def served(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every endpoint, including those of included routers (FastAPI keeps those whole)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from served(inner.routes)


def _app_routes(site: Site) -> list[tuple[str, str]]:
    found = []
    for route in served(site.app.routes):
        if route.path in PUBLIC:
            continue
        path = re.sub(r"\{[a-z_]+\}", "1", route.path).replace("/users/1/", "/users/ana/")
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def test_every_route_of_the_app_asks_who_is_calling(site: Site) -> None:
    anonymous = site.client()
    routes = _app_routes(site)
    assert len(routes) >= 25
    for method, path in routes:
        r = anonymous.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith(("/login", "/inbox")), (method, path)


def test_the_walk_sees_the_app_s_own_routes_and_its_routers(site: Site) -> None:
    paths = {route.path for route in served(site.app.routes)}
    assert {"/healthz", "/metrics", "/login", "/inbox", "/api/v1/me"} <= paths


def _api_writes(site: Site) -> list[str]:
    return [
        re.sub(r"\{[a-z_]+\}", str(site.drafts["bag"]), route.path)
        for route in served(site.app.routes)
        if route.path.startswith("/api/") and route.methods & {"POST", "PUT", "PATCH", "DELETE"}
    ]


def test_a_read_only_token_changes_nothing_through_any_api_route(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        token = users.issue_token(s, "mia")  # marketing: reads the inbox, acts on nothing
        before = {d.id: (d.state, d.text) for d in s.scalars(select(DraftRow))}
        events = len(s.scalars(select(EventRow)).all())
    c = site.client()
    writes = _api_writes(site)
    assert len(writes) >= 5
    body = {"text": "changed", "reason": "because", "field": "sentiment", "value": "positive"}
    for path in writes:
        r = c.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403, (path, r.status_code, r.text[:200])
    with transaction(site.pipeline.sessions) as s:
        assert {d.id: (d.state, d.text) for d in s.scalars(select(DraftRow))} == before
        assert len(s.scalars(select(EventRow)).all()) == events
    assert site.sent == []


def test_a_token_stops_working_when_its_user_is_disabled_or_it_is_replaced(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        first = users.issue_token(s, "ana")
        second = users.issue_token(s, "ana")  # replaces the first
        bens = users.issue_token(s, "ben")
    c = site.client()

    def me(token: str) -> int:
        return c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert (me(first), me(second), me(bens)) == (401, 200, 200)
    with transaction(site.pipeline.sessions) as s:
        users.set_disabled(s, "ben", True)
    assert me(bens) == 401
    for malformed in ("", "Bearer", "Bearer  ", f"Basic {second}", f"bearer{second}"):
        r = c.get("/api/v1/me", headers={"Authorization": malformed})
        assert r.status_code == 401, malformed
