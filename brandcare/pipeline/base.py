"""What every stage holds: the database, the platform sources, the scorer and the clock.

``PipelineBase`` keeps them; each stage (``poll``, ``score``, ``draft``, ``send``) is a
class over it, and ``stages.Pipeline`` is the four together. What more than one stage
needs lives here too: the listener's value of a stored mention, and setting aside a
mention a stage failed on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.sources import SourceLookup
from brandcare.replies.memory import ReplyMemory
from brandcare.store.drafts import NewDraft, create_drafts
from brandcare.store.events import SYSTEM, add_event
from brandcare.store.mentions import set_mention_state
from brandcare.store.models import MentionRow, utcnow
from listener.base import Author, Mention, ReplyRules, Visibility
from listener.registry import reply_rules
from listener.text import address_of, addressed, reply_length
from responders.policy import Thresholds
from sentiment.base import Scorer

#: The stages log as one logger, whichever module holds them: the name operators filter by.
LOGGER = "brandcare.pipeline"
log = logging.getLogger(LOGGER)

#: How much of an exception's message an agent is shown (and the database keeps).
_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Prices:
    """What an API call costs, for quota and budget accounting (USD)."""

    x_read: float = 0.005
    x_post: float = 0.01

    def read_cost(self, platform: str, reads: int) -> float:
        """Estimated cost of reading ``reads`` posts on ``platform``."""
        return reads * self.x_read if platform == "twitter" else 0.0

    def post_cost(self, platform: str) -> float:
        """Estimated cost of creating one post on ``platform``."""
        return self.x_post if platform == "twitter" else 0.0


def mention_value(row: MentionRow) -> Mention:
    """The listener's value for a stored mention (what sources reply to)."""
    return Mention(
        platform=row.platform,
        external_id=row.external_id,
        text=row.text,
        author=Author(
            id=row.author_id,
            handle=row.author_handle,
            name=row.author_name,
            followers=row.author_followers,
            verified=row.author_verified,
        ),
        created_at=row.created_at,
        url=row.url,
        conversation_id=row.conversation_id,
        in_reply_to_id=row.in_reply_to_id,
        lang=row.lang,
        raw=row.raw,
        visibility=_visibility(row.visibility),
        content_warning=row.content_warning,
        reply_limit=row.reply_limit,
    )


def rules_of(row: MentionRow) -> ReplyRules:
    """What a reply to a stored mention may be: its platform's rules, with the limit of the
    server that read it where that server set one (a Mastodon instance)."""
    return reply_rules(row.platform, row.reply_limit)


def reply_size(text: str, row: MentionRow) -> tuple[int, int]:
    """(length, limit) of ``text`` as a reply to ``row`` will be posted and counted: with
    the author's address in front where the platform wants them named first."""
    rules = rules_of(row)
    posted = addressed(text.strip(), address_of(row.author_handle, rules), rules)
    return reply_length(posted, rules), rules.limit


def _visibility(value: str | None) -> Visibility | None:
    try:
        return Visibility(value) if value else None
    except ValueError:  # a value an older release stored: treated as unknown, not public
        return Visibility.DIRECT


class PipelineBase:
    """The stages' shared state: a database, the platform sources and a scorer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sources: SourceLookup,
        scorer: Callable[[], Scorer],
        *,
        prices: Prices | None = None,
        thresholds: Thresholds | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        exclusive_compute: bool = True,
    ) -> None:
        self.sessions = sessions
        self.sources = sources
        self._scorer_factory = scorer
        self._scorer: Scorer | None = None
        self._scorer_lock = threading.Lock()
        # Held by the score and draft stages and by the poll stage's write, when the
        # scorer splits each forward pass across torch threads (``exclusive_compute``):
        # one stage's Python at a time per process. A thread running Python beside such
        # a pass holds the GIL that each torch op must take back, stalling the whole
        # OpenMP team up to a switch interval (5 ms) per op: measured, a two-thread
        # forward pass ran ten times slower beside one busy thread. Taking turns is much
        # faster then; threads still overlap the platforms' and the broker's I/O. Lanes
        # of one torch thread each have no team to stall, and the stages run side by
        # side (measured: 2 lanes, 275 mentions/s without the lock, 158 with it). Always
        # taken before a transaction begins, never inside one, so a thread holding a
        # database lock never waits for it.
        self._compute: AbstractContextManager[object] = (
            threading.Lock() if exclusive_compute else nullcontext()
        )
        self.prices = prices or Prices()
        self.thresholds = thresholds or Thresholds()
        self.clock = clock
        #: Past replies drafts are adapted from (when the scorer can embed).
        self.memory = ReplyMemory()

    def scorer(self) -> Scorer:
        """The scorer, loaded on first use (once per process)."""
        with self._scorer_lock:
            if self._scorer is None:
                self._scorer = self._scorer_factory()
            return self._scorer

    @staticmethod
    def _set_aside(s: Session, failed: dict[int, str], *, stage: str) -> None:
        """Mentions a stage failed on: state ``error`` with the reason, and an empty pending
        draft, so they wait in the agents' inbox (answered by hand) rather than nowhere."""
        for mention_id, why in failed.items():
            error = why[:_ERROR_CHARS]
            moved = set_mention_state(
                s, [mention_id], "error", from_states=["new", "scored", "drafted"], error=error
            )
            if not moved:
                continue
            create_drafts(s, [NewDraft(mention_id, "")])
            add_event(
                s,
                SYSTEM,
                "mention.error",
                mention_id=mention_id,
                detail={"stage": stage, "error": error},
            )
            log.error("mention %d set aside for agents: %s", mention_id, error)
