"""Reddit source over praw: subreddit searches and listings, the brand account's inbox mentions.

Cursors come from listings (the newest item's fullname and ``created_utc``), never from
praw's streams: a stream keeps its position only in memory and replays up to 100 old
items when it starts. Every praw and prawcore exception is translated here, once, into
``listener.errors``.

Over 500 lines on purpose: a platform is one plug-in file (``listener.base``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import praw
import praw.exceptions
import prawcore
import requests

from listener._common import (
    ID_CHARS,
    NAME_CHARS,
    fit,
    header_int,
    identifier,
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

PLATFORM = "reddit"
DEFAULT_OAUTH_URL = "https://oauth.reddit.com"
DEFAULT_REDDIT_URL = "https://www.reddit.com"
DEFAULT_SHORT_URL = "https://redd.it"
WEB_URL = "https://www.reddit.com"
_DEFAULT_RETRY_AFTER = 60.0
# How many of our own newest comments find_reply looks through.
_FIND_REPLY_LIMIT = 100
_CONTEXT_LINK = re.compile(r"/comments/([a-z0-9]+)/", re.IGNORECASE)
_MINUTES = re.compile(r"(\d+)\s*(minute|second)", re.IGNORECASE)
_FULLNAME = re.compile(r"t\d_[a-z0-9]+")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RedditCursor:
    """Where a Reddit listing was read up to: the newest item's fullname and time."""

    fullname: str
    created_utc: float

    def encode(self) -> str:
        """The opaque string stored in the cursor table: ``t3_abc@1458434031.0``."""
        return f"{self.fullname}@{self.created_utc!r}"

    @classmethod
    def decode(cls, value: str) -> RedditCursor:
        """Parse ``encode``'s string; ValueError when it is not one."""
        fullname, sep, created = value.partition("@")
        if not sep or not _FULLNAME.fullmatch(fullname):
            raise ValueError(f"not a reddit cursor: {value!r}")
        return cls(fullname, float(created))

    def covers(self, fullname: str, created_utc: float) -> bool:
        """Whether an item is at or before this cursor (already read by an earlier poll)."""
        return fullname == self.fullname or created_utc < self.created_utc


@dataclass(frozen=True, slots=True)
class RedditQuery:
    """A parsed ``Query.terms``: which subreddits, and which keywords to look for."""

    subreddits: tuple[str, ...]
    keywords: str

    @classmethod
    def parse(cls, query: Query) -> RedditQuery:
        """``"sub1,sub2: keywords"``; with no keywords after ``:``, the query's brand."""
        subs, _, keywords = query.terms.partition(":")
        names = tuple(
            s.strip().removeprefix("/").removeprefix("r/") for s in subs.split(",") if s.strip()
        )
        return cls(names or ("all",), (keywords.strip() or query.brand).strip())

    def matches(self, text: str) -> bool:
        """Client-side keyword filter for listings Reddit cannot search (comments).

        Keywords are separated by commas or ``OR``; any one matching as whole words,
        case-insensitively, is a hit. No keywords match everything.
        """
        phrases = [
            p.strip().strip('"')
            for p in re.split(r",|\bOR\b", self.keywords)
            if p.strip().strip('"')
        ]
        if not phrases:
            return True
        return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text, re.IGNORECASE) for p in phrases)


def parse_rate_limit(
    headers: Mapping[str, str], now: dt.datetime | None = None
) -> RateLimit | None:
    """Reddit's ``x-ratelimit-remaining/used/reset`` headers (reset is in seconds)."""
    remaining = header_int(headers, "x-ratelimit-remaining")
    used = header_int(headers, "x-ratelimit-used")
    reset = header_int(headers, "x-ratelimit-reset")
    if remaining is None and used is None and reset is None:
        return None
    limit = remaining + used if remaining is not None and used is not None else None
    reset_at = (now or utcnow()) + dt.timedelta(seconds=reset) if reset is not None else None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)


def _retry_after(response: requests.Response | None) -> float:
    if response is None:
        return _DEFAULT_RETRY_AFTER
    for name in ("retry-after", "x-ratelimit-reset"):
        value = header_int(response.headers, name)
        if value is not None:
            return max(1.0, float(value))
    return _DEFAULT_RETRY_AFTER


def _api_error_retry_after(message: str) -> float:
    """Seconds from praw's RATELIMIT text ("Take a break for 9 minutes ...")."""
    found = _MINUTES.search(message)
    if not found:
        return _DEFAULT_RETRY_AFTER
    amount = int(found.group(1))
    return float(amount * 60 if found.group(2).lower() == "minute" else amount)


def translate_error(exc: BaseException, *, action: str = "poll") -> SourceError:
    """The ``listener.errors`` kind for a praw or prawcore exception.

    Forbidden, NotFound and Redirect (a missing subreddit) refuse one thing for good
    (locked or archived thread, deleted comment, private subreddit): permanent. Token
    trouble is an ``AuthError``: a person must fix the settings.
    """
    if isinstance(exc, prawcore.ResponseException) and not isinstance(exc, prawcore.BadJSON):
        return _response_error(exc, action)
    if isinstance(exc, praw.exceptions.RedditAPIException):
        return _api_error(exc, action)
    if isinstance(exc, prawcore.OAuthException | praw.exceptions.ReadOnlyException):
        return AuthError(
            f"Reddit refused our credentials for {action} (a logged-in account is needed "
            f"to post or read the inbox): {exc}",
            platform=PLATFORM,
        )
    if isinstance(exc, prawcore.BadJSON | ValueError):
        return MalformedPayloadError(f"Reddit sent an unreadable payload: {exc}", platform=PLATFORM)
    # RequestException (timeouts, dropped connections) and anything unexpected: retry.
    detail = getattr(exc, "original_exception", exc)
    return TransientSourceError(
        f"Reddit call failed ({type(exc).__name__}): {detail!r}", platform=PLATFORM
    )


def _response_error(exc: prawcore.ResponseException, action: str) -> SourceError:
    status = exc.response.status_code
    if isinstance(exc, prawcore.TooManyRequests) or status == 429:
        return RateLimited(
            f"Reddit rate limit hit ({action})",
            retry_after=_retry_after(exc.response),
            platform=PLATFORM,
        )
    if isinstance(exc, prawcore.InvalidToken | prawcore.InsufficientScope) or status == 401:
        return AuthError(f"Reddit refused our credentials for {action}: {exc}", platform=PLATFORM)
    if status >= 500 or status in (408, 409):
        return TransientSourceError(f"Reddit answered {status} to {action}", platform=PLATFORM)
    reason = f"{type(exc).__name__}: {exc}"
    return PermanentSourceError(
        f"Reddit refused {action}: {reason}", reason=reason, platform=PLATFORM
    )


def _api_error(exc: praw.exceptions.RedditAPIException, action: str) -> SourceError:
    """Errors Reddit put in a 200 answer: RATELIMIT means wait, the rest are refusals."""
    items = list(exc.items)
    for item in items:
        if item.error_type == "RATELIMIT":
            return RateLimited(
                f"Reddit rate limit hit ({action}): {item.message}",
                retry_after=_api_error_retry_after(item.message or ""),
                platform=PLATFORM,
            )
    reason = "; ".join(f"{i.error_type}: {i.message}" for i in items) or str(exc)
    return PermanentSourceError(
        f"Reddit refused {action}: {reason}", reason=reason, platform=PLATFORM
    )


def _fields(item: object) -> dict[str, Any]:
    """The fields Reddit sent for a praw object, read without triggering a fetch.

    praw fetches lazily on a missing attribute (one extra request per item); the
    listing already carried everything we need, so read the instance dict.
    """
    return {k: v for k, v in vars(item).items() if not k.startswith("_")}


def _permalink(fields: Mapping[str, Any]) -> str | None:
    """The item's path on reddit.com, without query string; None when undeterminable."""
    for key in ("permalink", "context"):
        value = fields.get(key)
        if isinstance(value, str) and value.startswith("/"):
            return value.split("?", 1)[0]
    link_id, item_id = fields.get("link_id"), fields.get("id")
    subreddit = _name_of(fields.get("subreddit"), "display_name")
    if isinstance(link_id, str) and isinstance(item_id, str) and item_id and subreddit:
        return f"/r/{subreddit}/comments/{link_id.removeprefix('t3_')}/_/{item_id}/"
    return None


def _name_of(value: object, attribute: str) -> str | None:
    """A name praw sent as a string or wrapped in an object (``Redditor``, ``Subreddit``).

    Read from the attribute, never through ``str()``: praw wraps whatever JSON came back,
    and an object around a number raises on ``str()``.
    """
    name = value if isinstance(value, str) else getattr(value, attribute, None)
    return name if isinstance(name, str) and name else None


def item_to_mention(fields: Mapping[str, Any]) -> Mention | None:
    """A listing item's fields as a ``Mention``; None (logged) when required ones are missing.

    Required: ``name`` (the fullname), a readable ``created_utc``, and a ``body``
    (comments) or ``title`` (submissions). Text is kept as posted, except for what no
    database can store (``storable``).
    """
    fullname = fields.get("name")
    created = fields.get("created_utc")
    is_submission = isinstance(fullname, str) and fullname.startswith("t3_")
    if is_submission:
        title = fields.get("title")
        body = fields.get("selftext") or ""
        text = f"{title}\n\n{body}".strip() if isinstance(title, str) and title else None
    else:
        body = fields.get("body")
        text = body if isinstance(body, str) and body else None
    missing = [
        name
        for name, ok in (
            ("name", isinstance(fullname, str) and 0 < len(fullname) <= ID_CHARS),
            ("created_utc", isinstance(created, int | float) and not isinstance(created, bool)),
            ("title" if is_submission else "body", text is not None),
        )
        if not ok
    ]
    if missing:
        log.warning(
            "skipping %s item %s: missing %s",
            PLATFORM,
            fullname or fields.get("id"),
            ", ".join(missing),
        )
        return None
    # Checked just above; the asserts tell the type checker.
    assert isinstance(fullname, str)
    assert isinstance(created, int | float)
    assert text is not None
    created_at = _timestamp(created)
    if created_at is None:
        log.warning("skipping %s item %s: unreadable created_utc", PLATFORM, fullname)
        return None
    permalink = _permalink(fields)
    author = _name_of(fields.get("author"), "name")
    handle = fit(author, NAME_CHARS) if author else "[deleted]"
    link_id = fields.get("link_id")
    if not isinstance(link_id, str):
        context = fields.get("context")
        found = _CONTEXT_LINK.search(context) if isinstance(context, str) else None
        link_id = f"t3_{found.group(1)}" if found else (fullname if is_submission else None)
    parent = fields.get("parent_id")
    fullname = storable(fullname)
    return Mention(
        platform=PLATFORM,
        external_id=fullname,
        text=storable(text),
        author=Author(
            id=identifier(fields.get("author_fullname")) or handle[:ID_CHARS],
            handle=handle,
            name=handle,
            followers=None,  # Reddit has no follower counts for ordinary accounts
        ),
        created_at=created_at,
        url=storable(f"{WEB_URL}{permalink}" if permalink else f"{WEB_URL}/{fullname}"),
        conversation_id=identifier(link_id),
        in_reply_to_id=identifier(parent),
        lang=None,
        raw=json_safe(fields),
    )


def _timestamp(created: float) -> dt.datetime | None:
    """``created_utc`` as an aware datetime; None for NaN, infinity or beyond year 9999."""
    try:
        return dt.datetime.fromtimestamp(float(created), dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


class _Meter:
    """HTTP calls made and the last rate-limit headers seen, for ``Page``."""

    def __init__(self) -> None:
        self.requests = 0
        self.rate_limit: RateLimit | None = None

    def observe(self, response: requests.Response) -> None:
        """Count one response and keep its rate-limit headers, if it has any."""
        self.requests += 1
        self.rate_limit = parse_rate_limit(response.headers) or self.rate_limit

    def reset(self) -> None:
        """Start counting a new poll."""
        self.requests = 0
        self.rate_limit = None


class _Requestor(prawcore.Requestor):
    """prawcore's requestor with our timeout on every call, metering every response.

    prawcore hands each request its own default timeout (16 s), so praw's ``timeout``
    setting does not reach the wire; and prawcore retries and fetches tokens on its
    own, so counting calls from our side would undercount. praw's documented
    ``requestor_class`` hook covers both.
    """

    def __init__(self, *, meter: _Meter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meter = meter

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        """Send with our timeout; count the response."""
        response = super().request(*args, timeout=self.timeout, **kwargs)
        self.meter.observe(response)
        return response


class RedditSource:
    """Polls Reddit for a brand's mentions and posts its replies, through praw.

    Query kinds, with ``terms`` as ``"sub1,sub2: keywords"`` (keywords default to the
    query's brand):

    - ``"subreddit"``: search the subreddits for the keywords, newest first (without
      keywords: their new submissions);
    - ``"comments"`` / ``"submissions"``: the subreddits' newest comments or submissions
      (what praw's streams read), kept when they contain a keyword;
    - ``"inbox"``: the brand account's username mentions.

    Base URLs (``oauth_url``, ``reddit_url``, ``short_url``) are settings so tests can
    aim the real client at a local fake server. praw is not thread-safe; a lock
    serialises calls on one instance.
    """

    platform: ClassVar[str] = PLATFORM

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None,
        user_agent: str,
        username: str | None = None,
        password: str | None = None,
        refresh_token: str | None = None,
        oauth_url: str = DEFAULT_OAUTH_URL,
        reddit_url: str = DEFAULT_REDDIT_URL,
        short_url: str = DEFAULT_SHORT_URL,
        timeout: float = 16.0,
    ) -> None:
        self._meter = _Meter()
        password_grant = bool(username and password) and not refresh_token
        self._can_post = bool(refresh_token) or password_grant
        self._username = username
        self._reddit = praw.Reddit(
            requestor_class=_Requestor,
            requestor_kwargs={"meter": self._meter, "timeout": timeout},
            client_id=client_id,
            client_secret=client_secret,
            user_agent=user_agent,
            username=username if password_grant else None,
            password=password if password_grant else None,
            refresh_token=refresh_token or None,
            oauth_url=oauth_url.rstrip("/"),
            reddit_url=reddit_url.rstrip("/"),
            short_url=short_url.rstrip("/"),
            check_for_updates=False,
            # praw would sleep up to this long on a RATELIMIT answer; the caller decides.
            ratelimit_seconds=0,
        )
        self._lock = threading.Lock()
        install_redaction(
            ["prawcore", "prawcore.sessions", "prawcore.auth"],
            [s for s in (client_secret, password, refresh_token) if s],
        )

    # -- polling ---------------------------------------------------------------

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """Items newer than ``since`` (fullname@created_utc), oldest first, at most ``limit`` read.

        Listings come newest first; reading stops at the first item the cursor covers,
        so a poll with nothing new costs one request.
        """
        cursor: RedditCursor | None = None
        if since:
            try:
                cursor = RedditCursor.decode(since)
            except ValueError:
                raise PermanentSourceError(
                    f"not a reddit cursor: {since!r}", reason="bad cursor", platform=PLATFORM
                ) from None
        parsed = RedditQuery.parse(query)
        with self._lock:
            self._meter.reset()
            listing, keep = self._listing(query, parsed, limit)
            mentions: list[Mention] = []
            newest: RedditCursor | None = None
            reads = 0
            for fields in self._guard(_iter_fields(listing), action="poll"):
                reads += 1
                fullname, created = fields.get("name"), fields.get("created_utc")
                # Only a position the next poll can decode and compare goes into the
                # cursor: an odd name would pause the query as a "bad cursor", and an
                # infinite time would cover every later item.
                if (
                    isinstance(fullname, str)
                    and _FULLNAME.fullmatch(fullname)
                    and isinstance(created, int | float)
                    and math.isfinite(created)
                ):
                    if cursor is not None and cursor.covers(fullname, float(created)):
                        break
                    if newest is None or float(created) > newest.created_utc:
                        newest = RedditCursor(fullname, float(created))
                mention = item_to_mention(fields)
                if mention is not None and keep(mention):
                    mentions.append(mention)
            requests_made, rate_limit = self._meter.requests, self._meter.rate_limit
        mentions.sort(key=lambda m: (m.created_at, m.external_id))
        new_cursor = newest.encode() if newest else since
        log.debug(
            "%s query %s: %d mentions from %d items in %d requests, cursor %s",
            PLATFORM,
            query.id,
            len(mentions),
            reads,
            requests_made,
            new_cursor,
        )
        return Page(
            mentions=mentions,
            cursor=new_cursor,
            requests=requests_made,
            reads=reads,
            rate_limit=rate_limit,
        )

    def _listing(
        self, query: Query, parsed: RedditQuery, limit: int
    ) -> tuple[Iterator[Any], Callable[[Mention], bool]]:
        subreddit = self._reddit.subreddit("+".join(parsed.subreddits))

        def everything(_: Mention) -> bool:
            return True

        def keyword(mention: Mention) -> bool:
            return parsed.matches(mention.text)

        if query.kind == "subreddit":
            if parsed.keywords:
                listing = subreddit.search(
                    parsed.keywords, sort="new", time_filter="all", limit=limit
                )
                return listing, everything
            return subreddit.new(limit=limit), everything
        if query.kind == "submissions":
            return subreddit.new(limit=limit), keyword
        if query.kind == "comments":
            return subreddit.comments(limit=limit), keyword
        if query.kind == "inbox":
            if not self._can_post:
                raise AuthError("reading the inbox needs a logged-in account", platform=PLATFORM)
            return self._reddit.inbox.mentions(limit=limit), everything
        raise PermanentSourceError(
            f"Reddit cannot poll query kind {query.kind!r} (query {query.id})",
            reason=f"unsupported query kind {query.kind!r}",
            platform=PLATFORM,
        )

    # -- replies ---------------------------------------------------------------

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Reply to ``mention`` (a comment or submission) with ``text``, once.

        praw's ``reply()`` answers ``None`` when Reddit created the comment but did not
        return it (quarantined subreddits): then our history says where it went, and if
        it is not there yet a ``TransientSourceError`` tells the sender to ``find_reply``
        later rather than post again.
        """
        if not self._can_post:
            raise AuthError(
                "posting to Reddit needs a logged-in account (username and password, or a "
                "refresh token)",
                platform=PLATFORM,
            )
        kind, _, item_id = mention.external_id.partition("_")
        with self._lock:
            if kind == "t1":
                target: Any = self._reddit.comment(item_id)
            elif kind == "t3":
                target = self._reddit.submission(item_id)
            else:
                raise PermanentSourceError(
                    f"cannot reply to Reddit item {mention.external_id}",
                    reason="only comments and submissions take replies",
                    platform=PLATFORM,
                )
            reply = self._guard_call(lambda: target.reply(text), action="reply")
        if reply is None:
            log.warning(
                "%s reply to %s came back empty; looking for it in our history",
                PLATFORM,
                mention.external_id,
            )
            found = self.find_reply(mention, text)
            if found is None:
                raise TransientSourceError(
                    f"Reddit answered nothing for the reply to {mention.external_id}; "
                    "find_reply before posting again",
                    platform=PLATFORM,
                )
            return found
        posted = _posted(_fields(reply))
        log.info("%s posted reply %s to %s", PLATFORM, posted.external_id, mention.external_id)
        return posted

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """Our reply to ``mention`` with ``text`` if Reddit shows it, else None.

        Looks through our account's newest comments for one whose parent is the mention
        (praw's own advice when ``reply()`` returns None): one request, while the
        parent's reply tree needs two and is truncated ("load more") on busy threads.
        """
        with self._lock:
            username = self._me()
            comments = self._reddit.redditor(username).comments.new(limit=_FIND_REPLY_LIMIT)
            for fields in self._guard(_iter_fields(comments), action="lookup"):
                body = fields.get("body")
                if fields.get("parent_id") == mention.external_id and same_text(
                    str(body or ""), text
                ):
                    return _posted(fields)
        return None

    def _me(self) -> str:
        if self._username:
            return self._username
        if not self._can_post:
            raise AuthError("finding replies needs a logged-in account", platform=PLATFORM)
        me = self._guard_call(self._reddit.user.me, action="lookup")
        if me is None:
            raise AuthError("Reddit says we are not logged in", platform=PLATFORM)
        self._username = str(me.name)
        return self._username

    # -- translation -------------------------------------------------------------

    @staticmethod
    def _guard_call(fn: Callable[[], T], *, action: str) -> T:
        try:
            return fn()
        except _VENDOR_ERRORS as exc:
            raise translate_error(exc, action=action) from exc

    @staticmethod
    def _guard(items: Iterator[T], *, action: str) -> Iterator[T]:
        """``items`` with vendor errors raised while iterating (lazy listings) translated."""
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except _VENDOR_ERRORS as exc:
                raise translate_error(exc, action=action) from exc
            except (AttributeError, TypeError, KeyError, IndexError) as exc:
                # praw builds its objects from whatever JSON came back: a listing of an
                # unexpected shape fails inside it with Python's own errors.
                raise MalformedPayloadError(
                    f"Reddit sent a listing praw cannot read ({type(exc).__name__}: "
                    f"{str(exc)[:200]})",
                    platform=PLATFORM,
                ) from exc
            yield item


_VENDOR_ERRORS = (
    prawcore.PrawcoreException,
    praw.exceptions.PRAWException,
    requests.RequestException,
    ValueError,
)


def _iter_fields(listing: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for item in listing:
        yield _fields(item)


def _posted(fields: Mapping[str, Any]) -> PostedReply:
    fullname = fields.get("name") or f"t1_{fields.get('id')}"
    permalink = _permalink(fields)
    created = fields.get("created_utc")
    return PostedReply(
        platform=PLATFORM,
        external_id=str(fullname),
        url=f"{WEB_URL}{permalink}" if permalink else f"{WEB_URL}/{fullname}",
        posted_at=(
            dt.datetime.fromtimestamp(float(created), dt.UTC)
            if isinstance(created, int | float)
            else utcnow()
        ),
    )


__all__: Sequence[str] = [
    "DEFAULT_OAUTH_URL",
    "DEFAULT_REDDIT_URL",
    "RedditCursor",
    "RedditQuery",
    "RedditSource",
    "item_to_mention",
    "parse_rate_limit",
    "translate_error",
]
