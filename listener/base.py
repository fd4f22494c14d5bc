"""The values sources return and the one small interface every source implements.

Adding a platform is one new module with a class that follows ``Source``, and one line
in ``listener.registry`` saying what a reply there may be (``ReplyRules``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
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


class Visibility(enum.StrEnum):
    """Who may see a post, where the platform says (Mastodon); None elsewhere: public.

    A reply goes out with its mention's visibility: a private or direct mention answered
    in public would publish what the customer said to a few.
    """

    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"  # followers only
    DIRECT = "direct"  # the accounts mentioned only


class Counting(enum.StrEnum):
    """How a platform counts a post's length against its limit."""

    CODE_POINTS = "code_points"  # every Unicode character counts one (Reddit)
    #: Links count 23 and characters beyond the Latin and punctuation ranges count 2 (X).
    WEIGHTED = "weighted"
    #: What a reader sees as one character counts one: a flag or a family emoji is one
    #: grapheme cluster of several code points (Bluesky, Mastodon).
    GRAPHEMES = "graphemes"


@dataclass(frozen=True, slots=True)
class ReplyRules:
    """What a reply may be on a platform: its length limit, how that length is counted
    and how the reply names the author.

    A value, so drafting, the approval check and the inbox's counter apply a platform's
    rules without ever naming the platform (``listener.registry.reply_rules`` gives a
    platform's; a source whose server sets the limit stamps it on each ``Mention``).
    """

    limit: int = 280
    counting: Counting = Counting.CODE_POINTS
    #: Every link counts this many whatever its length (Mastodon); None: as written.
    #: ``WEIGHTED`` counting has its own link rule.
    link_length: int | None = None
    #: "@kim@example.social" counts as "@kim" (Mastodon counts only the local part).
    local_mentions: bool = False
    #: How a reply names the author: "@" + handle, "u/" + handle.
    address: str = "@"
    #: The reply opens with the author's address: on Mastodon and Bluesky that mention is
    #: what notifies the author (and, for a direct post, what lets them see it at all).
    address_first: bool = False

    def with_limit(self, limit: int | None) -> ReplyRules:
        """These rules with a server's own limit (None or not positive: unchanged)."""
        if limit is None or limit <= 0 or limit == self.limit:
            return self
        return dataclasses.replace(self, limit=limit)


@dataclass(frozen=True, slots=True)
class Mention:
    """One post that mentions the brand, normalised across platforms.

    ``platform`` + ``external_id`` identify it; ``raw`` keeps the platform's payload so
    nothing the API said is lost. ``visibility`` and ``content_warning`` are what the
    platform said about who may see it and what it warns of (None where it has no such
    thing); a reply keeps both. ``reply_limit`` is the longest reply the server that
    read it accepts, where that is the server's setting (a Mastodon instance's), else
    None: the platform's ``ReplyRules`` say.
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
    visibility: Visibility | None = None
    content_warning: str | None = None
    reply_limit: int | None = None


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
