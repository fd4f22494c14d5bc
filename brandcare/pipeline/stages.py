"""The pipeline's stages as plain functions: poll, score, draft, send.

Each stage reads what it needs, does its slow work (an API call, a forward pass)
outside any transaction, and writes its results in one short transaction. Every stage
is idempotent: a message delivered twice finds its work done and does nothing, which
is what lets Dramatiq redeliver freely after a crash. ``brandcare.pipeline.tasks`` wraps these
in actors; tests call them directly, without a broker.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.credentials import Purpose, Use
from brandcare.brands.sources import SourceLookup
from brandcare.brands.voice import voice_of
from brandcare.ops import metrics
from brandcare.replies.memory import ReplyMemory, Request
from brandcare.store import memory as reply_memory
from brandcare.store import queries, transaction
from brandcare.store.models import (
    BrandRow,
    DraftRow,
    MentionRow,
    QueryRow,
    ScoreRow,
)
from listener.base import Author, Mention, Query
from listener.errors import AuthError, PermanentSourceError
from responders.drafting import PLATFORM_LIMITS, DraftingError, draft_reply
from responders.policy import Action, Decision, Thresholds, decide
from responders.retrieval import Adapted
from responders.sender import SendOutcome, SendStatus, check_sent, send_once
from responders.voice import Voice
from sentiment.base import Embedder, Scorer, Scores, Sentiment, SentimentProbs
from sentiment.signals import find_signals
from sentiment.text import clean_text

#: The stages log as ``brandcare.pipeline``, the name operators filter their lines by.
log = logging.getLogger("brandcare.pipeline")

SYSTEM = "system"
#: A text any working scorer reads: when it fails too, the scorer is broken, not a post.
_PROBE = "hello"
#: How much of an exception's message an agent is shown (and the database keeps).
_ERROR_CHARS = 500


class ScorerUnavailable(RuntimeError):
    """The scorer fails on every text, a plain one included: retry later, set nothing aside."""


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


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll stored: the new mentions to score, or why the query is paused."""

    query_id: int
    new_ids: list[int] = field(default_factory=list)
    fetched: int = 0
    paused: str | None = None


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


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
    )


def scores_from_row(row: ScoreRow, text: str) -> tuple[Scores, Decision]:
    """The stored score as the scorer's value and the policy's decision."""
    troll_reasons = tuple(r for r in row.reasons if "insult" in r or "offensive" in r)
    scores = Scores(
        sentiment=Sentiment(row.sentiment),
        probs=SentimentProbs(row.prob_negative, row.prob_neutral, row.prob_positive),
        urgency=row.urgency,
        needs_reply_prob=row.needs_reply_prob,
        troll_prob=row.troll_prob,
        offensive_prob=row.offensive_prob or 0.0,
        issue=row.issue,
        issue_prob=row.issue_prob or 0.0,
        urgency_reasons=tuple(r for r in row.reasons if r not in troll_reasons),
        troll_reasons=troll_reasons,
        # The signals the scorer found: it read the cleaned text, so the stage does too.
        signals=find_signals(clean_text(text)[0]),
        model_version=row.model_version,
    )
    if row.troll:
        action = Action.SKIP_TROLL
    elif row.needs_reply:
        action = Action.REPLY
    else:
        action = Action.IGNORE
    decision = Decision(
        action=action,
        needs_reply=row.needs_reply,
        troll=row.troll,
        urgency=row.urgency,
        urgency_level=row.urgency_level,
        reasons=tuple(row.reasons),
    )
    return scores, decision


@dataclass(frozen=True, slots=True)
class SendTarget:
    """Where and as whom a draft's reply goes: read in a transaction, used outside it."""

    platform: str
    mention: Mention
    mention_id: int
    brand_id: int
    text: str
    use: Use


def send_target(s: Session, draft: DraftRow) -> SendTarget:
    """The draft's platform (its query's, else its mention's) and its own brand's account.

    One place, so a requeue's check asks the platform exactly as the send would post.
    """
    mention = s.get(MentionRow, draft.mention_id)
    assert mention is not None
    query = s.get(QueryRow, mention.query_id) if mention.query_id else None
    brand = s.get(BrandRow, mention.brand_id)
    assert brand is not None
    return SendTarget(
        platform=query.platform if query else mention.platform,
        mention=mention_value(mention),
        mention_id=mention.id,
        brand_id=mention.brand_id,
        text=draft.text,
        use=Use(brand.slug, brand.credentials, Purpose.ACCOUNT),
    )


class Pipeline:
    """The stages, bound to a database, the platform sources and a scorer."""

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

    # -- poll -------------------------------------------------------------------------

    def poll(self, query_id: int, *, limit: int = 100) -> PollResult:
        """Fetch one query's new mentions and store them with the cursor, in one transaction.

        Rate limits, 5xx and timeouts propagate (the actor retries with backoff); bad
        credentials and permanent refusals pause the query with the reason, so one
        query's failure never stops the others.
        """
        now = self.clock()
        with transaction(self.sessions) as s:
            row = s.get(QueryRow, query_id)
            if row is None or not row.enabled:
                return PollResult(query_id)
            brand = s.get(BrandRow, row.brand_id)
            assert brand is not None
            paused = self._budget_pause(s, row, now)
            if paused:
                return PollResult(query_id, paused=paused)
            query = Query(row.id, row.platform, row.kind, row.terms, brand.slug)
            use = Use(brand.slug, brand.credentials, Purpose.for_poll(row.platform, row.kind))
            since = queries.get_cursor(s, query_id)
            brand_id = brand.id
        try:
            # Inside the try: a brand whose credentials are incomplete pauses this query.
            page = self.sources(query.platform, use).poll(query, since=since, limit=limit)
        except (AuthError, PermanentSourceError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            with transaction(self.sessions) as s:
                paused_row = s.get(QueryRow, query_id)
                assert paused_row is not None
                paused_row.paused_reason = reason
                queries.add_event(
                    s, SYSTEM, "query.paused", detail={"query": query_id, "reason": reason}
                )
            log.error(
                "query %d (%s %s) paused: %s",
                query_id,
                query.platform,
                query.kind,
                reason,
                extra={"query_id": query_id, "platform": query.platform, "brand": query.brand},
            )
            return PollResult(query_id, paused=reason)
        with self._compute, transaction(self.sessions) as s:
            new_ids = queries.upsert_mentions(s, brand_id, query_id, page.mentions)
            if page.cursor is not None:
                queries.set_cursor(s, query_id, page.cursor)
            queries.record_usage(
                s,
                brand_id=brand_id,
                platform=query.platform,
                day=now.date(),
                query_id=query_id,
                requests=page.requests,
                reads=page.reads,
                est_cost_usd=self.prices.read_cost(query.platform, page.reads),
            )
            cleared = s.get(QueryRow, query_id)
            if cleared is not None and cleared.paused_reason:
                cleared.paused_reason = None
        metrics.polled(query.platform, query.brand, len(page.mentions), len(new_ids))
        log.info(
            "polled query %d (%s %s): %d fetched, %d new",
            query_id,
            query.platform,
            query.kind,
            len(page.mentions),
            len(new_ids),
            extra={
                "query_id": query_id,
                "platform": query.platform,
                "brand": query.brand,
                "mention_ids": new_ids,
            },
        )
        return PollResult(query_id, new_ids, len(page.mentions))

    def _budget_pause(self, s: Session, row: QueryRow, now: dt.datetime) -> str | None:
        """Why a pay-per-use query must not poll now, or None; recorded on the query."""
        if row.daily_budget_usd is None and row.monthly_budget_usd is None:
            return None
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        for period, since, budget in (
            ("daily", day, row.daily_budget_usd),
            ("monthly", month, row.monthly_budget_usd),
        ):
            if budget is None:
                continue
            spent = queries.usage_cost_since(s, since.date(), query_id=row.id)
            if spent >= budget:
                reason = f"budget: {period} budget ${budget:.2f} spent (${spent:.2f})"
                if row.paused_reason != reason:
                    row.paused_reason = reason
                    queries.add_event(
                        s, SYSTEM, "query.paused", detail={"query": row.id, "reason": reason}
                    )
                    log.warning(
                        "query %d (%s) not polled: %s",
                        row.id,
                        row.platform,
                        reason,
                        extra={"query_id": row.id, "platform": row.platform},
                    )
                return reason
        return None

    # -- score ------------------------------------------------------------------------

    def scorer(self) -> Scorer:
        """The scorer, loaded on first use (once per process)."""
        with self._scorer_lock:
            if self._scorer is None:
                self._scorer = self._scorer_factory()
            return self._scorer

    def score(self, mention_ids: Sequence[int]) -> list[int]:
        """Score the mentions not scored yet; return the ones the draft stage must handle."""
        with self._compute:
            return self._score(mention_ids)

    def _score(self, mention_ids: Sequence[int]) -> list[int]:
        with transaction(self.sessions) as s:
            todo = queries.texts_to_score(s, mention_ids)
        if not todo:
            return []
        scorer = self.scorer()  # loaded before the clock starts: a load is not a batch
        started = time.perf_counter()
        results, failed = self._score_texts(scorer, todo)
        metrics.scored(len(todo), time.perf_counter() - started)
        readable = [t for t in todo if t.mention_id not in failed]
        records, actions = self._score_records(readable, results)
        with transaction(self.sessions) as s:
            newly = queries.save_scores(s, records)
            ignored = [m for m in newly if actions[m] is Action.IGNORE]
            queries.set_mention_state(s, ignored, "ignored", from_states=["scored"])
            self._set_aside(s, failed, stage="score")
        log.info(
            "scored %d mentions (%d to draft)",
            len(newly),
            len(newly) - len(ignored),
            extra={"mention_ids": newly, "ignored_ids": ignored},
        )
        return [m for m in newly if actions[m] is not Action.IGNORE]

    @staticmethod
    def _score_texts(
        scorer: Scorer, todo: Sequence[queries.TextToScore]
    ) -> tuple[list[Scores], dict[int, str]]:
        """Scores of the texts the scorer reads, and why it failed on the others.

        A batch that fails is scored text by text, so one post the scorer chokes on is
        set aside for the agents instead of holding its batch back at every retry. When
        every text fails and a plain one does too, the scorer itself is broken:
        ``ScorerUnavailable``, which the actor retries, and nothing is set aside.
        """
        try:
            return scorer.score([t.text for t in todo]), {}
        except Exception as exc:  # noqa: BLE001  (any scorer's bug: find the posts at fault)
            log.warning(
                "scoring %d mentions failed (%s: %s); scoring them one by one",
                len(todo),
                type(exc).__name__,
                exc,
            )
        results: list[Scores] = []
        failed: dict[int, str] = {}
        for item in todo:
            try:
                results.extend(scorer.score([item.text]))
            except Exception as exc:  # noqa: BLE001
                failed[item.mention_id] = f"scoring failed: {type(exc).__name__}: {exc}"
        if len(failed) == len(todo):
            try:
                scorer.score([_PROBE])
            except Exception as exc:
                raise ScorerUnavailable(
                    f"the scorer fails even on {_PROBE!r} ({type(exc).__name__}: {exc}); the "
                    f"{len(todo)} mentions stay unscored and are retried"
                ) from exc
        return results, failed

    @staticmethod
    def _set_aside(s: Session, failed: dict[int, str], *, stage: str) -> None:
        """Mentions a stage failed on: state ``error`` with the reason, and an empty pending
        draft, so they wait in the agents' inbox (answered by hand) rather than nowhere."""
        for mention_id, why in failed.items():
            error = why[:_ERROR_CHARS]
            moved = queries.set_mention_state(
                s, [mention_id], "error", from_states=["new", "scored", "drafted"], error=error
            )
            if not moved:
                continue
            queries.create_drafts(s, [queries.NewDraft(mention_id, "")])
            queries.add_event(
                s,
                SYSTEM,
                "mention.error",
                mention_id=mention_id,
                detail={"stage": stage, "error": error},
            )
            log.error("mention %d set aside for agents: %s", mention_id, error)

    def rescore(self, mention_ids: Sequence[int]) -> list[int]:
        """Score mentions again with this process's model; those it scored for the first time.

        A new model version (``brandcare train --feedback``) adds a score row beside the
        old one, and the newest row is the one the inbox, aggregates and digests read:
        one score per mention, never a blend. Rescoring a window after a model change keeps
        a digest from comparing one model's week with another's. Drafts keep their state
        (an agent sees the new labels and can un-skip); nothing is enqueued.
        """
        with self._compute:
            scorer = self.scorer()
            with transaction(self.sessions) as s:
                todo = queries.texts_to_score(s, mention_ids, scorer.model_version)
            if not todo:
                return []
            records, _ = self._score_records(todo, scorer.score([t.text for t in todo]))
            with transaction(self.sessions) as s:
                return queries.save_scores(s, records)

    def _score_records(
        self, todo: Sequence[queries.TextToScore], results: Sequence[Scores]
    ) -> tuple[list[queries.ScoreRecord], dict[int, Action]]:
        """The rows to store for scored mentions, and what the policy decided for each."""
        records, actions = [], {}
        for item, scores in zip(todo, results, strict=True):
            decision = decide(scores, followers=item.followers, thresholds=self.thresholds)
            actions[item.mention_id] = decision.action
            records.append(
                queries.ScoreRecord(
                    mention_id=item.mention_id,
                    model_version=scores.model_version,
                    sentiment=scores.sentiment.value,
                    prob_negative=scores.probs.negative,
                    prob_neutral=scores.probs.neutral,
                    prob_positive=scores.probs.positive,
                    urgency=decision.urgency,
                    urgency_level=decision.urgency_level,
                    needs_reply=decision.needs_reply,
                    needs_reply_prob=scores.needs_reply_prob,
                    troll=decision.troll,
                    troll_prob=scores.troll_prob,
                    issue=scores.issue,
                    reasons=decision.reasons,
                    offensive_prob=scores.offensive_prob,
                    issue_prob=scores.issue_prob,
                )
            )
        return records, actions

    # -- draft ------------------------------------------------------------------------

    def draft(self, mention_id: int) -> int | None:
        """Draft one mention (see ``draft_many``); the draft's id, or None."""
        return self.draft_many([mention_id]).get(mention_id)

    def draft_many(self, mention_ids: Sequence[int]) -> dict[int, int]:
        """Draft replies for scored mentions; trolls get a skipped draft with the reasons.

        One read and one write transaction for the whole batch: per-mention
        transactions and messages cost more than the drafting itself. A skipped draft
        still carries a drafted text, so an agent who un-skips a misjudged customer has
        a reply ready. Returns mention id -> new draft id (already drafted: left out).
        """
        with self._compute:
            return self._draft_many(mention_ids)

    def _draft_many(self, mention_ids: Sequence[int]) -> dict[int, int]:
        with transaction(self.sessions) as s:
            mentions = s.scalars(
                select(MentionRow).where(
                    MentionRow.id.in_(list(mention_ids)), MentionRow.state.in_(["scored", "new"])
                )
            ).all()
            latest = {
                row.mention_id: row
                for row in s.scalars(
                    select(ScoreRow)
                    .where(ScoreRow.mention_id.in_([m.id for m in mentions]))
                    .order_by(ScoreRow.id)
                )
            }
            brands = {
                b.id: b
                for b in s.scalars(
                    select(BrandRow).where(BrandRow.id.in_({m.brand_id for m in mentions}))
                )
            }
        voices = {brand_id: voice_of(brand) for brand_id, brand in brands.items()}
        work = [
            (m, mention_value(m), *scores_from_row(latest[m.id], m.text))
            for m in mentions
            if m.id in latest
        ]
        # Memory is asked only for what the policy will answer: each request costs an
        # embedding (a forward pass), so skipped and ignored mentions must not pay it.
        adapted = self._from_memory(
            [
                Request(
                    m.id,
                    m.brand_id,
                    value,
                    voices[m.brand_id],
                    PLATFORM_LIMITS.get(m.platform, 280),
                )
                for m, value, _, decision in work
                if decision.action is Action.REPLY
            ]
        )
        drafts = [
            self._compose(value, m.id, scores, decision, voices[m.brand_id], adapted.get(m.id))
            for m, value, scores, decision in work
        ]
        with transaction(self.sessions) as s:
            created = queries.create_drafts(s, drafts)
            for draft_state, mention_state in (("skipped", "skipped"), ("pending", "drafted")):
                ids = [d.mention_id for d in drafts if d.state == draft_state]
                queries.set_mention_state(s, ids, mention_state, from_states=["scored", "new"])
            failed = {d.mention_id: d.error for d in drafts if d.error and d.mention_id in created}
            self._set_aside(s, failed, stage="draft")
        new = [d for d in drafts if d.mention_id in created]
        metrics.drafted(d.state for d in new)
        if created:
            skipped = [d.mention_id for d in new if d.state == "skipped"]
            log.info(
                "drafted %d mentions (%d skipped as trolling)",
                len(created),
                len(skipped),
                extra={
                    "mention_ids": list(created),
                    "draft_ids": list(created.values()),
                    "skipped_ids": skipped,
                },
            )
        return created

    def _from_memory(self, requests: Sequence[Request]) -> dict[int, Adapted]:
        """Past replies adapted for these mentions (a scorer that cannot embed, or brands
        with nothing remembered: none)."""
        scorer = self.scorer()
        if not requests or not isinstance(scorer, Embedder):
            return {}
        try:
            found = self.memory.suggest(self.sessions, scorer, requests)
        except Exception:  # reply memory is a help: a bug there must not stop drafting
            log.exception("reply memory failed for %d mentions: templates", len(requests))
            return {}
        return {int(k): v for k, v in found.items()}

    @staticmethod
    def _compose(
        value: Mention,
        mention_id: int,
        scores: Scores,
        decision: Decision,
        voice: Voice,
        adapted: Adapted | None = None,
    ) -> queries.NewDraft:
        """The draft for one mention: a pending reply (adapted from a past reply when one
        was close enough, else from the templates), or a skipped one with the reason."""
        if adapted is not None and decision.action is Action.REPLY:
            return queries.NewDraft(mention_id, adapted.text, based_on=adapted.based_on.memory_id)
        as_reply = replace(decision, action=Action.REPLY)
        limit = PLATFORM_LIMITS.get(value.platform, 280)
        error: str | None = None
        try:
            drafted = draft_reply(value, scores, as_reply, voice, limit=limit)
            text, template = drafted.text, drafted.template
        except DraftingError as exc:
            log.warning(
                "no draft for mention %d (%s %s): %s",
                mention_id,
                value.platform,
                value.external_id,
                exc,
                extra={"mention_id": mention_id, "platform": value.platform},
            )
            text, template, error = "", None, f"drafting failed: {exc}"
        except Exception as exc:  # a drafting bug must not hold back the batch
            log.exception(
                "drafting mention %d (%s %s) failed", mention_id, value.platform, value.external_id
            )
            text, template, error = "", None, f"drafting failed: {type(exc).__name__}: {exc}"
        if decision.action is Action.SKIP_TROLL:
            why = "; ".join(r for r in decision.reasons if "insult" in r or "offensive" in r)
            return queries.NewDraft(
                mention_id, text, template, state="skipped", skip_reason=why or "trolling"
            )
        return queries.NewDraft(mention_id, text, template, error=error)

    # -- send -------------------------------------------------------------------------

    #: How long after an attempt its post may still be in flight or not yet visible on
    #: the platform; within it a retry only looks, after it a retry may post again.
    settle_window = dt.timedelta(minutes=3)

    def record_send(
        self,
        draft_id: int,
        mention_id: int,
        brand_id: int,
        platform: str,
        outcome: SendOutcome,
        *,
        from_state: str = "sending",
        actor: str = SYSTEM,
    ) -> bool:
        """Write how a send ended: posted (and its cost), unsettled, or failed with why.

        ``from_state``/``actor``: a requeue that finds a failed draft's reply already
        posted records it here too (``failed`` -> ``sent`` by the agent), so "sent" is
        written one way only. True when the draft moved (this caller won the race).
        """
        with transaction(self.sessions) as s:
            if outcome.status is SendStatus.SENT and outcome.posted is not None:
                posted = outcome.posted
                queries.finish_reply(
                    s,
                    draft_id,
                    state="posted",
                    external_id=posted.external_id,
                    url=posted.url,
                    posted_at=posted.posted_at,
                )
                moved = queries.transition_draft(s, draft_id, [from_state], "sent", actor)
                if moved:
                    # Remembered once sent: until then an approval can still be edited
                    # back to pending or rejected, and a sent reply is what customers got.
                    reply_memory.remember_sent(s, draft_id)
                if outcome.post_attempts:
                    queries.record_usage(
                        s,
                        brand_id=brand_id,
                        platform=platform,
                        day=self.clock().date(),
                        posts=1,
                        est_cost_usd=self.prices.post_cost(platform),
                    )
                return moved
            if outcome.status in {SendStatus.UNKNOWN, SendStatus.RETRY_AFTER}:
                queries.finish_reply(s, draft_id, state="refused" if outcome.refused else "unknown")
                return False
            if outcome.status in {SendStatus.FAILED, SendStatus.AUTH_FAILED}:
                queries.finish_reply(s, draft_id, state="unknown")
                if "deleted" in outcome.reason.lower():
                    queries.mark_deleted(s, mention_id, reason=outcome.reason, at=self.clock())
                return queries.transition_draft(
                    s,
                    draft_id,
                    [from_state],
                    "failed",
                    actor,
                    failure_reason=outcome.reason or outcome.status.value,
                )
        return False

    def _send_as(
        self,
        platform: str,
        use: Use,
        value: Mention,
        text: str,
        draft_id: int,
        attempted: bool,
        recent: bool,
    ) -> SendOutcome:
        """Send (or check) through the source holding the draft's own brand's keys.

        Credentials that cannot post fail this draft with the variables to set, like a
        platform refusing our keys: no other brand's source is ever tried instead.
        """
        try:
            source = self.sources(platform, use)
        except AuthError as exc:
            log.error("draft %d (%s): %s", draft_id, platform, exc)
            return SendOutcome(SendStatus.AUTH_FAILED, reason=str(exc))
        if attempted and recent:
            return check_sent(source, value, text, draft_id=draft_id)
        return send_once(source, value, text, already_attempted=attempted, draft_id=draft_id)

    def send(self, draft_id: int) -> SendOutcome | None:
        """Post an approved draft exactly once; None when there is nothing to send.

        ``approved`` moves to ``sending`` (compare-and-set) before the post; a draft
        found already in ``sending`` had an attempt that may have gone out, so the
        sender asks the platform first. Only ``sent`` and ``failed`` end a send.
        """
        with transaction(self.sessions) as s:
            draft = s.get(DraftRow, draft_id)
            if draft is None:
                return None
            if draft.state == "approved":
                if not queries.transition_draft(s, draft_id, ["approved"], "sending", SYSTEM):
                    return None
                attempted = recent = False
            elif draft.state == "sending":
                # A post the platform refused (rate limit) is not in flight: the retry
                # after the reset posts at once rather than wait out the settle window.
                refused = queries.reply_state(s, draft_id) == "refused"
                recent = not refused and draft.updated_at > self.clock() - self.settle_window
                if not recent and not queries.claim_send(s, draft_id, draft.version):
                    return None  # another worker claimed this retry
                attempted = not refused
            else:
                return None
            # Read after the compare-and-set: the words are those of the state that won.
            target = send_target(s, draft)
            platform = target.platform
            if not attempted:
                queries.start_reply(s, draft_id, platform)
        value, text, brand_id = target.mention, target.text, target.brand_id
        mention_id, use = target.mention_id, target.use
        outcome = self._send_as(platform, use, value, text, draft_id, attempted, recent)
        self.record_send(draft_id, mention_id, brand_id, platform, outcome)
        metrics.sent(platform, outcome)
        log.log(
            logging.INFO if outcome.status is SendStatus.SENT else logging.WARNING,
            "draft %d (mention %d, %s): send %s%s",
            draft_id,
            mention_id,
            platform,
            outcome.status.value,
            f": {outcome.reason}" if outcome.reason else "",
            extra={
                "draft_id": draft_id,
                "mention_id": mention_id,
                "platform": platform,
                "outcome": outcome.status.value,
                "reason_class": metrics.send_reason(outcome),
            },
        )
        return outcome
