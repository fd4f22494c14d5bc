"""``/api/docs``: Swagger UI for the JSON API, served from here under the app's CSP.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline
script; our Content-Security-Policy (``script-src 'self'``, no inline scripts) rightly
blocks both, which left the page blank. The assets come from the ``fastapi-swagger``
package (a maintained copy of the Swagger UI distribution), the page is a template and
the start-up script a static file, so the CSP stays as strict as for every other page.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

#: The files of the Swagger UI distribution we serve, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


@cache
def _asset(name: str) -> bytes:
    return (resources.files("fastapi_swagger") / "resources" / name).read_bytes()


@router.get("/api/docs")
def docs(request: Request) -> HTMLResponse:
    """The API's interactive reference; "Authorize" takes a user's API token."""
    return templates.TemplateResponse(
        request, "api_docs.html", {"openapi_url": request.app.openapi_url}
    )


@router.get("/api/docs/assets/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, f"no asset {name}")
    return Response(
        _asset(name),
        media_type=ASSETS[name],
        headers={"cache-control": "public, max-age=86400"},
    )
