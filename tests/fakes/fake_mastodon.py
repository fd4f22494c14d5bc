"""A local fake Mastodon instance that answers from the recorded responses in ../shared.

The real Mastodon.py client talks HTTP to it (``api_base_url`` is a setting), so the
tests exercise its request building, ``Link``-header pagination, rate-limit headers and
error mapping. Every answer starts from a response Mastodon 4.x gave the Mastodon.py
project's own test suite (``../shared/fixtures/mastodon``, MIT), read at test time and
never copied into the repo. Derived, and saying so:

- the brand account is the recorded ``mastodonpy_test`` (``verify_credentials``); its
  mention notifications are the recorded one (id 21, from ``admin``) plus customers
  made from it (ids and authors changed, texts given by the test), so there is more
  than one page;
- pages follow Mastodon's rules: newest first, ``max_id`` / ``since_id`` / ``min_id``
  (``min_id``: the items just after it), ``limit`` capped by ``page_size``, and ``Link``
  headers with ``rel="next"`` (older, ``max_id``) and ``rel="prev"`` (newer, ``min_id``);
- ``POST /api/v1/statuses`` answers in the recorded reply's shape with the posted text
  as HTML, keeps the post (so a status's ``context`` shows it), honours
  ``Idempotency-Key`` as Mastodon does (the same key returns the first post), refuses a
  text over ``max_characters`` (422) and a reply to a deleted status (404);
- the statuses search answers as the recorded instance did (nothing: it had no
  full-text search) unless ``full_text_search`` is set;
- ``/api/v1/instance`` (which Mastodon.py reads for its version check before a search
  with ``min_id``) is the recorded ``/api/v2/instance`` in the v1 shape's fields;
- rate-limit headers keep the recorded limit and remaining, with a reset in the future;
  a 429 carries ``X-RateLimit-Remaining: 0`` and its reset.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.fakes.fake_api import Answer, FakeApiServer, Recorded, SeenRequest, load_vcr

MENTION_PATH = r"^/api/v1/notifications$"
POST_PATH = r"^/api/v1/statuses$"
CONTEXT_PATH = r"^/api/v1/statuses/\d+/context$"
#: Our brand's account token (any other gets Mastodon's 401).
TOKEN = "mastodon-SECRET-token-1"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Customer:
    """A mention the fake serves beside the recorded one: who wrote what, seen by whom."""

    text: str
    acct: str = ""
    visibility: str = "public"
    spoiler_text: str = ""
    html: str | None = None  # the content as sent (default: the text as Mastodon renders it)


def _recorded(folder: Path, name: str, index: int) -> Recorded:
    return load_vcr(folder / name)[index]


class FakeMastodonApi(FakeApiServer):
    """Mastodon 4.x's REST API, as Mastodon.py sees it, from Mastodon.py's cassettes."""

    def __init__(
        self,
        fixtures: Path,
        *,
        customers: Sequence[Customer] = (),
        page_size: int | None = None,
        max_characters: int | None = None,
        full_text_search: bool = False,
        tokens: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        folder = fixtures / "mastodon"
        self.instance_recorded = _recorded(folder, "test_hashtag_tl.yaml", 1)
        self.tag_recorded = _recorded(folder, "test_hashtag_tl.yaml", 2)
        self.notifications_recorded = _recorded(folder, "test_notifications_mentions_only.yaml", 1)
        self.me_recorded = _recorded(folder, "test_fetch_next_previous.yaml", 0)
        self.reply_recorded = _recorded(folder, "test_status_reply.yaml", 2)
        self.context_recorded = _recorded(folder, "test_status_context.yaml", 1)
        self.search_recorded = _recorded(folder, "test_search.yaml", 2)
        self.page_size = page_size
        self.full_text_search = full_text_search
        #: False: serve every notification whatever ``types[]`` asks (servers that ignore
        #: the filter, or types newer than the client).
        self.honour_types = True
        self.instance: dict[str, Any] = self.instance_recorded.json()
        if max_characters is not None:
            self.instance["configuration"]["statuses"]["max_characters"] = max_characters
        self.me: dict[str, Any] = self.me_recorded.json()
        #: Access token -> acct of the account it acts as (default: ours, TOKEN).
        self.tokens: dict[str, str] = dict(tokens or {TOKEN: self.me["acct"]})
        self.accounts: dict[str, dict[str, Any]] = {self.me["acct"]: self.me}
        recorded = self.notifications_recorded.json()[0]
        self.notifications: list[dict[str, Any]] = [recorded]
        self.statuses: dict[str, dict[str, Any]] = {recorded["status"]["id"]: recorded["status"]}
        self.tag_statuses: list[dict[str, Any]] = list(self.tag_recorded.json())
        for status in self.tag_statuses:
            self.statuses[status["id"]] = status
        self.deleted: set[str] = set()
        self.posted: list[dict[str, Any]] = []
        self.idempotent: dict[tuple[str, str], dict[str, Any]] = {}
        self._ids = itertools.count(int(recorded["status"]["id"]) + 1000)
        self._notification_ids = itertools.count(int(recorded["id"]) + 1)
        for customer in customers:
            self.add_mention(customer)

    # -- the instance's data --------------------------------------------------------------

    def account(self, acct: str) -> dict[str, Any]:
        """The account for ``acct`` (made from the recorded ``admin`` one when new)."""
        if acct not in self.accounts:
            base = copy.deepcopy(self.notifications_recorded.json()[0]["account"])
            username, _, server = acct.partition("@")
            number = str(117020600000000000 + len(self.accounts))
            base.update(
                id=number,
                username=username,
                acct=acct,
                display_name=username.title(),
                followers_count=10 * len(self.accounts),
                url=f"https://{server or 'localhost:3000'}/@{username}",
            )
            self.accounts[acct] = base
        return self.accounts[acct]

    def add_mention(self, customer: Customer) -> dict[str, Any]:
        """A status mentioning our account, and its mention notification (the newest)."""
        status = copy.deepcopy(self.notifications_recorded.json()[0]["status"])
        status_id = str(next(self._ids))
        author = self.account(customer.acct or f"customer{len(self.notifications)}")
        content = customer.html
        if content is None:
            content = f"<p>{_linked(customer.text)}</p>"
        now = dt.datetime.now(dt.UTC)
        status.update(
            id=status_id,
            content=content,
            created_at=_iso(now),
            visibility=customer.visibility,
            spoiler_text=customer.spoiler_text,
            sensitive=bool(customer.spoiler_text),
            account=author,
            url=f"{author['url']}/{status_id}",
            uri=f"{author['url']}/statuses/{status_id}",
        )
        notification = copy.deepcopy(self.notifications_recorded.json()[0])
        notification.update(
            id=str(next(self._notification_ids)),
            created_at=_iso(now),
            account=author,
            status=status,
            group_key=f"ungrouped-{status_id}",
        )
        with self._lock:
            self.statuses[status_id] = status
            self.notifications.append(notification)
        return notification

    def add_notification(self, kind: str) -> dict[str, Any]:
        """A notification of another type (a follow, a favourite): no status to answer."""
        notification = {
            "id": str(next(self._notification_ids)),
            "type": kind,
            "created_at": _iso(dt.datetime.now(dt.UTC)),
            "account": self.account("follower"),
        }
        with self._lock:
            self.notifications.append(notification)
        return notification

    def delete(self, status_id: str) -> None:
        """The author deleted a status: it 404s from now on."""
        with self._lock:
            self.deleted.add(status_id)

    def replies_to(self, status_id: str) -> list[dict[str, Any]]:
        """What was posted in reply to ``status_id``."""
        with self._lock:
            return [s for s in self.posted if s["in_reply_to_id"] == status_id]

    # -- routes ---------------------------------------------------------------------------

    def _acting(self, request: SeenRequest) -> dict[str, Any] | None:
        acct = self.tokens.get(request.bearer() or "")
        return self.accounts.get(acct) if acct else None

    def route(self, request: SeenRequest) -> Answer:
        """Map a Mastodon API path to its recorded (or derived) answer."""
        path = request.path.rstrip("/")
        if request.method == "GET" and path == "/api/v2/instance":
            return self._answer(self.instance, self.instance_recorded)
        if request.method == "GET" and path == "/api/v1/instance":
            # Derived: the v1 shape's fields that Mastodon.py reads (its version check).
            v1 = {k: self.instance[k] for k in ("title", "version", "languages", "rules")}
            v1["uri"] = self.instance["domain"]
            return self._answer(v1, self.instance_recorded)
        if request.method == "GET" and (m := re.fullmatch(r"/api/v1/timelines/tag/(\w+)", path)):
            tag = m.group(1).lower()
            found = [s for s in self.tag_statuses if f"#{tag}" in _text(s["content"]).lower()]
            return self._page(found, request, self.tag_recorded)
        account = self._acting(request)
        if account is None:
            return Answer.of({"error": "The access token is invalid"}, status=401)
        if request.method == "GET" and path == "/api/v1/accounts/verify_credentials":
            return self._answer(account, self.me_recorded)
        if request.method == "GET" and path == "/api/v1/notifications":
            if account is not self.me:
                return self._page([], request, self.notifications_recorded)
            types = [v for k, v in parse_qsl(_query(request)) if k == "types[]"]
            wanted = types if self.honour_types else []
            items = [n for n in self.notifications if not wanted or n["type"] in wanted]
            return self._page(items, request, self.notifications_recorded)
        if request.method == "GET" and path == "/api/v2/search":
            return self._search(request)
        if request.method == "POST" and path == "/api/v1/statuses":
            return self._post(request, account)
        if request.method == "GET" and (m := re.fullmatch(r"/api/v1/statuses/(\d+)/context", path)):
            return self._context(m.group(1))
        if request.method == "GET" and (m := re.fullmatch(r"/api/v1/statuses/(\d+)", path)):
            status = self.statuses.get(m.group(1))
            if status is None or m.group(1) in self.deleted:
                return Answer.of({"error": "Record not found"}, status=404)
            return self._answer(status, self.reply_recorded)
        return self.not_found(request)

    def rate_limited(self, reset_in: int) -> Answer:
        """Mastodon's 429: nothing left in the window until ``X-RateLimit-Reset``."""
        reset = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=reset_in)
        headers = {
            "x-ratelimit-limit": "300",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        return Answer.of({"error": "Too many requests"}, status=429, headers=headers)

    def _headers(self, recorded: Recorded) -> dict[str, str]:
        headers = {k: v for k, v in recorded.headers.items() if k != "link"}
        reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        headers["x-ratelimit-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return headers

    def _answer(self, payload: Any, recorded: Recorded, status: int = 200) -> Answer:
        return Answer.of(payload, status=status, headers=self._headers(recorded))

    def _page(
        self, items: list[dict[str, Any]], request: SeenRequest, recorded: Recorded
    ) -> Answer:
        params = request.query
        ordered = sorted(items, key=lambda i: int(i["id"]), reverse=True)
        size = min(int(params.get("limit") or 20), 40)
        if self.page_size:
            size = min(size, self.page_size)
        if params.get("max_id"):
            ordered = [i for i in ordered if int(i["id"]) < int(params["max_id"])]
        if params.get("since_id"):
            ordered = [i for i in ordered if int(i["id"]) > int(params["since_id"])]
        if params.get("min_id"):
            newer = [i for i in ordered if int(i["id"]) > int(params["min_id"])]
            page = newer[-size:]  # the items just after min_id, still newest first
        else:
            page = ordered[:size]
        headers = self._headers(recorded)
        if page:
            base = f"{self.url}{request.path}"
            keep = [(k, v) for k, v in parse_qsl(_query(request)) if k == "types[]"]
            older = urlencode([("limit", size), ("max_id", page[-1]["id"]), *keep])
            newer_link = urlencode([("limit", size), ("min_id", page[0]["id"]), *keep])
            headers["link"] = f'<{base}?{older}>; rel="next", <{base}?{newer_link}>; rel="prev"'
        return Answer.of(copy.deepcopy(page), headers=headers)

    def _search(self, request: SeenRequest) -> Answer:
        body = self.search_recorded.json()
        q = request.query.get("q", "").lower()
        if self.full_text_search and q:
            found = [
                s
                for sid, s in self.statuses.items()
                if q in _text(s["content"]).lower() and sid not in self.deleted
            ]
            if request.query.get("min_id"):
                found = [s for s in found if int(s["id"]) > int(request.query["min_id"])]
            found.sort(key=lambda s: int(s["id"]), reverse=True)
            offset = int(request.query.get("offset") or 0)
            size = min(int(request.query.get("limit") or 20), 40)
            body["statuses"] = copy.deepcopy(found[offset : offset + size])
        return self._answer(body, self.search_recorded)

    def _post(self, request: SeenRequest, account: dict[str, Any]) -> Answer:
        if "json" in request.headers.get("content-type", ""):
            form = {k: v for k, v in (request.json() or {}).items() if v is not None}
        else:
            form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        text = str(form.get("status") or "")
        key = request.headers.get("idempotency-key")
        if key and (account["id"], key) in self.idempotent:
            return self._answer(self.idempotent[(account["id"], key)], self.reply_recorded)
        limit = self.instance["configuration"]["statuses"]["max_characters"]
        if len(re.sub(r"@(\w+)@[\w.-]+", r"@\1", text)) > limit:
            message = f"Validation failed: Text character limit of {limit} exceeded"
            return Answer.of({"error": message}, status=422)
        parent = str(form.get("in_reply_to_id") or "")
        if parent and (parent not in self.statuses or parent in self.deleted):
            return Answer.of({"error": "Record not found"}, status=404)
        status = self.reply_recorded.json()
        status_id = str(next(self._ids))
        status.update(
            id=status_id,
            content=f"<p>{_linked(text)}</p>",
            created_at=_iso(dt.datetime.now(dt.UTC)),
            in_reply_to_id=parent or None,
            in_reply_to_account_id=self.statuses[parent]["account"]["id"] if parent else None,
            visibility=form.get("visibility") or "public",
            spoiler_text=form.get("spoiler_text") or "",
            account=account,
            url=f"{account['url']}/{status_id}",
        )
        with self._lock:
            self.statuses[status_id] = status
            self.posted.append(status)
            if key:
                self.idempotent[(account["id"], key)] = status
        return self._answer(status, self.reply_recorded)

    def _context(self, status_id: str) -> Answer:
        if status_id not in self.statuses or status_id in self.deleted:
            return Answer.of({"error": "Record not found"}, status=404)
        body = self.context_recorded.json()
        below, frontier = [], {status_id}
        with self._lock:
            posted = list(self.posted)
        while frontier:
            found = [s for s in posted if s["in_reply_to_id"] in frontier]
            below += found
            frontier = {s["id"] for s in found}
        body["descendants"] = copy.deepcopy(below)
        return self._answer(body, self.context_recorded)


def _query(request: SeenRequest) -> str:
    """The raw query string (repeated keys such as ``types[]`` survive)."""
    return request.raw_query or urlencode(list(request.query.items()))


def _linked(text: str) -> str:
    """Text as Mastodon renders it: escaped, line breaks as ``<br>``, mentions linked."""
    escaped = html.escape(text).replace("\n", "<br>")
    return re.sub(
        r"@(\w+)(?:@[\w.-]+)?",
        lambda m: (
            f'<span class="h-card"><a href="https://example.invalid/@{m.group(1)}" '
            f'class="u-url mention">@<span>{m.group(1)}</span></a></span>'
        ),
        escaped,
    )


def _text(content: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", content))


def without(field: str, index: int = 0):  # type: ignore[no-untyped-def]
    """A rewrite for a notifications page: ``field`` gone from the ``index``-th status on it."""

    def drop(payload: Any) -> Any:
        statuses = [n["status"] for n in payload if isinstance(n, dict) and n.get("status")]
        if len(statuses) > index:
            statuses[index].pop(field, None)
        return payload

    return drop


def as_json(value: Any) -> bytes:
    """A JSON body (for ``Fault.respond``)."""
    return json.dumps(value).encode()
