"""The values sources return and the one small interface every source implements.

Adding Mastodon or Bluesky is one new module with a class that follows ``Source``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Author:
    """Who posted a mention, as the platform reports it."""

    id: str
    handle: str
    name: str = ""
    followers: int | None = None
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Mention:
    """One post that mentions the brand, normalised across platforms.

    ``platform`` + ``external_id`` identify it; ``raw`` keeps the platform's payload so
    nothing the API said is lost.
    """

    platform: str
    external_id: str
    text: str
    author: Author
    created_at: dt.datetime  # timezone-aware UTC
    url: str
    conversation_id: str | None = None
    in_reply_to_id: str | None = None
    lang: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Query:
    """What to watch on one platform: search terms, a handle's mentions, subreddits."""

    id: int
    platform: str
    kind: str  # "search", "mentions", "subreddit", "inbox", "replay"
    terms: str  # search query, handle, or comma-separated subreddits; a path for replay
    brand: str = ""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What the platform said about our remaining quota after a request."""

    limit: int | None
    remaining: int | None
    reset_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Page:
    """Mentions found since a cursor, oldest first, and the cursor to store with them.

    The caller stores ``mentions`` and ``cursor`` in one transaction, so a crash
    re-fetches rather than loses. ``requests`` and ``reads`` count API calls and posts
    read, for quota and cost accounting.
    """

    mentions: Sequence[Mention]
    cursor: str | None
    requests: int = 1
    reads: int = 0
    rate_limit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class PostedReply:
    """A reply the platform accepted."""

    platform: str
    external_id: str
    url: str
    posted_at: dt.datetime


@runtime_checkable
class Source(Protocol):
    """A platform plug-in: poll mentions since a cursor, post a reply, find a reply."""

    platform: ClassVar[str]

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """Mentions newer than ``since`` (an opaque cursor; None for the first poll)."""
        ...

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Post ``text`` as a reply to ``mention``; called once per approved draft."""
        ...

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """Our reply to ``mention`` with ``text`` if it is already posted, else None.

        Settles whether a send whose answer was lost went out, so it is never posted twice.
        """
        ...
