"""GET /metrics for Prometheus: this process's counters and the pipeline's backlog.

Off until ``BRANDCARE_METRICS_TOKEN`` is set (404), and then only for a bearer of that
token (401 otherwise): the backlog and the brands' alert counts are not for the public,
and a scraper should not need an agent's account.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from brandcare.config import Settings
from brandcare.ops import metrics_http

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text format, for a bearer of the metrics token."""
    settings: Settings = request.app.state.settings
    token = metrics_http.token_of(settings)
    if token is None:
        return PlainTextResponse("metrics are off: set BRANDCARE_METRICS_TOKEN\n", 404)
    if not metrics_http.bearer_matches(request.headers.get("authorization"), token):
        return PlainTextResponse(
            "bearer token required\n", 401, headers={"www-authenticate": "Bearer"}
        )
    return Response(generate_latest(_registry(request)), media_type=CONTENT_TYPE_LATEST)


def _registry(request: Request) -> CollectorRegistry:
    """The app's registry, made on the first scrape and kept (it caches slow totals)."""
    state = request.app.state
    found: CollectorRegistry | None = getattr(state, "metrics_registry", None)
    if found is None:
        found = state.metrics_registry = metrics_http.registry(state.sessions)
    return found
