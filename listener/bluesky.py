"""Bluesky source over the atproto SDK: the brand account's mentions and replies, and searches.

Logs in once with the brand's handle and an app password (``createSession`` is rate
limited hard: about 30 a 5 minutes, 300 a day per account), then lets the SDK refresh
that session before its access token expires; a poll never logs in again unless the
server says the session itself is gone. Query kinds: ``"mentions"``
(``app.bsky.notification.listNotifications``, reasons mention and reply) and
``"search"`` (``app.bsky.feed.searchPosts``, newest first, ``since`` the cursor).
Cursors are the newest ``indexedAt`` read plus its post's URI: Bluesky's own cursors
page backwards (older), so a poll reads back until it reaches what the last one saw.
The list methods are read as JSON and each item checked on its own: the SDK's models
would refuse the whole page for one item with a field missing, and that page would then
fail every poll. Every SDK and httpx exception is translated here, once, into
``listener.errors``.

Over 500 lines on purpose: a platform is one plug-in file (``listener.base``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import httpx
from atproto import Client, models
from atproto_client import exceptions as at_errors
from atproto_client.request import Request, Response

from listener._common import (
    ID_CHARS,
    LANG_CHARS,
    NAME_CHARS,
    fit,
    header_int,
    identifier,
    json_safe,
    same_text,
    utcnow,
    visible,
)
from listener.base import Author, Mention, Page, PostedReply, Query, RateLimit
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    SourceError,
    TransientSourceError,
)
from listener.registry import reply_rules
from listener.text import address_of, addressed, reply_length

log = logging.getLogger(__name__)

PLATFORM = "bluesky"
DEFAULT_SERVICE = "https://bsky.social"
#: Notification reasons that are someone talking to the brand.
REASONS = frozenset({"mention", "reply"})
_PAGE = 50
_MAX_PAGES = 10
_DEFAULT_RETRY_AFTER = 300.0  # one window (3,000 requests per 5 minutes per IP)
#: A session refused again this soon after a login is not made again: the login itself is
#: the problem, and createSession allows about 30 a 5 minutes and 300 a day.
_RELOGIN_EVERY = 900.0
_LIST_NOTIFICATIONS = "app.bsky.notification.listNotifications"
_SEARCH_POSTS = "app.bsky.feed.searchPosts"
_CREATE_RECORD = "com.atproto.repo.createRecord"
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,!?;:)\]]")
_LEADING_ADDRESSES = re.compile(r"^(?:@[\w.:-]+\s+)+")
_POST_URI = re.compile(r"at://([^/]+)/app\.bsky\.feed\.post/([\w.~:-]+)")

T = TypeVar("T")


class _MeteredRequest(Request):  # type: ignore[misc]  # the SDK ships no type information
    """The SDK's HTTP layer, counting requests and keeping the last rate-limit headers.

    The SDK's methods answer models without headers; Bluesky says how much of its
    budget is left (``ratelimit-remaining``) in every response's headers, per limit: the
    reads' 3,000 a 5 minutes, the PDS's write points, createSession's own. So the headers
    are kept per XRPC method as well as the last of all.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests = 0
        self.headers: Mapping[str, Any] = {}
        #: XRPC method (``app.bsky.feed.searchPosts``) -> its last answer's headers.
        self.limits: dict[str, Mapping[str, Any]] = {}

    def _keep(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], response: Response) -> None:
        self.headers = response.headers
        url = str(kwargs.get("url") or (args[0] if args else ""))
        self.limits[url.rsplit("/xrpc/", 1)[-1]] = response.headers

    def get(self, *args: Any, **kwargs: Any) -> Response:
        """GET, counted."""
        self.requests += 1
        response = super().get(*args, **kwargs)
        self._keep(args, kwargs, response)
        return response

    def post(self, *args: Any, **kwargs: Any) -> Response:
        """POST, counted."""
        self.requests += 1
        response = super().post(*args, **kwargs)
        self._keep(args, kwargs, response)
        return response

    def wait_for(self, method: str) -> float | None:
        """Seconds until ``method``'s limit resets when its last answer said none is left
        (``ratelimit-remaining: 0``); None when a call may go out."""
        headers = self.limits.get(method)
        if not headers:
            return None
        remaining = header_int(headers, "ratelimit-remaining")
        reset = header_int(headers, "ratelimit-reset")
        if remaining is None or remaining > 0 or reset is None:
            return None
        wait = reset - utcnow().timestamp()
        return wait if wait > 0 else None


def _rate_limit(headers: Mapping[str, Any]) -> RateLimit | None:
    limit = header_int(headers, "ratelimit-limit")
    remaining = header_int(headers, "ratelimit-remaining")
    reset = header_int(headers, "ratelimit-reset")
    if limit is None and remaining is None and reset is None:
        return None
    reset_at = dt.datetime.fromtimestamp(reset, dt.UTC) if reset is not None else None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)


def translate_error(exc: BaseException, *, action: str = "poll") -> SourceError:
    """The ``listener.errors`` kind for an atproto SDK exception.

    429 waits for ``ratelimit-reset`` (epoch seconds; a write over the PDS's points
    budget says so the same way). 401/403 and expired or invalid tokens need a person;
    a missing post is gone for good (its reply refused as "deleted"); 5xx, 502's
    cousins and transport failures are retried.
    """
    if isinstance(exc, at_errors.RequestErrorBase) and exc.response is not None:
        return _response_error(exc, action)
    if isinstance(exc, at_errors.NetworkError):  # InvokeTimeoutError is one
        return TransientSourceError(
            f"Bluesky call failed ({action}, {type(exc).__name__}): {exc.__cause__ or exc}",
            platform=PLATFORM,
        )
    if isinstance(exc, at_errors.LoginRequiredError):
        return AuthError(f"Bluesky needs a login for {action}", platform=PLATFORM)
    if isinstance(exc, at_errors.ModelError | ValueError):
        return MalformedPayloadError(
            f"Bluesky sent an unreadable payload: {exc}", platform=PLATFORM
        )
    return TransientSourceError(
        f"Bluesky call failed ({type(exc).__name__}): {exc}", platform=PLATFORM
    )


def _response_error(exc: at_errors.RequestErrorBase, action: str) -> SourceError:
    response = exc.response
    assert response is not None
    status = response.status_code
    content = response.content
    error = str(getattr(content, "error", "") or "")
    message = str(getattr(content, "message", "") or "") or error or f"status {status}"
    if status == 429:
        reset = header_int(response.headers, "ratelimit-reset")
        wait = reset - utcnow().timestamp() if reset else _DEFAULT_RETRY_AFTER
        return RateLimited(
            f"Bluesky rate limit hit ({action}): {message}",
            retry_after=max(1.0, wait),
            platform=PLATFORM,
        )
    if status in (401, 403) or error in {"ExpiredToken", "InvalidToken", "AuthRequired"}:
        return AuthError(f"Bluesky refused our session for {action}: {message}", platform=PLATFORM)
    if status >= 500 or status in (408, 409, 413, 425):
        return TransientSourceError(f"Bluesky answered {status} to {action}", platform=PLATFORM)
    if error in {"NotFound", "RecordNotFound"} or "not found" in message.lower():
        reason = f"the post was deleted or is not visible to us ({message})"
        return PermanentSourceError(
            f"Bluesky refused {action}: {reason}", reason=reason, platform=PLATFORM
        )
    return PermanentSourceError(
        f"Bluesky refused {action} ({status}): {message}", reason=message, platform=PLATFORM
    )


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK model or of a plain dict (records of unknown shape stay dicts)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _stamp(value: object) -> str | None:
    """An ``indexedAt`` in one form (UTC, milliseconds, "Z"), so that stamps compare as
    text in time order whatever form the server wrote; None when it is no time."""
    moment = _time(value)
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def post_url(handle: str, uri: str) -> str:
    """The bsky.app address of a post (by handle; by DID when the handle is unknown)."""
    found = _POST_URI.fullmatch(uri)
    if not found:
        return ""
    return f"https://bsky.app/profile/{handle or found.group(1)}/post/{found.group(2)}"


def post_to_mention(
    uri: object, cid: object, author: Any, record: Any, indexed_at: object, raw: Mapping[str, Any]
) -> Mention | None:
    """A post (from a notification or a search) as a ``Mention``; None (logged) when odd.

    Required: an at:// post URI that fits the id column, its CID (a reply needs the
    strong ref), an author with DID and handle, and a record with ``text`` and
    ``createdAt``.
    """
    uri_id = identifier(uri)
    did, handle = _get(author, "did"), _get(author, "handle")
    text, created = (
        _get(record, "text"),
        _time(_get(record, "created_at") or _get(record, "createdAt")),
    )
    missing = [
        name
        for name, ok in (
            ("uri", uri_id is not None and _POST_URI.fullmatch(uri_id) is not None),
            ("cid", isinstance(cid, str) and bool(cid)),
            ("author.did", isinstance(did, str) and 0 < len(did) <= ID_CHARS),
            ("author.handle", isinstance(handle, str) and bool(handle)),
            ("record.text", isinstance(text, str)),
            ("record.createdAt", created is not None),
        )
        if not ok
    ]
    if missing:
        log.warning("skipping %s post %s: missing %s", PLATFORM, uri, ", ".join(missing))
        return None
    # Checked just above; the asserts tell the type checker.
    assert uri_id is not None
    assert isinstance(did, str)
    assert isinstance(handle, str)
    assert isinstance(text, str)
    assert created is not None
    reply = _get(record, "reply")
    root, parent = _get(_get(reply, "root"), "uri"), _get(_get(reply, "parent"), "uri")
    langs = _get(record, "langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    followers = _get(author, "followers_count") or _get(author, "followersCount")
    return Mention(
        platform=PLATFORM,
        external_id=uri_id,
        text=visible(text),
        author=Author(
            id=did,
            handle=fit(handle, NAME_CHARS),
            name=fit(
                visible(str(_get(author, "display_name") or _get(author, "displayName") or "")),
                NAME_CHARS,
            ),
            followers=followers if isinstance(followers, int) and followers >= 0 else None,
        ),
        created_at=created,
        url=post_url(handle, uri_id),
        conversation_id=identifier(root) or uri_id,
        in_reply_to_id=identifier(parent),
        lang=lang if lang and len(lang) <= LANG_CHARS else None,
        raw=json_safe({**raw, "cid": cid, "indexed_at": indexed_at}),
    )


def _cursor(indexed_at: str, uri: str) -> str:
    return f"{indexed_at}|{uri}"


def _parse_cursor(value: str) -> tuple[str, str]:
    indexed_at, sep, uri = value.partition("|")
    stamp = _stamp(indexed_at)
    if not sep or stamp is None:
        raise PermanentSourceError(
            f"not a Bluesky cursor: {value!r}", reason="bad cursor", platform=PLATFORM
        )
    return stamp, uri


def _items(body: Mapping[str, Any], key: str) -> list[Any]:
    """The list of a page (``notifications``, ``posts``); a page without one is unreadable."""
    items = body.get(key)
    if not isinstance(items, list):
        raise MalformedPayloadError(f"Bluesky sent a page without {key}", platform=PLATFORM)
    return items


def _placed(item: Any, kind: str) -> tuple[str, str] | None:
    """Where an item sits in time order: (``indexedAt`` in one form, its URI); None (logged)
    when it has no readable time or URI, so it is skipped, never taken for the cursor."""
    if isinstance(item, Mapping):
        stamp, uri = _stamp(item.get("indexedAt")), item.get("uri")
        if stamp is not None and isinstance(uri, str) and uri:
            return stamp, uri
        what = f"{uri!r}" if isinstance(uri, str) else "without a uri"
    else:
        what = f"that is not an object: {item!r:.200}"
    log.warning("skipping %s %s %s: no readable indexedAt or uri", PLATFORM, kind, what)
    return None


class BlueskySource:
    """Polls Bluesky for a brand's mentions and posts its replies, through the atproto SDK.

    ``service_url`` is the brand account's PDS (``https://bsky.social`` for most; tests
    aim it at a local fake). A lock serialises calls: the SDK's session is one per
    account and must not be refreshed by two threads at once.
    """

    platform: ClassVar[str] = PLATFORM

    def __init__(
        self,
        *,
        handle: str | None,
        app_password: str | None,
        service_url: str = DEFAULT_SERVICE,
        timeout: float = 30.0,
    ) -> None:
        self._handle = (handle or "").lstrip("@") or None
        self._password = app_password or None
        self._request = _MeteredRequest(timeout=timeout)
        self._client = Client(base_url=service_url, request=self._request)
        self._lock = threading.RLock()
        self._did: str | None = None
        self._relogin_at: float | None = None  # time.monotonic() of the last login again
        self.logins = 0

    # -- session ---------------------------------------------------------------

    def _login(self) -> str:
        """Our DID, logging in on first use only; the SDK refreshes the session after."""
        if self._did is not None:
            return self._did
        if not self._handle or not self._password:
            raise AuthError(
                "Bluesky needs the account's handle and an app password", platform=PLATFORM
            )
        handle, password = self._handle, self._password
        self.logins += 1
        self._call(
            lambda: self._client.login(handle, password, fetch_bsky_profile=False), action="login"
        )
        session = self._client._session
        self._did = str(session.did) if session is not None else None
        if not self._did:
            raise MalformedPayloadError("Bluesky sent no DID for our session", platform=PLATFORM)
        return self._did

    def _authed(self, fn: Callable[[], T], *, action: str) -> T:
        """Run ``fn`` logged in (the SDK refreshes the session before it expires).

        A session the server refuses (it forgot it, or its refresh token expired) is made
        again once, and at most once in ``_RELOGIN_EVERY`` seconds: a session refused
        again that soon means the account or its app password is the problem, which
        another createSession would not fix.
        """
        self._login()
        try:
            return self._call(fn, action=action)
        except AuthError:
            now = time.monotonic()
            if self._relogin_at is not None and now - self._relogin_at < _RELOGIN_EVERY:
                raise
            log.info("%s session refused (%s): logging in again", PLATFORM, action)
            self._relogin_at = now
            self._did = None
            self._login()
            return self._call(fn, action=action)

    def _honour_limit(self, method: str, action: str) -> None:
        """Refuse, before any request, a call whose limit the last answer said is spent: a
        request into a spent limit is a 429, and counts against the account."""
        wait = self._request.wait_for(method)
        if wait is not None:
            raise RateLimited(
                f"Bluesky's limit for {method} is spent until its reset ({action})",
                retry_after=max(1.0, wait),
                platform=PLATFORM,
            )

    def _query(self, nsid: str, params: Any) -> Mapping[str, Any]:
        """One XRPC query's JSON body, unparsed (see the module's docstring)."""
        response = self._client.invoke_query(nsid, params=params)
        if not isinstance(response.content, Mapping):
            raise MalformedPayloadError(
                f"Bluesky sent no JSON object for {nsid}", platform=PLATFORM
            )
        return response.content

    # -- polling ---------------------------------------------------------------

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """Posts newer than ``since`` (``indexedAt|uri``), oldest first.

        Reads back from the newest until it reaches what ``since`` covers; a first
        poll stops at ``limit`` items.
        """
        seen = _parse_cursor(since) if since else None
        with self._lock:
            before = self._request.requests
            if query.kind == "mentions":
                self._honour_limit(_LIST_NOTIFICATIONS, "poll")
                items = self._authed(lambda: list(self._notifications(seen, limit)), action="poll")
            elif query.kind == "search":
                self._honour_limit(_SEARCH_POSTS, "poll")
                terms = query.terms.strip() or query.brand
                items = self._authed(lambda: list(self._search(terms, seen, limit)), action="poll")
            else:
                raise PermanentSourceError(
                    f"Bluesky cannot poll query kind {query.kind!r} (query {query.id})",
                    reason=f"unsupported query kind {query.kind!r}",
                    platform=PLATFORM,
                )
            requests_made = self._request.requests - before
            rate_limit = _rate_limit(self._request.headers)
        # Oldest first by when Bluesky indexed them (a post's own createdAt is the poster's
        # clock, which may be anything).
        items.sort(key=lambda item: (item[0], item[1]))
        newest = (items[-1][0], items[-1][1]) if items else None
        mentions = [m for _, _, m in items if m is not None]
        return Page(
            mentions=mentions,
            cursor=_cursor(*newest) if newest else since,
            requests=requests_made,
            reads=len(items),
            rate_limit=rate_limit,
        )

    def _notifications(
        self, seen: tuple[str, str] | None, limit: int
    ) -> Iterator[tuple[str, str, Mention | None]]:
        cursor: str | None = None
        read = 0
        for _ in range(_MAX_PAGES):
            params = models.AppBskyNotificationListNotifications.Params(
                limit=min(_PAGE, max(1, limit)), cursor=cursor
            )
            body = self._query(_LIST_NOTIFICATIONS, params)
            page = _items(body, "notifications")
            for n in page:
                placed = _placed(n, "notification")
                if placed is None:
                    continue
                at, uri = placed
                if seen is not None and placed <= seen:
                    return
                read += 1
                reason = n.get("reason")
                if not isinstance(reason, str) or reason not in REASONS:
                    log.info("skipping %s notification %s: reason %.40r", PLATFORM, uri, reason)
                    yield at, uri, None
                    continue
                raw = {"notification": n}
                mention = post_to_mention(
                    uri, n.get("cid"), n.get("author"), n.get("record"), at, raw
                )
                yield at, uri, mention
            cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if not cursor or not page or (seen is None and read >= limit):
                return

    def _search(
        self, terms: str, seen: tuple[str, str] | None, limit: int
    ) -> Iterator[tuple[str, str, Mention | None]]:
        cursor: str | None = None
        read = 0
        for _ in range(_MAX_PAGES):
            params = models.AppBskyFeedSearchPosts.Params(
                q=terms, sort="latest", limit=min(_PAGE, max(1, limit)), cursor=cursor,
                since=seen[0] if seen else None,
            )  # fmt: skip
            body = self._query(_SEARCH_POSTS, params)
            page = _items(body, "posts")
            for post in page:
                placed = _placed(post, "post")
                if placed is None:
                    continue
                at, uri = placed
                if seen is not None and placed <= seen:
                    return
                read += 1
                raw = {"post": post}
                mention = post_to_mention(
                    uri, post.get("cid"), post.get("author"), post.get("record"), at, raw
                )
                yield at, uri, mention
            cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if not cursor or not page or (seen is None and read >= limit):
                return

    # -- replies ---------------------------------------------------------------

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Reply to ``mention`` once, in its thread (root and parent strong refs), the
        author's handle first as a mention facet, links as link facets, within 300
        graphemes."""
        rules = reply_rules(PLATFORM)
        body = addressed(text, address_of(mention.author.handle, rules), rules)
        length = reply_length(body, rules)
        if length > rules.limit:
            raise PermanentSourceError(
                f"reply to {mention.external_id} is {length} graphemes of {rules.limit}",
                reason=f"the reply is {length} characters; Bluesky takes {rules.limit}",
                platform=PLATFORM,
            )
        with self._lock:
            self._honour_limit(_CREATE_RECORD, "reply")
            reply_to = self._reply_ref(mention)
            facets = facets_for(body, mention.author.handle, mention.author.id)
            langs = [mention.lang] if mention.lang else None
            created = self._authed(
                lambda: self._client.send_post(
                    body,
                    profile_identify=self._did,
                    reply_to=reply_to,
                    facets=facets or None,
                    langs=langs,
                ),
                action="reply",
            )
        uri = str(created.uri)
        log.info("%s posted reply %s to %s", PLATFORM, uri, mention.external_id)
        return PostedReply(
            platform=PLATFORM,
            external_id=uri,
            url=post_url(self._handle or "", uri),
            posted_at=utcnow(),
        )

    def _reply_ref(self, mention: Mention) -> Any:
        """Root and parent strong refs, read fresh (``getPosts``): the parent is the mention,
        the root its thread's root (the mention itself when it starts the thread). The
        look-up also finds a deleted post, which a PDS would let us answer into the void."""
        found = self._authed(
            lambda: self._client.app.bsky.feed.get_posts(
                models.AppBskyFeedGetPosts.Params(uris=[mention.external_id])
            ),
            action="lookup",
        )
        if not found.posts:
            reason = "the post was deleted or is not visible to us"
            raise PermanentSourceError(reason, reason=reason, platform=PLATFORM)
        post = found.posts[0]
        parent = models.ComAtprotoRepoStrongRef.Main(uri=str(post.uri), cid=str(post.cid))
        root_ref = _get(_get(post.record, "reply"), "root")
        root_uri, root_cid = _get(root_ref, "uri"), _get(root_ref, "cid")
        root = (
            models.ComAtprotoRepoStrongRef.Main(uri=root_uri, cid=root_cid)
            if isinstance(root_uri, str) and isinstance(root_cid, str)
            else parent
        )
        return models.AppBskyFeedPost.ReplyRef(root=root, parent=parent)

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """Our reply to ``mention`` with ``text`` if its thread shows it, else None."""
        with self._lock:
            me = self._login()
            thread = self._authed(
                lambda: self._client.app.bsky.feed.get_post_thread(
                    models.AppBskyFeedGetPostThread.Params(uri=mention.external_id, depth=1)
                ),
                action="lookup",
            )
        view = thread.thread
        if _get(view, "not_found") or not _get(view, "post"):
            reason = "the post was deleted or is not visible to us"
            raise PermanentSourceError(reason, reason=reason, platform=PLATFORM)
        for reply in _get(view, "replies") or []:
            post = _get(reply, "post")
            record = _get(post, "record")
            parent = _get(_get(_get(record, "reply"), "parent"), "uri")
            if (
                _get(_get(post, "author"), "did") == me
                and parent == mention.external_id
                and _same_reply(str(_get(record, "text") or ""), text)
            ):
                uri = str(_get(post, "uri"))
                return PostedReply(
                    platform=PLATFORM,
                    external_id=uri,
                    url=post_url(self._handle or "", uri),
                    posted_at=_time(_get(record, "created_at")) or utcnow(),
                )
        return None

    @staticmethod
    def _call(fn: Callable[[], T], *, action: str) -> T:
        """Run one SDK call, translating whatever it raises (the one place we do)."""
        try:
            return fn()
        except (at_errors.AtProtocolError, ValueError) as exc:
            raise translate_error(exc, action=action) from exc
        except httpx.HTTPError as exc:  # what the SDK lets through (a dropped connection)
            raise TransientSourceError(
                f"Bluesky call failed ({action}, {type(exc).__name__}): {exc}", platform=PLATFORM
            ) from exc


def facets_for(text: str, handle: str, did: str) -> list[models.AppBskyRichtextFacet.Main]:
    """Rich-text facets: the author's ``@handle`` as a mention of their DID, and links.

    Byte offsets into the UTF-8 text, as the lexicon says (not character offsets: an
    emoji before the link moves it by four bytes, not one).
    """
    facets: list[models.AppBskyRichtextFacet.Main] = []
    encoded = text.encode()

    def span(start: int, end: int) -> models.AppBskyRichtextFacet.ByteSlice:
        return models.AppBskyRichtextFacet.ByteSlice(
            byte_start=len(text[:start].encode()), byte_end=len(text[:end].encode())
        )

    address = f"@{handle.lstrip('@')}"
    found = re.search(rf"(?<![\w.@]){re.escape(address)}(?![\w.-])", text)
    if found and did:
        facets.append(
            models.AppBskyRichtextFacet.Main(
                index=span(found.start(), found.end()),
                features=[models.AppBskyRichtextFacet.Mention(did=did)],
            )
        )
    for link in _URL.finditer(text):
        facets.append(
            models.AppBskyRichtextFacet.Main(
                index=span(link.start(), link.end()),
                features=[models.AppBskyRichtextFacet.Link(uri=link.group())],
            )
        )
    assert all(f.index.byte_end <= len(encoded) for f in facets)
    return facets


def _same_reply(posted: str, wanted: str) -> bool:
    return same_text(_LEADING_ADDRESSES.sub("", posted), _LEADING_ADDRESSES.sub("", wanted))


__all__: Sequence[str] = ["BlueskySource", "facets_for", "post_to_mention", "translate_error"]
