"""HEAD and OPTIONS for every page, as HTTP expects of a web server.

FastAPI's routes answer only the methods they declare, so ``HEAD /inbox`` (link
checkers, uptime probes, ``curl -I``) and ``OPTIONS /inbox`` got 405. A HEAD is
answered as the GET would be, without the body; an OPTIONS lists, in ``Allow``, the
methods the path takes (no CORS: the API is for tokens, not other sites' scripts).
"""

from __future__ import annotations

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The methods a route may declare, tried one by one (a route answers FULL for its own).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(scope: Scope) -> set[str]:
    """The methods some route of the app takes at this path (empty: no such path)."""
    found: set[str] = set()
    for route in scope["app"].router.routes:
        for method in _METHODS:
            if route.matches({**scope, "method": method})[0] is not Match.FULL:
                continue
            if isinstance(route, Mount):  # static files: any method matches; GET is served
                found.add("GET")
                break
            found.add(method)
    if "GET" in found:
        found.add("HEAD")
    return found


class HeadAndOptions:
    """Pure ASGI: HEAD runs the GET and drops the body; OPTIONS answers 204 + Allow."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        allowed = allowed_methods(scope)
        if scope["method"] == "OPTIONS":
            if not allowed:
                await self.app(scope, receive, send)
                return
            allow = ", ".join(sorted(allowed | {"OPTIONS"}))
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [(b"allow", allow.encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if "GET" not in allowed:
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
