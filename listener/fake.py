"""A scripted in-memory source for tests of everything downstream of the listener.

Pipeline, sender and scheduler tests need a platform that does exactly what the test
says: return these pages, fail on the third poll, rate-limit one query, accept a reply
but lose the answer. ``ScriptedSource`` does that and counts what was posted, so a
test can assert "posted exactly once".
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from listener._common import same_text, utcnow
from listener.base import Author, Mention, Page, PostedReply, Query
from listener.errors import SourceError, TransientSourceError

PLATFORM = "scripted"

_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def make_mention(
    external_id: str,
    text: str = "hello @brand",
    *,
    platform: str = PLATFORM,
    handle: str = "someone",
    followers: int | None = 100,
    created_at: dt.datetime | None = None,
    conversation_id: str | None = None,
) -> Mention:
    """A ``Mention`` with test defaults, so tests spell out only what they are about."""
    return Mention(
        platform=platform,
        external_id=external_id,
        text=text,
        author=Author(id=f"u-{handle}", handle=handle, name=handle, followers=followers),
        created_at=created_at or _EPOCH,
        url=f"https://example.invalid/{platform}/{external_id}",
        conversation_id=conversation_id,
    )


@dataclass(frozen=True, slots=True)
class PollCall:
    """One call of ``poll`` as the source saw it."""

    query: Query
    since: str | None
    limit: int


@dataclass(frozen=True, slots=True)
class Posted:
    """One reply that went out (whether or not the caller got the answer)."""

    mention: Mention
    text: str
    reply: PostedReply


@dataclass
class ScriptedSource:
    """Returns scripted pages, raises scripted errors, and records every reply.

    - ``pages``: returned by successive polls (any query); ``pages_by_query`` instead
      keys them by ``Query.id``. Once used up, a poll returns an empty page that keeps
      the cursor.
    - ``poll_errors``: ``{n: error}`` raises ``error`` on the n-th poll (1-based, over
      all queries); ``query_errors``: ``{query id: error}`` raises on every poll of
      that query (one failing query among healthy ones).
    - ``post_errors``: ``{n: error}`` raises on the n-th ``post_reply`` call *before*
      anything is posted.
    - ``lose_response_after_post``: how many posts (``True``: all) succeed but raise
      ``TransientSourceError`` as if the answer was lost; ``find_reply`` finds them.
    - ``find_reply_misses``: how many ``find_reply`` calls answer None although the
      reply is there (a platform that shows new posts late).
    """

    platform: ClassVar[str] = PLATFORM

    pages: Sequence[Page] = ()
    pages_by_query: Mapping[int, Sequence[Page]] = field(default_factory=dict)
    poll_errors: Mapping[int, SourceError] = field(default_factory=dict)
    query_errors: Mapping[int, SourceError] = field(default_factory=dict)
    post_errors: Mapping[int, SourceError] = field(default_factory=dict)
    lose_response_after_post: bool | int = False
    find_reply_misses: int = 0

    polls: list[PollCall] = field(default_factory=list, init=False)
    posted: list[Posted] = field(default_factory=list, init=False)
    post_calls: int = field(default=0, init=False)
    find_calls: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._shared = iter(list(self.pages))
        self._by_query = {qid: iter(list(pages)) for qid, pages in self.pages_by_query.items()}
        self._ids = itertools.count(1)
        self._lost = 0

    @classmethod
    def with_mentions(cls, mentions: Iterable[Mention], **kwargs: Any) -> ScriptedSource:
        """One page holding ``mentions``, cursor = the last id (the common case)."""
        items = list(mentions)
        page = Page(
            mentions=items,
            cursor=items[-1].external_id if items else None,
            reads=len(items),
        )
        return cls(pages=[page], **kwargs)

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """The next scripted page, or the scripted error for this call or query."""
        with self._lock:
            self.polls.append(PollCall(query, since, limit))
            number = len(self.polls)
            if number in self.poll_errors:
                raise self.poll_errors[number]
            if query.id in self.query_errors:
                raise self.query_errors[query.id]
            source = self._by_query.get(query.id, self._shared)
            page = next(source, None)
        if page is None:
            return Page(mentions=[], cursor=since, requests=1, reads=0)
        return page

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Post (record) the reply, unless a scripted error comes first; maybe lose the answer."""
        with self._lock:
            self.post_calls += 1
            if self.post_calls in self.post_errors:
                raise self.post_errors[self.post_calls]
            number = next(self._ids)
            reply = PostedReply(
                platform=mention.platform,
                external_id=f"reply-{number}",
                url=f"https://example.invalid/{mention.platform}/reply-{number}",
                posted_at=utcnow(),
            )
            self.posted.append(Posted(mention, text, reply))
            lose = self.lose_response_after_post
            if lose is True or (not isinstance(lose, bool) and self._lost < lose):
                self._lost += 1
                raise TransientSourceError(
                    f"answer lost after posting the reply to {mention.external_id}",
                    platform=mention.platform,
                )
        return reply

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """The recorded reply to ``mention`` with ``text``, after the scripted misses."""
        with self._lock:
            self.find_calls += 1
            if self.find_calls <= self.find_reply_misses:
                return None
            for item in self.posted:
                if (
                    item.mention.platform == mention.platform
                    and item.mention.external_id == mention.external_id
                    and same_text(item.text, text)
                ):
                    return item.reply
        return None

    @property
    def post_count(self) -> int:
        """How many replies actually went out (lost answers included)."""
        with self._lock:
            return len(self.posted)

    def posts_for(self, mention: Mention) -> int:
        """How many replies went out for one mention: the exactly-once check."""
        with self._lock:
            return sum(
                1
                for item in self.posted
                if item.mention.platform == mention.platform
                and item.mention.external_id == mention.external_id
            )


__all__: Sequence[str] = ["PollCall", "Posted", "ScriptedSource", "make_mention"]
