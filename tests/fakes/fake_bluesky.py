"""A local fake Bluesky (a PDS with the AppView methods it proxies) for the atproto SDK.

Why a fake and not the reference server: see docs/sources.md, "Bluesky tests". Nothing was
recorded from Bluesky for these tests, so every answer is built from the lexicon
schemas the atproto SDK ships, and ``tests/integration/listener/test_bluesky_source.py``
checks the shapes against the SDK's models generated from those schemas (strictly):
``com.atproto.server.createSession`` / ``refreshSession``,
``app.bsky.notification.listNotifications``, ``app.bsky.feed.searchPosts``,
``app.bsky.feed.getPosts``, ``app.bsky.feed.getPostThread`` and
``com.atproto.repo.createRecord``. Behaviour follows the reference implementation:
newest first with an opaque ``cursor``; ``searchPosts`` with ``sort=latest`` and
``since``; sessions as JWTs whose ``exp`` the SDK reads to refresh before expiry; a
missing post is ``400 NotFound``; rate limits in ``ratelimit-*`` headers (3,000 per 5
minutes), a 429 with ``RateLimitExceeded``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.fake_api import Answer, FakeApiServer, SeenRequest

XRPC = "/xrpc/"
NOTIFICATIONS = r"app\.bsky\.notification\.listNotifications$"
SEARCH = r"app\.bsky\.feed\.searchPosts$"
CREATE = r"com\.atproto\.repo\.createRecord$"
THREAD = r"app\.bsky\.feed\.getPostThread$"
SESSION = r"com\.atproto\.server\.createSession$"
REFRESH = r"com\.atproto\.server\.refreshSession$"
BRAND_HANDLE = "brandcare.test"
BRAND_DID = "did:plc:brandcare0000000000000000"
APP_PASSWORD = "bsky-SECRET-app-pass"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def jwt(did: str, scope: str, ttl: dt.timedelta, serial: int) -> str:
    """A JWT of the reference PDS's shape (unsigned here: the SDK reads, never verifies)."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "scope": scope,
        "sub": did,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": f"fake-{serial}",
    }
    return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(claims)}.c2ln"


def cid_of(data: Any) -> str:
    """A CID-shaped string (dag-cbor, sha-256, base32) for a record."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


@dataclass(frozen=True)
class Poster:
    """A customer who writes to the brand: handle and what they say."""

    handle: str
    text: str
    reason: str = "mention"  # the notification's reason: mention, reply, like, follow...


class FakeBlueskyApi(FakeApiServer):
    """XRPC over HTTP as the atproto SDK's ``Client`` sees it, answered per the lexicons."""

    def __init__(
        self,
        *,
        posters: tuple[Poster, ...] = (),
        page_size: int | None = None,
        access_ttl: dt.timedelta = dt.timedelta(hours=2),
    ) -> None:
        super().__init__()
        self.page_size = page_size
        self.access_ttl = access_ttl
        self.profiles: dict[str, dict[str, Any]] = {}
        self._serial = itertools.count(1)
        self._clock = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        self.brand = self.profile(BRAND_HANDLE, did=BRAND_DID)
        self.posts: dict[str, dict[str, Any]] = {}  # uri -> postView
        self.notifications: list[dict[str, Any]] = []
        self.deleted: set[str] = set()
        self.posted: list[dict[str, Any]] = []
        self.sessions_created = 0
        self.sessions_refreshed = 0
        self.access: dict[str, str] = {}  # live access token -> did
        self.refresh: dict[str, str] = {}
        for poster in posters:
            self.add(poster)

    # -- data --------------------------------------------------------------------------

    def profile(self, handle: str, did: str | None = None) -> dict[str, Any]:
        """app.bsky.actor.defs#profileView for ``handle`` (made on first use)."""
        if handle not in self.profiles:
            did = did or "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
            self.profiles[handle] = {
                "did": did,
                "handle": handle,
                "displayName": handle.split(".", maxsplit=1)[0].title(),
                "avatar": f"https://cdn.example.invalid/avatar/{did}",
                "indexedAt": _iso(self._tick()),
                "createdAt": "2024-01-01T00:00:00.000Z",
                "labels": [],
            }
        return self.profiles[handle]

    def _tick(self) -> dt.datetime:
        self._clock = max(self._clock + dt.timedelta(seconds=7), dt.datetime.now(dt.UTC))
        return self._clock

    def _post(self, author: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        rkey = f"3l{next(self._serial):011d}"
        uri = f"at://{author['did']}/app.bsky.feed.post/{rkey}"
        view = {
            "uri": uri,
            "cid": cid_of(record),
            "author": {k: author[k] for k in ("did", "handle", "displayName", "avatar", "labels")},
            "record": record,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": _iso(self._tick()),
            "labels": [],
        }
        with self._lock:
            self.posts[uri] = view
        return view

    def add(self, poster: Poster, *, reply_to: str | None = None) -> dict[str, Any]:
        """A customer's post that notifies the brand, newest of all."""
        author = self.profile(poster.handle)
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": poster.text,
            "createdAt": _iso(dt.datetime.now(dt.UTC)),
            "langs": ["en"],
        }
        if reply_to:
            parent = self.posts[reply_to]
            root = parent["record"].get("reply", {}).get("root") or {
                "uri": parent["uri"],
                "cid": parent["cid"],
            }
            record["reply"] = {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
        view = self._post(author, record)
        notification = {
            "uri": view["uri"],
            "cid": view["cid"],
            "author": dict(author),
            "reason": poster.reason,
            "record": record,
            "isRead": False,
            "indexedAt": view["indexedAt"],
            "labels": [],
        }
        with self._lock:
            self.notifications.append(notification)
        return view

    def delete(self, uri: str) -> None:
        """The author deleted the post."""
        with self._lock:
            self.deleted.add(uri)

    def replies_to(self, uri: str) -> list[dict[str, Any]]:
        """What was posted in reply to ``uri`` (postViews)."""
        with self._lock:
            return [p for p in self.posted if p["record"]["reply"]["parent"]["uri"] == uri]

    # -- XRPC ----------------------------------------------------------------------------

    def _headers(self, remaining: int = 2999) -> dict[str, str]:
        reset = int((dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).timestamp())
        return {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(reset),
            "ratelimit-policy": "3000;w=300",
        }

    def _ok(self, body: Any) -> Answer:
        return Answer.of(body, headers=self._headers())

    @staticmethod
    def _error(status: int, error: str, message: str) -> Answer:
        return Answer.of({"error": error, "message": message}, status=status)

    def rate_limited(self, reset_in: int) -> Answer:
        """The reference PDS's 429."""
        headers = self._headers(0)
        headers["ratelimit-reset"] = str(int(dt.datetime.now(dt.UTC).timestamp()) + reset_in)
        body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        return Answer.of(body, status=429, headers=headers)

    def _session(self, did: str) -> dict[str, Any]:
        serial = next(self._serial)
        access = jwt(did, "com.atproto.appPass", self.access_ttl, serial)
        refresh = jwt(did, "com.atproto.refresh", dt.timedelta(days=60), serial)
        with self._lock:
            self.access[access] = did
            self.refresh[refresh] = did
        handle = next(p["handle"] for p in self.profiles.values() if p["did"] == did)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": handle,
            "did": did,
            "active": True,
        }

    def route(self, request: SeenRequest) -> Answer:
        """Dispatch one XRPC method."""
        if not request.path.startswith(XRPC):
            return self.not_found(request)
        method = request.path[len(XRPC) :]
        if method == "com.atproto.server.createSession":
            sent = request.json() or {}
            who = str(sent.get("identifier", "")).lstrip("@")
            if who not in (BRAND_HANDLE, BRAND_DID) or sent.get("password") != APP_PASSWORD:
                return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
            self.sessions_created += 1
            return self._ok(self._session(BRAND_DID))
        if method == "com.atproto.server.refreshSession":
            did = self.refresh.pop(request.bearer() or "", None)
            if did is None:
                return self._error(400, "ExpiredToken", "Token has expired")
            self.sessions_refreshed += 1
            return self._ok(self._session(did))
        did = self.access.get(request.bearer() or "")
        if did is None:
            return self._error(400, "ExpiredToken", "Token has been revoked")
        if method == "app.bsky.notification.listNotifications":
            return self._page(self.notifications, request, "notifications")
        if method == "app.bsky.feed.searchPosts":
            q = request.query.get("q", "").lower()
            since = request.query.get("since")
            found = [
                p
                for uri, p in self.posts.items()
                if q in p["record"]["text"].lower()
                and uri not in self.deleted
                and (not since or p["indexedAt"] >= since)
            ]
            return self._page(found, request, "posts")
        if method == "app.bsky.feed.getPosts":
            uris = [v for k, v in _pairs(request) if k == "uris"]
            return self._ok(
                {
                    "posts": [
                        self.posts[u] for u in uris if u in self.posts and u not in self.deleted
                    ]
                }
            )
        if method == "app.bsky.feed.getPostThread":
            return self._thread_view(request.query.get("uri", ""))
        if method == "com.atproto.repo.createRecord":
            return self._create(request, did)
        return self._error(501, "MethodNotImplemented", f"Method Not Implemented: {method}")

    def _page(self, items: list[dict[str, Any]], request: SeenRequest, key: str) -> Answer:
        ordered = sorted(items, key=lambda i: (i["indexedAt"], i["uri"]), reverse=True)
        size = min(int(request.query.get("limit") or 50), 100)
        if self.page_size:
            size = min(size, self.page_size)
        offset = int(request.query.get("cursor") or 0)
        page = ordered[offset : offset + size]
        body: dict[str, Any] = {key: copy.deepcopy(page)}
        if offset + size < len(ordered):
            body["cursor"] = str(offset + size)
        return self._ok(body)

    def _thread_view(self, uri: str) -> Answer:
        if uri not in self.posts or uri in self.deleted:
            return self._error(400, "NotFound", f"Post not found: {uri}")
        replies = [
            {"$type": "app.bsky.feed.defs#threadViewPost", "post": copy.deepcopy(p), "replies": []}
            for p in self.replies_to(uri)
        ]
        thread = {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": copy.deepcopy(self.posts[uri]),
            "replies": replies,
        }
        return self._ok({"thread": thread})

    def _create(self, request: SeenRequest, did: str) -> Answer:
        sent = request.json() or {}
        record = sent.get("record") or {}
        if (
            sent.get("repo") not in (did, BRAND_HANDLE)
            or sent.get("collection") != "app.bsky.feed.post"
        ):
            return self._error(400, "InvalidRequest", "Invalid repo or collection")
        if not isinstance(record.get("text"), str) or len(record["text"].encode()) > 3000:
            return self._error(
                400, "InvalidRecord", "Record/text must not be longer than 3000 bytes"
            )
        # Like the reference PDS, a reply to a deleted post is accepted (the AppView then
        # hides it): the source looks the post up before replying.
        author = next(p for p in self.profiles.values() if p["did"] == did)
        view = self._post(author, record)
        with self._lock:
            self.posted.append(view)
        return self._ok(
            {
                "uri": view["uri"],
                "cid": view["cid"],
                "commit": {"cid": cid_of(view), "rev": f"3l{next(self._serial):011d}"},
                "validationStatus": "valid",
            }
        )


def _pairs(request: SeenRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.raw_query, keep_blank_values=True)
