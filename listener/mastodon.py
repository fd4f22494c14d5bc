"""Mastodon source over Mastodon.py: the brand account's mentions and searches on its instance.

Reads and posts with one access token on one instance (``api_base_url``): the brand's
account there. Query kinds: ``"mentions"`` (notifications of type mention) and
``"search"`` (a ``#hashtag`` reads the tag's public timeline, which every instance
serves; other terms use the statuses search, which needs the instance's full-text
search, an optional Elasticsearch or OpenSearch: without it Mastodon answers no
statuses at all, only the exact URL of a post; with it, the posts the account wrote,
favourited, bookmarked or was mentioned in, and (4.2 and later) public posts of
accounts that opted in to search. So a word query finds nothing or next to nothing on
most instances: the first poll that finds nothing logs why, and a ``#hashtag`` query is
the way to watch a term).
Cursors are the newest id read; later polls walk forward from it with ``min_id``
through the ``Link`` headers, so a backlog leaves no gap. Every Mastodon.py and
requests exception is translated here, once, into ``listener.errors``.

Over 500 lines on purpose: a platform is one plug-in file (``listener.base``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from html.parser import HTMLParser
from typing import Any, ClassVar, TypeVar

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)

from listener._common import (
    LANG_CHARS,
    NAME_CHARS,
    fit,
    identifier,
    json_safe,
    same_text,
    storable,
    utcnow,
    visible,
)
from listener.base import Author, Mention, Page, PostedReply, Query, RateLimit, Visibility
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

PLATFORM = "mastodon"
#: The most a Mastodon list endpoint returns in one page (notifications: 40 since 3.x).
_PAGE = 40
#: Pages a poll from a cursor reads at most; the cursor then moves to the newest read,
#: and the next poll goes on from there (min_id pages go forward, so nothing is skipped).
_MAX_PAGES = 10
_DEFAULT_RETRY_AFTER = 300.0  # one default window (300 requests per 5 minutes)
_HASHTAG = re.compile(r"#(\w{1,100})")
_LEADING_ADDRESSES = re.compile(r"^(?:@[\w.@-]+\s+)+")

T = TypeVar("T")


class _PlainText(HTMLParser):
    """Mastodon's status HTML as the text a reader sees.

    Paragraphs become blank lines and ``<br>`` a line break; links keep their full URL
    (Mastodon hides part of it in ``<span class="invisible">``, which is still text);
    mentions read "@name"; entities are decoded; ``<script>`` and ``<style>`` content is
    dropped, never kept as text.
    """

    _SKIP = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Line breaks for ``br``; start skipping inside scripts and styles."""
        if tag in self._SKIP:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in {"p", "li", "blockquote", "pre"} and self.parts:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        """Stop skipping at the end of a script or style."""
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        """Keep visible text."""
        if not self._skipping:
            self.parts.append(data)


def plain_text(content: str) -> str:
    """A status's HTML ``content`` as plain text (see ``_PlainText``), safe to store."""
    parser = _PlainText()
    try:
        parser.feed(content)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on broken markup: keep the words
        return visible(html.unescape(re.sub(r"<[^>]*>", " ", content))).strip()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return visible(re.sub(r"\n{3,}", "\n\n", text)).strip()


def _visibility(value: object) -> Visibility | None:
    """The status's visibility; an unknown value is read as direct (never widened)."""
    if not isinstance(value, str):
        return None
    try:
        return Visibility(value)
    except ValueError:
        return Visibility.DIRECT


def _time(value: object) -> dt.datetime | None:
    """A timestamp Mastodon.py parsed (datetime) or left as text (ISO 8601)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _count(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
    return value if ok else None  # type: ignore[return-value]


def status_to_mention(status: Mapping[str, Any], reply_limit: int | None = None) -> Mention | None:
    """A status as a ``Mention``; None (logged) when a required field is missing or odd.

    Required: ``id``, ``content`` (HTML, may be empty with media), ``created_at`` and an
    ``account`` with ``id`` and ``acct``. The HTML is kept in ``raw``; the text is what a
    reader sees. A boost carries no words of its own and is skipped.
    """
    status_id = identifier(str(status.get("id") or ""))
    account = status.get("account")
    content = status.get("content")
    created_at = _time(status.get("created_at"))
    if status.get("reblog"):
        log.info("skipping %s boost %s: no words of its own", PLATFORM, status_id)
        return None
    if not isinstance(account, Mapping):
        account = {}
    acct = account.get("acct")
    author_id = identifier(str(account.get("id") or ""))
    missing = [
        name
        for name, ok in (
            ("id", status_id is not None),
            ("content", isinstance(content, str)),
            ("created_at", created_at is not None),
            ("account.id", author_id is not None),
            ("account.acct", isinstance(acct, str) and bool(acct)),
        )
        if not ok
    ]
    if missing:
        log.warning("skipping %s status %s: missing %s", PLATFORM, status_id, ", ".join(missing))
        return None
    # Checked just above; the asserts tell the type checker.
    assert status_id is not None
    assert author_id is not None
    assert created_at is not None
    assert isinstance(content, str)
    assert isinstance(acct, str)
    spoiler = status.get("spoiler_text")
    lang = status.get("language")
    url = status.get("url") or status.get("uri")
    return Mention(
        platform=PLATFORM,
        external_id=status_id,
        text=plain_text(content),
        author=Author(
            id=author_id,
            handle=fit(acct, NAME_CHARS),
            name=fit(visible(str(account.get("display_name") or "")), NAME_CHARS),
            followers=_count(account.get("followers_count")),
            verified=False,  # Mastodon verifies profile links, not accounts
        ),
        created_at=created_at,
        url=storable(url) if isinstance(url, str) and url.startswith("http") else "",
        conversation_id=None,  # Mastodon's API names no thread root
        in_reply_to_id=identifier(str(status.get("in_reply_to_id") or "")),
        lang=storable(lang) if isinstance(lang, str) and 0 < len(lang) <= LANG_CHARS else None,
        raw=json_safe({"status": dict(status)}),
        visibility=_visibility(status.get("visibility")),
        content_warning=visible(spoiler).strip() or None if isinstance(spoiler, str) else None,
        reply_limit=reply_limit,
    )


def translate_error(
    exc: BaseException, *, action: str = "poll", reset_at: float | None = None
) -> SourceError:
    """The ``listener.errors`` kind for a Mastodon.py exception.

    ``reset_at`` is the client's last ``X-RateLimit-Reset`` (epoch seconds): Mastodon.py
    raises a bare ``MastodonRatelimitError`` and keeps the header on the client.
    """
    if isinstance(exc, MastodonRatelimitError):
        wait = (reset_at - time.time()) if reset_at else _DEFAULT_RETRY_AFTER
        return RateLimited(
            f"Mastodon rate limit hit ({action})", retry_after=max(1.0, wait), platform=PLATFORM
        )
    if isinstance(exc, MastodonNetworkError):
        return TransientSourceError(f"Mastodon call failed ({action}): {exc}", platform=PLATFORM)
    if isinstance(exc, MastodonAPIError):
        return _api_error(exc, action)
    if isinstance(exc, ValueError | requests.exceptions.ContentDecodingError):
        return MalformedPayloadError(
            f"Mastodon sent an unreadable payload: {exc}", platform=PLATFORM
        )
    return TransientSourceError(
        f"Mastodon call failed ({type(exc).__name__}): {exc}", platform=PLATFORM
    )


def _api_error(exc: MastodonAPIError, action: str) -> SourceError:
    args = [*exc.args, None, None, None, None]
    status = args[1] if isinstance(args[1], int) else 0
    reason = str(args[3] or args[2] or args[0])
    if "Could not parse response as JSON" in str(args[0]):
        return MalformedPayloadError(f"Mastodon sent unreadable JSON ({action})", platform=PLATFORM)
    if isinstance(exc, MastodonUnauthorizedError) or (status in (401, 403) and action != "reply"):
        return AuthError(f"Mastodon refused our token for {action}: {reason}", platform=PLATFORM)
    if status >= 500 or status in (408, 409, 425):
        return TransientSourceError(f"Mastodon answered {status} to {action}", platform=PLATFORM)
    if isinstance(exc, MastodonNotFoundError) and action in {"reply", "lookup"}:
        reason = f"the post was deleted or is not visible to us ({reason})"
    return PermanentSourceError(
        f"Mastodon refused {action} ({status}): {reason}", reason=reason, platform=PLATFORM
    )


def _id_key(value: str) -> tuple[int, str]:
    """Order ids as Mastodon does: numbers as numbers (shorter is older), others as text."""
    return (len(value), value) if value.isdigit() else (0, value)


class MastodonSource:
    """Polls a Mastodon instance for a brand's mentions and posts its replies, through
    Mastodon.py.

    ``api_base_url`` is the brand account's instance (tests aim it at a local fake).
    Mastodon.py is told never to sleep on a rate limit (``ratelimit_method="throw"``):
    a worker blocked in a sleep serves no other query. Safe to share between threads: a
    lock serialises calls on the one client (its rate-limit state is not thread-safe).
    """

    platform: ClassVar[str] = PLATFORM

    def __init__(
        self,
        *,
        access_token: str | None,
        api_base_url: str,
        timeout: float = 30.0,
        user_agent: str = "brandcare/0.1 (social care)",
    ) -> None:
        self._token = access_token or None
        self._client = Mastodon(
            access_token=self._token,
            api_base_url=api_base_url.rstrip("/"),
            request_timeout=timeout,
            ratelimit_method="throw",
            # No version checks, except the one Mastodon.py insists on before a search with
            # ``min_id`` (one ``/api/v1/instance`` read per client, cached). Passing
            # ``mastodon_version`` would not help: with checks off it is never parsed.
            version_check_mode="none",
            user_agent=user_agent,
        )
        self._lock = threading.RLock()
        self._me: tuple[str, str] | None = None  # (account id, acct)
        self._limit: int | None = None
        self._searched: set[int] = set()
        self._requests = 0
        #: "read" / "post" -> when a limit the last answer said is spent resets (epoch s).
        self._spent: dict[str, float] = {}

    # -- polling ---------------------------------------------------------------

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """Mentions newer than ``since`` (an id), oldest first.

        Without a cursor: the newest page(s), up to ``limit`` items. With one: every item
        after it, page by page forward (``min_id``), up to ``_MAX_PAGES`` pages.
        """
        if since is not None and not identifier(since):
            raise PermanentSourceError(
                f"not a Mastodon id cursor: {since!r}", reason="bad cursor", platform=PLATFORM
            )
        with self._lock:
            self._requests = 0
            reply_limit = self._reply_limit()
            fetch, unwrap = self._fetcher(query)
            items, newest = self._walk(fetch, since, limit, unwrap)
            mentions = [m for m in (status_to_mention(s, reply_limit) for s in items) if m]
            requests_made = self._requests
            rate_limit = self._rate_limit()
        if (
            query.kind == "search"
            and since is None
            and not items
            and query.id not in self._searched
        ):
            log.info(
                "%s query %s: the search %r found nothing; without the instance's full-text "
                "search Mastodon finds no posts at all, and with it only the account's own, "
                "those it interacted with and those of accounts that opted in (a #hashtag "
                "query reads the tag's timeline instead)",
                PLATFORM,
                query.id,
                query.terms,
            )
        self._searched.add(query.id)
        mentions.sort(key=lambda m: (m.created_at, _id_key(m.external_id)))
        return Page(
            mentions=mentions,
            cursor=newest or since,
            requests=requests_made,
            reads=len(items),
            rate_limit=rate_limit,
        )

    def _fetcher(
        self, query: Query
    ) -> tuple[Callable[..., Any], Callable[[Any], tuple[str, Mapping[str, Any] | None]]]:
        """The list call for a query, and how to read one item: (cursor id, status or None)."""
        if query.kind == "mentions":
            self._require_token("reading the account's mentions")

            def notifications(**params: Any) -> Any:
                return self._client.notifications(types=["mention"], **params)

            return notifications, _notification_status
        if query.kind == "search":
            terms = query.terms.strip() or query.brand
            tag = _HASHTAG.fullmatch(terms)
            if tag:
                name = tag.group(1)

                def hashtag(**params: Any) -> Any:
                    return self._client.timeline_hashtag(name, **params)

                return hashtag, _status_item

            def search(**params: Any) -> Any:
                # The search pages by offset, not by Link headers: one page per call.
                params.pop("since_id", None)
                found = self._client.search_v2(terms, result_type="statuses", **params)
                statuses = found.get("statuses") if isinstance(found, Mapping) else found
                return _Offset(statuses if isinstance(statuses, list) else [])

            return search, _status_item
        raise PermanentSourceError(
            f"Mastodon cannot poll query kind {query.kind!r} (query {query.id})",
            reason=f"unsupported query kind {query.kind!r}",
            platform=PLATFORM,
        )

    def _walk(
        self,
        fetch: Callable[..., Any],
        since: str | None,
        limit: int,
        unwrap: Callable[[Any], tuple[str, Mapping[str, Any] | None]],
    ) -> tuple[list[Mapping[str, Any]], str | None]:
        """Read pages; return the statuses (unordered) and the newest item id seen."""
        statuses: list[Mapping[str, Any]] = []
        newest: str | None = None
        page_size = min(_PAGE, max(1, limit))
        first: dict[str, Any] = {"limit": page_size}
        if since is None:
            direction, want = "next", limit
        else:
            first["min_id"] = since
            direction, want = "prev", None
        page = self._call(functools.partial(fetch, **first), action="poll")
        pages_left, reads, offset = _MAX_PAGES, 0, 0
        while True:
            items = _as_list(page)
            for item in items:
                item_id, status = unwrap(item)
                if item_id and (since is None or _id_key(item_id) > _id_key(since)):
                    reads += 1
                    if newest is None or _id_key(item_id) > _id_key(newest):
                        newest = item_id
                    if status is not None:
                        statuses.append(status)
            pages_left -= 1
            if not items or pages_left <= 0 or (want is not None and reads >= want):
                break
            if isinstance(page, _Offset):  # the search: the next page by offset
                if len(items) < page_size:
                    break
                offset += len(items)
                page = self._call(functools.partial(fetch, **first, offset=offset), action="poll")
                continue
            if getattr(page, f"_pagination_{direction}", None) is None:
                break  # no Link to follow: the last page
            step = self._client.fetch_next if direction == "next" else self._client.fetch_previous
            page = self._call(functools.partial(step, page), action="poll")
            if page is None:
                break
        return statuses, newest

    def _reply_limit(self) -> int:
        """The instance's character limit, read once per source: ``/api/v2/instance``
        (Mastodon 4), else ``/api/v1/instance`` (3.x; ``max_toot_chars`` on servers that
        speak Mastodon's API, Pleroma's), else Mastodon's default with a warning."""
        if self._limit is None:
            limit: int | None = None
            for read in (self._client.instance_v2, self._client.instance_v1):
                try:
                    limit = _instance_limit(self._call(read, action="lookup"))
                except (PermanentSourceError, MalformedPayloadError) as exc:
                    log.info("%s instance settings unreadable (%s)", PLATFORM, exc)
                    continue
                if limit is not None:
                    break
            if limit is None:
                limit = reply_rules(PLATFORM).limit
                log.warning("%s instance states no character limit: using %d", PLATFORM, limit)
            self._limit = limit
        return self._limit

    def _rate_limit(self) -> RateLimit | None:
        reset = self._client.ratelimit_reset
        return RateLimit(
            limit=self._client.ratelimit_limit,
            remaining=self._client.ratelimit_remaining,
            reset_at=dt.datetime.fromtimestamp(reset, dt.UTC) if reset else None,
        )

    # -- replies ---------------------------------------------------------------

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Reply to ``mention`` as the brand account, once: the author's ``@acct`` first, the
        mention's visibility (never wider) and content warning, within the instance's limit.

        The post carries an ``Idempotency-Key`` made from the mention and the text, so a
        retry the instance sees within the hour returns the first post, not a second one.
        """
        self._require_token("posting")
        with self._lock:
            rules = reply_rules(PLATFORM, self._reply_limit())
            body = addressed(text, address_of(mention.author.handle, rules), rules)
            length = reply_length(body, rules)
            if length > rules.limit:
                raise PermanentSourceError(
                    f"reply to {mention.external_id} is {length} characters of {rules.limit}",
                    reason=f"the reply is {length} characters; this instance takes {rules.limit}",
                    platform=PLATFORM,
                )
            key = hashlib.sha256(f"{mention.external_id}\n{body}".encode()).hexdigest()[:64]
            status = self._call(
                lambda: self._client.status_post(
                    body,
                    in_reply_to_id=mention.external_id,
                    visibility=str(mention.visibility or Visibility.PUBLIC),
                    spoiler_text=mention.content_warning or None,
                    language=mention.lang or None,
                    idempotency_key=key,
                ),
                action="reply",
            )
        posted = _posted(status)
        if posted is None:
            raise MalformedPayloadError(
                f"Mastodon accepted the reply to {mention.external_id} but sent no status id",
                platform=PLATFORM,
            )
        log.info("%s posted reply %s to %s", PLATFORM, posted.external_id, mention.external_id)
        return posted

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """Our reply to ``mention`` with ``text`` if the status's thread shows it, else None.

        Reads the status's context (its descendants) for a status by our account that
        answers it with these words: visible at once on our own instance, unlike search.
        """
        self._require_token("finding our replies")
        with self._lock:
            me, _ = self._account()
            context = self._call(
                lambda: self._client.status_context(mention.external_id), action="lookup"
            )
        descendants = context.get("descendants") if isinstance(context, Mapping) else None
        for status in descendants if isinstance(descendants, list) else []:
            if not isinstance(status, Mapping):
                continue
            account = status.get("account")
            if (
                isinstance(account, Mapping)
                and str(account.get("id")) == me
                and str(status.get("in_reply_to_id")) == mention.external_id
                and _same_reply(plain_text(str(status.get("content") or "")), text)
            ):
                return _posted(status)
        return None

    def _account(self) -> tuple[str, str]:
        """Our account (id, acct), looked up once."""
        if self._me is None:
            account = self._call(self._client.account_verify_credentials, action="lookup")
            if not isinstance(account, Mapping) or not account.get("id"):
                raise MalformedPayloadError(
                    "Mastodon sent no account for our token", platform=PLATFORM
                )
            self._me = (str(account["id"]), str(account.get("acct") or ""))
        return self._me

    def _require_token(self, what: str) -> None:
        if not self._token:
            raise AuthError(f"Mastodon needs an access token for {what}", platform=PLATFORM)

    def _call(self, fn: Callable[[], T], *, action: str) -> T:
        """Run one Mastodon.py call, translating whatever it raises (the one place we do).

        Honours ``X-RateLimit-Remaining``: when the last answer of this kind (reads, or
        posts, which Mastodon limits apart) said nothing is left, the call is refused
        before any request until ``X-RateLimit-Reset``; a request into a spent limit
        is only a 429.
        """
        kind = "post" if action == "reply" else "read"
        spent_until = self._spent.get(kind)
        if spent_until is not None and spent_until > time.time():
            raise RateLimited(
                f"Mastodon's rate limit for {kind}s is spent until its reset ({action})",
                retry_after=max(1.0, spent_until - time.time()),
                platform=PLATFORM,
            )
        self._requests += 1
        try:
            return fn()
        except (MastodonError, requests.RequestException, ValueError) as exc:
            raise translate_error(
                exc, action=action, reset_at=self._client.ratelimit_reset
            ) from exc
        finally:
            remaining, reset = self._client.ratelimit_remaining, self._client.ratelimit_reset
            if isinstance(remaining, int) and remaining <= 0 and reset:
                self._spent[kind] = float(reset)
            else:
                self._spent.pop(kind, None)


#: The largest limit stored (``mention.reply_limit`` is a 32-bit integer); an instance
#: that states more is as good as unlimited.
_MAX_LIMIT = 2**31 - 1


def _instance_limit(instance: Any) -> int | None:
    """The status character limit an instance's settings state; None when they state none."""
    if not isinstance(instance, Mapping):
        return None
    config = instance.get("configuration")
    statuses = config.get("statuses") if isinstance(config, Mapping) else None
    limit = statuses.get("max_characters") if isinstance(statuses, Mapping) else None
    if limit is None:
        limit = instance.get("max_toot_chars")
    count = _count(limit)
    return min(count, _MAX_LIMIT) if count else None


class _Offset(list[Any]):
    """A page of search results: the search pages by offset, not by Link headers."""


def _as_list(page: Any) -> list[Any]:
    if page is None:
        return []
    if not isinstance(page, list):
        raise MalformedPayloadError("Mastodon sent a page that is not a list", platform=PLATFORM)
    return page


def _notification_status(item: Any) -> tuple[str, Mapping[str, Any] | None]:
    """A notification's id, and its status when it is a mention that carries one."""
    if not isinstance(item, Mapping):
        log.warning("skipping %s notification that is not an object: %.200r", PLATFORM, item)
        return "", None
    item_id = identifier(str(item.get("id") or "")) or ""
    status = item.get("status")
    if item.get("type") != "mention" or not isinstance(status, Mapping):
        log.info("skipping %s notification %s of type %r", PLATFORM, item_id, item.get("type"))
        return item_id, None
    return item_id, status


def _status_item(item: Any) -> tuple[str, Mapping[str, Any] | None]:
    if not isinstance(item, Mapping):
        log.warning("skipping %s item that is not a status: %.200r", PLATFORM, item)
        return "", None
    return identifier(str(item.get("id") or "")) or "", item


def _same_reply(posted: str, wanted: str) -> bool:
    """Whether a posted status holds our words, whatever addresses open either text
    (Mastodon renders "@kim@example.social" as "@kim")."""
    return same_text(_LEADING_ADDRESSES.sub("", posted), _LEADING_ADDRESSES.sub("", wanted))


def _posted(status: Any) -> PostedReply | None:
    if not isinstance(status, Mapping) or not identifier(str(status.get("id") or "")):
        return None
    url = status.get("url") or status.get("uri") or ""
    return PostedReply(
        platform=PLATFORM,
        external_id=str(status["id"]),
        url=str(url),
        posted_at=_time(status.get("created_at")) or utcnow(),
    )


__all__: Sequence[str] = ["MastodonSource", "plain_text", "status_to_mention", "translate_error"]
