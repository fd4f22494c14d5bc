"""X (Twitter) source over tweepy's v2 ``Client``.

Reads with the app's bearer token (recent search for a brand's query, and the brand
account's mentions timeline), posts replies with user-context OAuth 1.0a keys. Cursors
are ``since_id`` values: the newest tweet id seen, so the next poll never re-reads what
an earlier one covered. Every tweepy and requests exception is translated here, once,
into ``listener.errors``.

Over 500 lines on purpose: a platform is one plug-in file (``listener.base``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import requests
import tweepy  # type: ignore[import-untyped]  # tweepy ships no type information
from requests.adapters import HTTPAdapter

from listener._common import (
    ID_CHARS,
    LANG_CHARS,
    NAME_CHARS,
    fit,
    header_int,
    install_redaction,
    json_safe,
    same_text,
    storable,
    utcnow,
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

log = logging.getLogger(__name__)

PLATFORM = "twitter"
DEFAULT_API_URL = "https://api.twitter.com"
# tweepy.Client builds every URL as "https://api.twitter.com" + "/2/...": the host is a
# local variable inside BaseClient.request, so it cannot be set; see _RebaseAdapter.
_TWEEPY_HOST = "https://api.twitter.com"

TWEET_FIELDS = [
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "lang",
    "public_metrics",
    "author_id",
]
USER_FIELDS = ["public_metrics", "username", "name", "verified"]
_MAX_RESULTS = 100
# The API refuses smaller pages: recent search takes 10..100, timelines 5..100.
_MIN_RESULTS = {"search": 10, "mentions": 5, "timeline": 5}
# How many of our own newest tweets find_reply looks through (3 pages).
_FIND_REPLY_PAGES = 3
# When a 429 carries no reset header, wait one X rate-limit window's worth at most.
_DEFAULT_RETRY_AFTER = 60.0
_DIGITS = re.compile(r"^\d+$")
# X ids are unsigned 64-bit snowflakes: at most 20 digits.
_TWEET_ID = re.compile(r"^\d{1,20}$")
# What a BigInteger column holds; a larger "follower count" is garbage, not reach.
_MAX_FOLLOWERS = 2**63 - 1
# The platform's words for "this reply can never be posted" (a 403 that is not about
# credentials): replies limited by the author, deleted or hidden tweets, duplicates.
_REPLY_REFUSAL = re.compile(
    r"reply|deleted|not visible|duplicate|not allowed|restricted|suspended|protected",
    re.IGNORECASE,
)
_DUPLICATE = re.compile(r"duplicate", re.IGNORECASE)
_TRANSIENT_STATUSES = frozenset({408, 409, 425})


class _RebaseAdapter(HTTPAdapter):
    """Sends tweepy's requests to a configurable base URL, each with a timeout.

    Why an adapter: tweepy hardcodes ``https://api.twitter.com`` inside
    ``BaseClient.request`` and passes no timeout to requests, so a hung connection
    would block a worker forever. Overriding ``request`` would mean copying tweepy's
    status-to-exception logic; instead this adapter is mounted on the client's
    ``requests.Session`` for the ``https://api.twitter.com`` prefix, and requests hands
    it every prepared request. It swaps the prefix for ``base_url`` (a no-op in
    production) and fills in the timeout. OAuth 1.0a signatures are computed over the
    original URL; only a local fake server, which does not check them, sees another one.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(  # type: ignore[override]  # requests' own signature is loosely typed
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Rewrite the host and add the timeout, then send as requests would."""
        url = request.url or ""
        if self.base_url != _TWEEPY_HOST and url.startswith(_TWEEPY_HOST):
            request.url = self.base_url + url[len(_TWEEPY_HOST) :]
        return super().send(
            request,
            stream=stream,
            timeout=timeout if timeout is not None else self.timeout,
            verify=verify,
            cert=cert,
            proxies=dict(proxies) if proxies is not None else None,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class _Account:
    id: str
    handle: str


def tweet_url(handle: str, tweet_id: str) -> str:
    """The public URL of a tweet (``i/web`` works when the handle is unknown)."""
    return f"https://x.com/{handle or 'i/web'}/status/{tweet_id}"


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """X's ``x-rate-limit-*`` headers as a ``RateLimit``; None when it sent none."""
    limit = header_int(headers, "x-rate-limit-limit")
    remaining = header_int(headers, "x-rate-limit-remaining")
    reset = header_int(headers, "x-rate-limit-reset")
    if limit is None and remaining is None and reset is None:
        return None
    reset_at = dt.datetime.fromtimestamp(reset, dt.UTC) if reset is not None else None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)


def retry_after_seconds(headers: Mapping[str, str], now: dt.datetime | None = None) -> float:
    """Seconds until X lets us in again, from a 429's headers.

    The 15-minute window resets at ``x-rate-limit-reset``; posting also has a 24-hour
    cap whose reset comes in ``x-user-limit-24hour-reset`` / ``x-app-limit-24hour-*``.
    The longest exhausted window decides.
    """
    now_ts = (now or utcnow()).timestamp()
    candidates: list[int] = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        reset = header_int(headers, f"{prefix}-reset")
        remaining = header_int(headers, f"{prefix}-remaining")
        exhausted = remaining is None or remaining <= 0
        if reset is not None and (exhausted or prefix == "x-rate-limit"):
            candidates.append(reset)
    if candidates:
        return max(1.0, max(candidates) - now_ts)
    retry_after = header_int(headers, "retry-after")
    if retry_after is not None:
        return max(1.0, float(retry_after))
    return _DEFAULT_RETRY_AFTER


def _reason(exc: Any) -> str:
    messages = getattr(exc, "api_messages", None) or []
    text = "; ".join(str(m) for m in messages if m)
    return text or str(exc)


def translate_error(exc: BaseException, *, action: str = "poll") -> SourceError:
    """The ``listener.errors`` kind for a tweepy or requests exception.

    ``action`` is ``"poll"``, ``"reply"`` or ``"lookup"``: a 403 on a reply usually
    means the platform refuses that one reply (author limits replies, tweet deleted),
    which no new credentials will fix; elsewhere a 403 means our keys lack access.
    """
    if isinstance(exc, tweepy.HTTPException):
        return _http_error(exc, action)
    # JSONDecodeError is both a ValueError and a requests exception: check it first.
    if isinstance(exc, ValueError | requests.exceptions.ContentDecodingError):
        return MalformedPayloadError(f"X sent an unreadable payload: {exc}", platform=PLATFORM)
    # Timeouts, refused or dropped connections, and anything else unexpected: retry later.
    return TransientSourceError(f"X call failed ({type(exc).__name__}): {exc}", platform=PLATFORM)


def _http_error(exc: Any, action: str) -> SourceError:
    status = int(getattr(exc.response, "status_code", 0))
    reason = _reason(exc)
    if status == 429:
        wait = retry_after_seconds(exc.response.headers)
        return RateLimited(f"X rate limit hit ({action})", retry_after=wait, platform=PLATFORM)
    refused_reply = action == "reply" and bool(_REPLY_REFUSAL.search(reason))
    if status == 401 or (status == 403 and not refused_reply):
        return AuthError(f"X refused our credentials for {action}: {reason}", platform=PLATFORM)
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return TransientSourceError(f"X answered {status} to {action}: {reason}", platform=PLATFORM)
    return PermanentSourceError(
        f"X refused {action} ({status}): {reason}", reason=reason, platform=PLATFORM
    )


def tweet_to_mention(
    tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]]
) -> Mention | None:
    """One API v2 tweet as a ``Mention``, or None (logged) when required fields are missing.

    One odd tweet must not lose the whole page, so it is skipped, not raised. Required:
    a numeric ``id``, ``text``, ``author_id`` and a readable ``created_at``; optional
    fields of the wrong type are left out. The text is kept as posted, except for what
    no database can store (``storable``).
    """
    tweet_id = tweet.get("id")
    text = tweet.get("text")
    author_id = tweet.get("author_id")
    created_raw = tweet.get("created_at")
    missing = [
        name
        for name, value in (
            ("id", tweet_id),
            ("text", text),
            ("author_id", author_id),
            ("created_at", created_raw),
        )
        if not isinstance(value, str) or not value
    ]
    if missing:
        log.warning("skipping %s tweet %s: missing %s", PLATFORM, tweet_id, ", ".join(missing))
        return None
    # All four were checked just above; the asserts tell the type checker.
    assert isinstance(tweet_id, str)
    assert isinstance(text, str)
    assert isinstance(author_id, str)
    assert isinstance(created_raw, str)
    if not _TWEET_ID.match(tweet_id) or len(author_id) > ID_CHARS:
        log.warning("skipping %s tweet %r: unreadable id or author_id", PLATFORM, tweet_id[:40])
        return None
    try:
        created_at = dt.datetime.fromisoformat(created_raw)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=dt.UTC)
        created_at = created_at.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved to UTC
        log.warning("skipping %s tweet %s: unreadable created_at", PLATFORM, tweet_id)
        return None

    user = users.get(author_id)
    if not isinstance(user, Mapping):
        user = {}
    metrics = user.get("public_metrics") or {}
    followers = metrics.get("followers_count") if isinstance(metrics, Mapping) else None
    handle = fit(str(user.get("username") or ""), NAME_CHARS)
    author = Author(
        id=storable(author_id),
        handle=handle,
        name=fit(str(user.get("name") or ""), NAME_CHARS),
        followers=followers if _is_count(followers) else None,
        verified=user.get("verified") is True,
    )
    in_reply_to = None
    references = tweet.get("referenced_tweets")
    for ref in references if isinstance(references, list) else []:
        if isinstance(ref, Mapping) and ref.get("type") == "replied_to":
            in_reply_to = _id_or_none(ref.get("id"))
    lang = tweet.get("lang")
    return Mention(
        platform=PLATFORM,
        external_id=tweet_id,
        text=storable(text),
        author=author,
        created_at=created_at,
        url=tweet_url(handle, tweet_id),
        conversation_id=_id_or_none(tweet.get("conversation_id")),
        in_reply_to_id=in_reply_to,
        lang=storable(lang) if isinstance(lang, str) and 0 < len(lang) <= LANG_CHARS else None,
        raw=json_safe({"tweet": tweet, "author": user or None}),
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_FOLLOWERS


def _id_or_none(value: object) -> str | None:
    """A referenced tweet's id (X sends strings; an int is read too), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _TWEET_ID.match(value) else None


class TwitterSource:
    """Polls X for a brand's mentions and posts its replies, through tweepy's v2 Client.

    Query kinds: ``"search"`` (``terms`` is a recent-search query, the last 7 days) and
    ``"mentions"`` (``terms`` is the brand's handle, with or without ``@``, or its
    numeric user id). ``api_url`` is a setting so tests can aim the real client at a
    local fake server. Safe to share between threads: the only state is two lookups.
    """

    platform: ClassVar[str] = PLATFORM

    def __init__(
        self,
        *,
        bearer_token: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        account_handle: str | None = None,
        account_id: str | None = None,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
    ) -> None:
        self._user_keys = (consumer_key, consumer_secret, access_token, access_token_secret)
        self._client = tweepy.Client(
            bearer_token=bearer_token,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            # Raw responses: we need the rate-limit headers, and parse JSON ourselves so
            # an unreadable body becomes MalformedPayloadError, not a tweepy crash.
            return_type=requests.Response,
            # Never sleep inside a worker: a 429 becomes RateLimited for the caller.
            wait_on_rate_limit=False,
        )
        self._client.session.mount(_TWEEPY_HOST, _RebaseAdapter(api_url, timeout))
        self._has_bearer = bool(bearer_token)
        self._account = (
            _Account(account_id, account_handle.lstrip("@"))
            if account_id and account_handle
            else None
        )
        self._account_handle = account_handle.lstrip("@") if account_handle else None
        self._user_ids: dict[str, str] = {}
        self._lock = threading.Lock()
        install_redaction(
            ["tweepy.client"],
            [s for s in (bearer_token, consumer_secret, access_token_secret) if s],
        )

    # -- polling ---------------------------------------------------------------

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """Tweets newer than ``since`` (a tweet id), oldest first, paging until done.

        ``limit`` bounds only a first poll (no ``since``): later polls read every page
        since the cursor, because X pages newest first and stopping early would leave a
        gap. An error on any page raises and keeps the old cursor, so the
        next poll re-reads rather than leaves a gap.
        """
        if since is not None and not _DIGITS.match(since):
            raise PermanentSourceError(
                f"not an X since_id cursor: {since!r}", reason="bad cursor", platform=PLATFORM
            )
        try:
            return self._poll(query, since, limit)
        except PermanentSourceError as exc:
            # Recent search refuses a since_id older than its 7-day window; the stored
            # cursor would then block the query for good, so start afresh once.
            if since is not None and "since_id" in exc.reason:
                log.warning(
                    "%s query %s: since_id %s refused (%s); polling without it",
                    PLATFORM,
                    query.id,
                    since,
                    exc.reason,
                )
                page = self._poll(query, None, limit)
                return dataclasses.replace(page, requests=page.requests + 1)
            raise

    def _poll(self, query: Query, since: str | None, limit: int) -> Page:
        fetch, token_param, minimum = self._fetcher(query)
        mentions: list[Mention] = []
        newest = int(since) if since else 0
        requests_made = reads = 0
        rate_limit: RateLimit | None = None
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "expansions": ["author_id"],
                "tweet_fields": TWEET_FIELDS,
                "user_fields": USER_FIELDS,
                # One page size for the whole walk: X's tokens assume it does not change.
                "max_results": max(minimum, min(_MAX_RESULTS, limit)),
            }
            if since:
                params["since_id"] = since
            if token:
                params[token_param] = token
            response = self._call(functools.partial(fetch, **params), action="poll")
            requests_made += 1
            rate_limit = parse_rate_limit(response.headers) or rate_limit
            tweets, users, token = _page_parts(_json_object(response), query.id)
            for tweet in tweets:
                if not isinstance(tweet, Mapping):
                    log.warning("skipping %s item that is not a tweet: %.200r", PLATFORM, tweet)
                    continue
                reads += 1
                tweet_id = str(tweet.get("id", ""))
                if _TWEET_ID.match(tweet_id):
                    newest = max(newest, int(tweet_id))
                mention = tweet_to_mention(tweet, users)
                if mention is not None:
                    mentions.append(mention)
            if not token:
                break
            if reads >= limit and since is None:
                # Only a first poll stops early (no need to read a week of history); with
                # a since_id every page is read, or the tweets between the old cursor and
                # the oldest one read would be skipped for good: X pages newest first.
                break
        mentions.sort(key=lambda m: int(m.external_id))
        cursor = str(newest) if newest else since
        log.debug(
            "%s query %s: %d mentions from %d tweets in %d requests, cursor %s",
            PLATFORM,
            query.id,
            len(mentions),
            reads,
            requests_made,
            cursor,
        )
        return Page(
            mentions=mentions,
            cursor=cursor,
            requests=requests_made,
            reads=reads,
            rate_limit=rate_limit,
        )

    def _fetcher(self, query: Query) -> tuple[Callable[..., requests.Response], str, int]:
        if query.kind == "search":
            terms = query.terms

            def search(**params: Any) -> requests.Response:
                return self._client.search_recent_tweets(  # type: ignore[no-any-return]
                    terms, user_auth=self._read_with_user_keys(), **params
                )

            return search, "next_token", _MIN_RESULTS["search"]
        if query.kind == "mentions":
            user_id = self._user_id(query.terms)

            def mentions(**params: Any) -> requests.Response:
                return self._client.get_users_mentions(  # type: ignore[no-any-return]
                    user_id, user_auth=self._read_with_user_keys(), **params
                )

            return mentions, "pagination_token", _MIN_RESULTS["mentions"]
        raise PermanentSourceError(
            f"X cannot poll query kind {query.kind!r} (query {query.id})",
            reason=f"unsupported query kind {query.kind!r}",
            platform=PLATFORM,
        )

    def _user_id(self, handle_or_id: str) -> str:
        """The numeric id for a handle, looked up once (ids never change; handles can)."""
        key = handle_or_id.strip().lstrip("@")
        if _DIGITS.match(key):
            return key
        with self._lock:
            cached = self._user_ids.get(key.lower())
        if cached:
            return cached
        response = self._call(
            lambda: self._client.get_user(username=key, user_auth=self._read_with_user_keys()),
            action="lookup",
        )
        data = _json_object(response).get("data")
        if not isinstance(data, Mapping) or not _DIGITS.match(str(data.get("id", ""))):
            raise PermanentSourceError(
                f"X has no user @{key}", reason=f"unknown handle @{key}", platform=PLATFORM
            )
        user_id = str(data["id"])
        with self._lock:
            self._user_ids[key.lower()] = user_id
        return user_id

    # -- replies ---------------------------------------------------------------

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Reply to ``mention`` with ``text`` as the brand account (one POST, no retries).

        A 403 for duplicate content means the same reply is already there (an earlier
        send whose answer was lost): that reply is looked up and returned.
        """
        self._require_user_keys()
        try:
            response = self._call(
                lambda: self._client.create_tweet(
                    text=text, in_reply_to_tweet_id=mention.external_id, user_auth=True
                ),
                action="reply",
            )
        except PermanentSourceError as exc:
            if _DUPLICATE.search(exc.reason):
                found = self.find_reply(mention, text)
                if found is not None:
                    log.info(
                        "%s reply to %s already posted as %s",
                        PLATFORM,
                        mention.external_id,
                        found.external_id,
                    )
                    return found
            raise
        data = _json_object(response).get("data")
        if not isinstance(data, Mapping) or not data.get("id"):
            raise MalformedPayloadError(
                f"X accepted the reply to {mention.external_id} but sent no tweet id",
                platform=PLATFORM,
            )
        reply_id = str(data["id"])
        log.info("%s posted reply %s to %s", PLATFORM, reply_id, mention.external_id)
        return PostedReply(
            platform=PLATFORM,
            external_id=reply_id,
            url=tweet_url(self._handle_after_post(), reply_id),
            posted_at=utcnow(),
        )

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """Our reply to ``mention`` with ``text`` if X shows it, else None.

        Reads the brand account's own timeline since the mention (``since_id`` = the
        mention's id: our reply is necessarily newer) rather than recent search, because
        search indexes new tweets with a delay and a miss here would post twice.
        """
        account = self._me()
        user_auth = self._read_with_user_keys()
        token: str | None = None
        for _ in range(_FIND_REPLY_PAGES):
            params: dict[str, Any] = {
                "since_id": mention.external_id,
                "max_results": _MAX_RESULTS,
                "tweet_fields": TWEET_FIELDS,
            }
            if token:
                params["pagination_token"] = token
            call = functools.partial(
                self._client.get_users_tweets, account.id, user_auth=user_auth, **params
            )
            response = self._call(call, action="lookup")
            payload = _json_object(response)
            for tweet in payload.get("data") or []:
                if not isinstance(tweet, Mapping):
                    continue
                replied_to = {
                    str(ref.get("id"))
                    for ref in tweet.get("referenced_tweets") or []
                    if isinstance(ref, Mapping) and ref.get("type") == "replied_to"
                }
                if mention.external_id in replied_to and same_text(
                    str(tweet.get("text", "")), text
                ):
                    return PostedReply(
                        platform=PLATFORM,
                        external_id=str(tweet["id"]),
                        url=tweet_url(account.handle, str(tweet["id"])),
                        posted_at=_parse_time(tweet.get("created_at")) or utcnow(),
                    )
            meta = payload.get("meta") or {}
            token = meta.get("next_token") if isinstance(meta, Mapping) else None
            if not token:
                break
        return None

    def _me(self) -> _Account:
        """The brand account posting replies (from settings, else one ``/2/users/me``)."""
        with self._lock:
            if self._account is not None:
                return self._account
        if self._account_handle and self._has_bearer:
            account = _Account(self._user_id(self._account_handle), self._account_handle)
        else:
            self._require_user_keys()
            response = self._call(lambda: self._client.get_me(user_auth=True), action="lookup")
            data = _json_object(response).get("data")
            if not isinstance(data, Mapping) or not data.get("id"):
                raise MalformedPayloadError("X /2/users/me sent no user", platform=PLATFORM)
            account = _Account(str(data["id"]), str(data.get("username") or ""))
        with self._lock:
            self._account = account
        return account

    def _handle_after_post(self) -> str:
        """Our handle for the reply's URL; best effort, as the reply is already out.

        A failed lookup here must not turn a posted reply into an error (the sender
        would then treat a sent reply as unsent), so it falls back to ``i/web``.
        """
        try:
            return self._me().handle
        except SourceError as exc:
            log.info("%s handle lookup failed after posting (%s); using i/web", PLATFORM, exc)
            return self._account_handle or ""

    def _read_with_user_keys(self) -> bool:
        """Reads use the app's bearer token; without one, the user-context keys."""
        if self._has_bearer:
            return False
        self._require_user_keys()
        return True

    def _require_user_keys(self) -> None:
        if not all(self._user_keys):
            raise AuthError(
                "X needs the user-context OAuth 1.0a keys (consumer key and secret, access "
                "token and secret) to post, and to read when no bearer token is set",
                platform=PLATFORM,
            )

    @staticmethod
    def _call(fn: Callable[[], requests.Response], *, action: str) -> requests.Response:
        """Run one tweepy call, translating whatever it raises (the one place we do)."""
        try:
            return fn()
        except (tweepy.TweepyException, requests.RequestException, ValueError) as exc:
            raise translate_error(exc, action=action) from exc


def _page_parts(
    payload: Mapping[str, Any], query_id: int
) -> tuple[list[Any], dict[str, Mapping[str, Any]], str | None]:
    """A page's tweets, its authors by id, and the next page's token (None at the end).

    A page whose lists are not lists is malformed as a whole; odd items inside them are
    left to ``tweet_to_mention``.
    """
    tweets = payload.get("data") or []
    includes = payload.get("includes") or {}
    included = (includes.get("users") or []) if isinstance(includes, Mapping) else None
    if not isinstance(tweets, list) or not isinstance(included, list):
        raise MalformedPayloadError(
            f"X page for query {query_id} has no tweet list or no user list", platform=PLATFORM
        )
    errors = payload.get("errors")
    for error in errors if isinstance(errors, list) else []:
        log.info("%s query %s: partial error %.500r", PLATFORM, query_id, error)
    meta = payload.get("meta") or {}
    token = meta.get("next_token") if isinstance(meta, Mapping) else None
    users = {str(u.get("id")): u for u in included if isinstance(u, Mapping)}
    return tweets, users, token if isinstance(token, str) and token else None


def _json_object(response: requests.Response) -> Mapping[str, Any]:
    """The response body as a JSON object; anything else is a malformed payload."""
    try:
        payload = response.json()
    except ValueError as exc:  # requests.JSONDecodeError is a ValueError
        raise MalformedPayloadError(
            f"X sent unreadable JSON from {_path(response)}: {exc}", platform=PLATFORM
        ) from exc
    if not isinstance(payload, Mapping):
        raise MalformedPayloadError(
            f"X sent JSON that is not an object from {_path(response)}", platform=PLATFORM
        )
    return payload


def _path(response: requests.Response) -> str:
    # The path only: query strings and hosts are noise here and never hold tokens on X.
    url = response.url or ""
    return url.split("?", 1)[0]


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


__all__: Sequence[str] = [
    "DEFAULT_API_URL",
    "TwitterSource",
    "parse_rate_limit",
    "retry_after_seconds",
    "translate_error",
    "tweet_to_mention",
    "tweet_url",
]
