"""The social care inbox: server-rendered pages (Jinja2 + HTMX) and a JSON API.

May import agents, the pipeline and everything below them; never the CLI or benchmarks.

``create_app`` wires settings, the database and a send dispatcher into a FastAPI app;
``brandcare serve`` runs it with uvicorn. The web layer only reads through
``store.inbox`` and changes drafts through ``brandcare.agents.review``, like the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from brandcare.agents.review import send_approved
from brandcare.config import Settings
from brandcare.ops.layout import scoring_layout
from brandcare.pipeline import runtime
from brandcare.web import actions, admin, api, apidocs, metrics, pages, scoring
from brandcare.web.methods import HeadAndOptions
from brandcare.web.security import LoginRequired, SecurityHeaders, login_url
from brandcare.web.throttle import LoginThrottle

log = logging.getLogger(__name__)
HERE = Path(__file__).parent

#: Hands an approved draft to the sender; must not block the request on the platform.
SendDispatch = Callable[[int], None]


def background_sender(settings: Settings) -> SendDispatch:
    """Through the broker when there is one (enqueueing is quick), else one background
    thread in this process: either way the request never waits on a platform."""
    if settings.broker_url:
        return lambda draft_id: log.info(
            "draft %d: %s", draft_id, send_approved(settings, draft_id)
        )
    pool = ThreadPoolExecutor(1, thread_name_prefix="brandcare-send")

    def send_here(draft_id: int) -> None:
        def run() -> None:
            try:
                log.info("draft %d: %s", draft_id, send_approved(settings, draft_id))
            except Exception:  # the sweep retries; the agent sees the state in the page
                log.exception("sending draft %d failed; the scheduler's sweep will retry", draft_id)

        pool.submit(run)

    return send_here


def create_app(settings: Settings, *, send: SendDispatch | None = None) -> FastAPI:
    """The web app over the configured pipeline's database."""
    pipeline = runtime.ensure(settings)
    app = FastAPI(
        title="brandcare",
        summary="Social care inbox: review, edit and approve drafted replies; score texts.",
        openapi_tags=[
            {
                "name": "inbox",
                "description": "Drafts, their actions and label corrections; a token with "
                "the `inbox` scope (`brandcare users token NAME`), within its user's role.",
            },
            {
                "name": "scoring",
                "description": "Scoring as a service: `brandcare score`'s contract over "
                "HTTP; a token with the `score` scope (`brandcare users token NAME --scope "
                "score`). The worker loads the model at its first scoring request.",
            },
        ],
        version="0.1",
        docs_url=None,  # web.apidocs serves it, with our own assets, under our CSP
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.sessions = pipeline.sessions
    app.state.pipeline = pipeline  # a requeue asks the platform through its sources
    app.state.send = send or background_sender(settings)
    app.state.login_throttle = LoginThrottle()
    # Loaded by the first POST /api/v1/score, never before: a worker nobody asks to
    # score never imports torch. As many batches at once as the scorer has lanes.
    app.state.scoring = scoring.ScoringService(
        pipeline.scorer, threads=scoring_layout(settings, worker_threads=1).lanes
    )
    app.add_middleware(HeadAndOptions)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(admin.router)
    app.include_router(api.router)
    app.include_router(scoring.router)
    app.include_router(metrics.router)
    app.include_router(apidocs.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        """For load balancers and compose: 200 when the database and broker answer, else
        503; names and timings only (the details, which may hold hosts, stay in logs)."""
        from fastapi.responses import JSONResponse

        from brandcare.ops import health

        results = health.run(settings)
        for c in results:
            if not c.ok:
                log.warning("health check %s failed: %s", c.name, c.detail)
        ok = all(c.ok for c in results)
        body = {"ok": ok, "checks": {c.name: {"ok": c.ok, "ms": c.ms} for c in results}}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            # HTMX follows redirects inside the fragment; ask for a full page load instead.
            return Response(status_code=401, headers={"HX-Redirect": login_url(exc.next_url)})
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            from fastapi.responses import JSONResponse

            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """The API answers JSON 422 as FastAPI does; a page answers a page: a malformed
        path (``/drafts/abc``) is a page that does not exist, a malformed form a 422."""
        if request.url.path.startswith("/api/"):
            from fastapi.exception_handlers import request_validation_exception_handler

            return await request_validation_exception_handler(request, exc)
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "path" for e in errors):
            return pages.error_page(request, 404, f"there is no page {request.url.path}")
        fields = ", ".join(str(e.get("loc", ("", "?"))[-1]) for e in errors)
        return pages.error_page(request, 422, f"the form was incomplete or invalid ({fields})")

    return app
