"""Small typed queries for the pipeline stages and the web UI. None of them commits.

The caller owns the transaction (``engine.transaction``): a stage stores mentions and
advances its cursor, or saves scores and creates drafts, and commits once. Everything
that must be idempotent under redelivery or concurrent workers is a single statement
guarded by a unique constraint (``INSERT ... ON CONFLICT DO NOTHING``) or a
compare-and-set (``UPDATE ... WHERE state IN (...)``), never read-then-write.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    Update,
    and_,
    exists,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from brandcare.store.models import (
    DRAFT_STATES,
    MENTION_STATES,
    ApiUsageRow,
    CursorRow,
    DraftRow,
    EventRow,
    MentionRevisionRow,
    MentionRow,
    NaiveDatetimeError,
    ReplyRow,
    ScoreRow,
    utcnow,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

SYSTEM: str = "system"
"""The actor recorded for what the pipeline does on its own."""

# Keys per ``IN`` lookup: far below SQLite's bound-parameter limit for any page size.
# Bulk INSERTs need no chunking: they are executemany calls, which SQLAlchemy's
# "insertmanyvalues" sends as multi-row statements sized to the driver's limits.
_CHUNK = 200

_mention_t: Table = MentionRow.__table__  # type: ignore[assignment]
_revision_t: Table = MentionRevisionRow.__table__  # type: ignore[assignment]
_cursor_t: Table = CursorRow.__table__  # type: ignore[assignment]
_usage_t: Table = ApiUsageRow.__table__  # type: ignore[assignment]
_score_t: Table = ScoreRow.__table__  # type: ignore[assignment]
_draft_t: Table = DraftRow.__table__  # type: ignore[assignment]
_reply_t: Table = ReplyRow.__table__  # type: ignore[assignment]
_event_t: Table = EventRow.__table__  # type: ignore[assignment]


class UnsupportedDialectError(RuntimeError):
    """The session is bound to a database other than SQLite or PostgreSQL."""


class AuthorLike(Protocol):
    """What the store reads from a mention's author (``listener.base.Author`` fits)."""

    @property
    def id(self) -> str:
        """The platform's user id."""
        ...

    @property
    def handle(self) -> str:
        """The @handle or username."""
        ...

    @property
    def name(self) -> str:
        """The display name."""
        ...

    @property
    def followers(self) -> int | None:
        """Reach, when the platform reports it."""
        ...

    @property
    def verified(self) -> bool:
        """Whether the platform marks the account verified."""
        ...


class MentionLike(Protocol):
    """What the store reads from a mention (``listener.base.Mention`` fits).

    A protocol rather than an import keeps the store free of the listener package.
    """

    @property
    def platform(self) -> str:
        """``"twitter"``, ``"reddit"``, ..."""
        ...

    @property
    def external_id(self) -> str:
        """The platform's id of the post."""
        ...

    @property
    def text(self) -> str:
        """The post's text as last seen."""
        ...

    @property
    def author(self) -> AuthorLike:
        """Who posted it."""
        ...

    @property
    def created_at(self) -> dt.datetime:
        """When it was posted (timezone-aware)."""
        ...

    @property
    def url(self) -> str:
        """A link to the post."""
        ...

    @property
    def conversation_id(self) -> str | None:
        """The thread it belongs to."""
        ...

    @property
    def in_reply_to_id(self) -> str | None:
        """The post it answers."""
        ...

    @property
    def lang(self) -> str | None:
        """The language the platform detected."""
        ...

    @property
    def raw(self) -> Mapping[str, Any]:
        """The platform's payload (JSON-serialisable)."""
        ...


def _insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's dialect, which both spell ON CONFLICT the same way."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDialectError(f"brandcare.store supports sqlite and postgresql, not {dialect}")


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterable[Sequence[_T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rowcount(session: Session, stmt: Update) -> int:
    """Execute an UPDATE and return how many rows it matched."""
    result = cast(CursorResult[Any], session.execute(stmt))
    return int(result.rowcount)


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO strings, for JSON columns.

    Platform payloads (tweepy's ``data``) may carry datetimes, which JSON cannot.
    """
    if type(value) in _JSON_SCALARS:  # most of a payload; cheaper than the ABC checks
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _expire_cached(session: Session, cls: type[Any], ids: Iterable[int]) -> None:
    """Expire ORM objects a Core UPDATE just changed, so they reload on next access."""
    if not session.identity_map:  # the stages' write transactions load no objects
        return
    for id_ in ids:
        obj = session.identity_map.get(session.identity_key(cls, id_))
        if obj is not None:
            session.expire(obj)


# --- events --------------------------------------------------------------------------


def add_event(
    session: Session,
    actor: str,
    action: str,
    *,
    mention_id: int | None = None,
    draft_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit-log line (who did what to which mention/draft) and return its id."""
    stmt = (
        _insert(session, _event_t)
        .values(
            at=utcnow(),
            actor=actor,
            action=action,
            mention_id=mention_id,
            draft_id=draft_id,
            detail=_jsonable(dict(detail or {})),
        )
        .returning(_event_t.c.id)
    )
    return int(session.execute(stmt).scalar_one())


# --- mentions ------------------------------------------------------------------------


def _mention_values(
    brand_id: int, query_id: int | None, m: MentionLike, now: dt.datetime
) -> dict[str, Any]:
    """Column values for a new mention row."""
    if m.created_at.tzinfo is None or m.created_at.utcoffset() is None:
        # Checked here: inside the statement it would surface wrapped in a StatementError.
        raise NaiveDatetimeError(
            f"{m.platform} {m.external_id}: created_at {m.created_at!r} has no timezone"
        )
    return {
        "brand_id": brand_id,
        "query_id": query_id,
        "platform": m.platform,
        "external_id": m.external_id,
        "author_id": m.author.id,
        "author_handle": m.author.handle,
        "author_name": m.author.name,
        "author_followers": m.author.followers,
        "author_verified": m.author.verified,
        "text": m.text,
        "url": m.url,
        "created_at": m.created_at,
        "fetched_at": now,
        "conversation_id": m.conversation_id,
        "in_reply_to_id": m.in_reply_to_id,
        "lang": m.lang,
        "raw": _jsonable(m.raw),
        "edited_at": None,
        "deleted_at": None,
        "state": "new",
        "error": None,
    }


def upsert_mentions(
    session: Session,
    brand_id: int,
    query_id: int | None,
    mentions: Sequence[MentionLike],
) -> list[int]:
    """Store mentions not seen before; record edits of those already stored.

    Returns the ids of the newly inserted mentions only (in input order), the ones the
    next stage must score; a page fetched twice, or by two workers at once, yields each
    id once overall because the insert is ``ON CONFLICT (platform, external_id) DO
    NOTHING``. A stored mention whose text changed gets its old text kept in
    ``mention_revision`` and an ``mention.edited`` event.
    """
    if not mentions:
        return []
    now = utcnow()
    latest: dict[tuple[str, str], MentionLike] = {}
    for m in mentions:
        latest[(m.platform, m.external_id)] = m  # a repeat in one page: its last version
    # Insert in key order so concurrent workers take row locks in the same order
    # (PostgreSQL would otherwise be free to deadlock them). One executemany of one
    # cached statement: a multi-row ``.values([...])`` is compiled afresh for every page,
    # which cost more CPU than the database's own work.
    ordered = sorted(latest)
    values = [_mention_values(brand_id, query_id, latest[key], now) for key in ordered]
    stmt = (
        _insert(session, _mention_t)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(_mention_t.c.id, _mention_t.c.platform, _mention_t.c.external_id)
    )
    inserted = {
        (platform, external_id): int(id_)
        for id_, platform, external_id in session.execute(stmt, values)
    }

    existing = [key for key in ordered if key not in inserted]
    for chunk_keys in _chunks(existing):
        rows = session.execute(
            select(
                _mention_t.c.id,
                _mention_t.c.platform,
                _mention_t.c.external_id,
                _mention_t.c.text,
                _mention_t.c.raw,
            ).where(tuple_(_mention_t.c.platform, _mention_t.c.external_id).in_(chunk_keys))
        ).all()
        for id_, platform, external_id, old_text, old_raw in rows:
            new = latest[(platform, external_id)]
            if new.text.strip() in DELETED_MARKERS:
                mark_deleted(session, int(id_), reason=new.text.strip(), at=now)
            elif new.text != old_text:
                _record_edit(session, int(id_), new, old_text, old_raw, now)

    new_ids = [inserted[key] for key in latest if key in inserted]
    log.debug("stored %d new of %d mentions for brand %s", len(new_ids), len(latest), brand_id)
    return new_ids


#: What platforms put in place of a post's text once it is deleted or removed.
DELETED_MARKERS = frozenset({"[deleted]", "[removed]"})


def mark_deleted(session: Session, mention_id: int, *, reason: str, at: dt.datetime) -> bool:
    """Record that the post is gone; its text stays as it was for the agents and the log.

    True the first time (one ``mention.deleted`` event), False if already recorded.
    """
    changed = _rowcount(
        session,
        update(_mention_t)
        .where(_mention_t.c.id == mention_id, _mention_t.c.deleted_at.is_(None))
        .values(deleted_at=at),
    )
    if not changed:
        return False
    _expire_cached(session, MentionRow, [mention_id])
    add_event(session, SYSTEM, "mention.deleted", mention_id=mention_id, detail={"why": reason})
    log.info("mention %d deleted on the platform (%s)", mention_id, reason)
    return True


def _record_edit(
    session: Session,
    mention_id: int,
    new: MentionLike,
    old_text: str,
    old_raw: Mapping[str, Any],
    now: dt.datetime,
) -> None:
    """Replace a mention's text with its edit, keeping the old text as a revision.

    Compare-and-set on the old text, so two workers that both saw the edit record it
    once.
    """
    changed = _rowcount(
        session,
        update(_mention_t)
        .where(_mention_t.c.id == mention_id, _mention_t.c.text == old_text)
        .values(text=new.text, raw=_jsonable(new.raw), edited_at=now),
    )
    if not changed:
        return
    session.execute(
        _insert(session, _revision_t).values(
            mention_id=mention_id, text=old_text, raw=dict(old_raw), seen_at=now
        )
    )
    _expire_cached(session, MentionRow, [mention_id])
    add_event(session, SYSTEM, "mention.edited", mention_id=mention_id, detail={"old": old_text})
    log.info("%s %s: mention %d edited", new.platform, new.external_id, mention_id)


def set_mention_state(
    session: Session,
    mention_ids: Collection[int],
    to_state: str,
    *,
    from_states: Collection[str] | None = None,
    error: str | None = None,
) -> int:
    """Move mentions to ``to_state`` (only those in ``from_states``, when given).

    Returns how many moved. ``error`` is stored with the ``error`` state and cleared
    otherwise.
    """
    if to_state not in MENTION_STATES:
        raise ValueError(f"unknown mention state {to_state!r}; expected one of {MENTION_STATES}")
    if not mention_ids:
        return 0
    stmt = update(_mention_t).where(_mention_t.c.id.in_(list(mention_ids)))
    if from_states is not None:
        stmt = stmt.where(_mention_t.c.state.in_(list(from_states)))
    moved = _rowcount(session, stmt.values(state=to_state, error=error))
    _expire_cached(session, MentionRow, mention_ids)
    return moved


def mentions_to_score(
    session: Session, ids: Collection[int], model_version: str | None = None
) -> list[MentionRow]:
    """The mentions among ``ids`` that still need scoring, by id.

    Without ``model_version``: those with no score at all. With it: those this model
    has not scored (for rescoring with a new model). Deleted posts are left out.
    """
    if not ids:
        return []
    stmt = select(MentionRow).where(*_unscored(ids, model_version)).order_by(MentionRow.id)
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class TextToScore:
    """What the score stage reads of a mention: its text, and its author's reach."""

    mention_id: int
    text: str
    followers: int | None


def texts_to_score(
    session: Session, ids: Collection[int], model_version: str | None = None
) -> list[TextToScore]:
    """``mentions_to_score`` without loading whole rows (payloads included) as objects."""
    if not ids:
        return []
    stmt = (
        select(MentionRow.id, MentionRow.text, MentionRow.author_followers)
        .where(*_unscored(ids, model_version))
        .order_by(MentionRow.id)
    )
    return [
        TextToScore(int(id_), text, followers) for id_, text, followers in session.execute(stmt)
    ]


def _unscored(ids: Collection[int], model_version: str | None) -> list[ColumnElement[bool]]:
    """Conditions for the mentions among ``ids`` still to score (see ``mentions_to_score``)."""
    scored = select(ScoreRow.id).where(ScoreRow.mention_id == MentionRow.id)
    if model_version is not None:
        scored = scored.where(ScoreRow.model_version == model_version)
    return [MentionRow.id.in_(list(ids)), MentionRow.deleted_at.is_(None), ~scored.exists()]


# --- cursors and usage ---------------------------------------------------------------


def get_cursor(session: Session, query_id: int) -> str | None:
    """The position a query's last stored page ended at; None before the first poll."""
    return session.execute(
        select(_cursor_t.c.position).where(_cursor_t.c.query_id == query_id)
    ).scalar_one_or_none()


def set_cursor(session: Session, query_id: int, position: str) -> None:
    """Advance a query's cursor; call it in the transaction that stores the page."""
    now = utcnow()
    stmt = _insert(session, _cursor_t).values(query_id=query_id, position=position, updated_at=now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["query_id"], set_={"position": position, "updated_at": now}
        )
    )
    _expire_cached(session, CursorRow, [query_id])


def record_usage(
    session: Session,
    *,
    brand_id: int,
    platform: str,
    day: dt.date,
    query_id: int | None = None,
    requests: int = 0,
    reads: int = 0,
    posts: int = 0,
    est_cost_usd: float = 0.0,
) -> None:
    """Add API calls and their estimated cost to the day's counters.

    Per query when ``query_id`` is given (polling), else per brand (posting replies).
    One atomic upsert, so concurrent workers add up instead of overwriting.
    """
    stmt = _insert(session, _usage_t).values(
        brand_id=brand_id,
        query_id=query_id,
        platform=platform,
        day=day,
        requests=requests,
        reads=reads,
        posts=posts,
        est_cost_usd=est_cost_usd,
    )
    if query_id is None:
        target = ["brand_id", "platform", "day"]
        where = _usage_t.c.query_id.is_(None)
    else:
        target = ["query_id", "platform", "day"]
        where = _usage_t.c.query_id.is_not(None)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=target,
            index_where=where,
            set_={
                "requests": _usage_t.c.requests + stmt.excluded.requests,
                "reads": _usage_t.c.reads + stmt.excluded.reads,
                "posts": _usage_t.c.posts + stmt.excluded.posts,
                "est_cost_usd": _usage_t.c.est_cost_usd + stmt.excluded.est_cost_usd,
            },
        )
    )


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """API usage summed over a period."""

    requests: int
    reads: int
    posts: int
    est_cost_usd: float


def usage_since(
    session: Session,
    since: dt.date,
    *,
    brand_id: int | None = None,
    query_id: int | None = None,
    platform: str | None = None,
) -> UsageTotals:
    """Requests, reads, posts and estimated cost from ``since`` (inclusive) to today."""
    stmt = select(
        func.coalesce(func.sum(_usage_t.c.requests), 0),
        func.coalesce(func.sum(_usage_t.c.reads), 0),
        func.coalesce(func.sum(_usage_t.c.posts), 0),
        func.coalesce(func.sum(_usage_t.c.est_cost_usd), 0.0),
    ).where(_usage_t.c.day >= since)
    if brand_id is not None:
        stmt = stmt.where(_usage_t.c.brand_id == brand_id)
    if query_id is not None:
        stmt = stmt.where(_usage_t.c.query_id == query_id)
    if platform is not None:
        stmt = stmt.where(_usage_t.c.platform == platform)
    requests, reads, posts, cost = session.execute(stmt).one()
    return UsageTotals(int(requests), int(reads), int(posts), float(cost))


def usage_cost_since(
    session: Session,
    since: dt.date,
    *,
    brand_id: int | None = None,
    query_id: int | None = None,
    platform: str | None = None,
) -> float:
    """Estimated USD spent from ``since`` (inclusive): what budgets are checked against."""
    return usage_since(
        session, since, brand_id=brand_id, query_id=query_id, platform=platform
    ).est_cost_usd


# --- scores --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """One mention's scores plus the policy's decisions, ready to store.

    The pipeline builds it from ``sentiment.Scores`` and ``responders.policy.decide``;
    a plain value here keeps the store independent of both.
    """

    mention_id: int
    model_version: str
    sentiment: str
    prob_negative: float
    prob_neutral: float
    prob_positive: float
    urgency: float
    urgency_level: str
    needs_reply: bool
    needs_reply_prob: float
    troll: bool
    troll_prob: float
    issue: str
    reasons: Sequence[str] = field(default_factory=tuple)
    offensive_prob: float | None = None
    issue_prob: float | None = None


def save_scores(session: Session, records: Sequence[ScoreRecord]) -> list[int]:
    """Store scores, once per (mention, model version); return the mentions newly scored.

    A redelivered scoring message stores nothing and returns ``[]``, so the next stage
    is not enqueued twice. Newly scored mentions in state ``new`` move to ``scored``.
    """
    if not records:
        return []
    now = utcnow()
    rows = [
        {
            "mention_id": r.mention_id,
            "model_version": r.model_version,
            "sentiment": r.sentiment,
            "prob_negative": r.prob_negative,
            "prob_neutral": r.prob_neutral,
            "prob_positive": r.prob_positive,
            "urgency": r.urgency,
            "urgency_level": r.urgency_level,
            "needs_reply": r.needs_reply,
            "needs_reply_prob": r.needs_reply_prob,
            "troll": r.troll,
            "troll_prob": r.troll_prob,
            "offensive_prob": r.offensive_prob,
            "issue": r.issue,
            "issue_prob": r.issue_prob,
            "reasons": list(r.reasons),
            "created_at": now,
        }
        for r in sorted(records, key=lambda r: (r.mention_id, r.model_version))
    ]
    stmt = (
        _insert(session, _score_t)
        .on_conflict_do_nothing(index_elements=["mention_id", "model_version"])
        .returning(_score_t.c.mention_id)
    )
    scored = [int(mid) for mid in session.scalars(stmt, rows)]
    set_mention_state(session, scored, "scored", from_states=["new"])
    return sorted(set(scored))


# --- drafts --------------------------------------------------------------------------

#: Draft columns a transition may set besides the state.
TRANSITION_FIELDS = frozenset(
    {
        "text",
        "template",
        "skip_reason",
        "reject_reason",
        "failure_reason",
        "approved_by",
        "approved_at",
        "edited_by",
        "first_approved_by",
        "first_approved_at",
    }
)


@dataclass(frozen=True, slots=True)
class NewDraft:
    """A mention's first draft, ready to store (see ``create_drafts``)."""

    mention_id: int
    text: str
    template: str | None = None
    state: Literal["pending", "skipped"] = "pending"
    skip_reason: str | None = None
    #: The remembered reply (``reply_memory`` id) the text was adapted from.
    based_on: int | None = None
    #: Why drafting failed (the text is then empty): the pipeline sets the mention aside.
    error: str | None = None


def create_draft(
    session: Session,
    mention_id: int,
    text: str,
    *,
    template: str | None = None,
    state: Literal["pending", "skipped"] = "pending",
    skip_reason: str | None = None,
    actor: str = SYSTEM,
) -> int | None:
    """Create the one draft of a mention; None if it already has one (see ``create_drafts``)."""
    draft = NewDraft(mention_id, text, template=template, state=state, skip_reason=skip_reason)
    return create_drafts(session, [draft], actor=actor).get(mention_id)


def create_drafts(
    session: Session, drafts: Sequence[NewDraft], *, actor: str = SYSTEM
) -> dict[int, int]:
    """Create each mention's one draft; return mention id -> id of the drafts created.

    ``ON CONFLICT (mention_id) DO NOTHING``: drafting twice (a redelivered message, two
    workers) leaves the first draft and any agent edits alone, and leaves that mention
    out of the result. Trolling gets a ``skipped`` draft with the reason agents see (and
    can override). Every created draft gets its ``draft.created`` event, the start of
    its audit log. Two executemany statements for the whole batch: a round trip and a
    statement per draft cost more than the drafting.
    """
    if not drafts:
        return {}
    now = utcnow()
    by_mention = {d.mention_id: d for d in drafts}
    rows = [
        {
            "mention_id": d.mention_id,
            "text": d.text,
            "original_text": d.text,
            "template": d.template,
            "state": d.state,
            "skip_reason": d.skip_reason,
            "based_on": d.based_on,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for d in sorted(by_mention.values(), key=lambda d: d.mention_id)  # lock order
    ]
    stmt = (
        _insert(session, _draft_t)
        .on_conflict_do_nothing(index_elements=["mention_id"])
        .returning(_draft_t.c.mention_id, _draft_t.c.id)
    )
    created = {
        int(mention_id): int(draft_id) for mention_id, draft_id in session.execute(stmt, rows)
    }
    if not created:
        return {}
    events = [
        {
            "at": now,
            "actor": actor,
            "action": "draft.created",
            "mention_id": mention_id,
            "draft_id": draft_id,
            "detail": _created_detail(by_mention[mention_id]),
        }
        for mention_id, draft_id in sorted(created.items())
    ]
    session.execute(_insert(session, _event_t), events)
    return created


def _created_detail(draft: NewDraft) -> dict[str, Any]:
    """What a ``draft.created`` event records: the state, template and any skip reason."""
    detail: dict[str, Any] = {"state": draft.state, "template": draft.template}
    if draft.skip_reason is not None:
        detail["skip_reason"] = draft.skip_reason
    if draft.based_on is not None:
        detail["based_on"] = draft.based_on
    return detail


def transition_draft(
    session: Session,
    draft_id: int,
    from_states: Collection[str],
    to_state: str,
    actor: str,
    *,
    version: int | None = None,
    **fields: Any,
) -> bool:
    """Move a draft to ``to_state`` if it is in one of ``from_states``; True if it moved.

    One conditional UPDATE (compare-and-set): of two workers or two clicks racing from
    the same state exactly one wins, and the loser gets False instead of a double send.
    ``version``, when given, must match too: a decision made on what the draft was
    then (a requeue's check of the platform) must not land if the draft moved since,
    even if it came back to the same state.
    ``fields`` (see ``TRANSITION_FIELDS``) are set in the same statement; the winner
    appends a ``draft.<to_state>`` event. Which transitions are legal is the business
    of ``responders.approval``.
    """
    if to_state not in DRAFT_STATES:
        raise ValueError(f"unknown draft state {to_state!r}; expected one of {DRAFT_STATES}")
    unknown = set(fields) - TRANSITION_FIELDS
    if unknown:
        raise TypeError(
            f"transition_draft cannot set {sorted(unknown)}; allowed: {sorted(TRANSITION_FIELDS)}"
        )
    where = [_draft_t.c.id == draft_id, _draft_t.c.state.in_(list(from_states))]
    if version is not None:
        where.append(_draft_t.c.version == version)
    stmt = (
        update(_draft_t)
        .where(*where)
        .values(
            state=to_state,
            updated_at=utcnow(),
            # Bump the ORM's optimistic lock too: an agent's stale edit must not land.
            version=_draft_t.c.version + 1,
            **fields,
        )
        .returning(_draft_t.c.mention_id)
    )
    mention_id = session.execute(stmt).scalar_one_or_none()
    if mention_id is None:
        return False
    _expire_cached(session, DraftRow, [draft_id])
    add_event(
        session,
        actor,
        f"draft.{to_state}",
        mention_id=int(mention_id),
        draft_id=draft_id,
        detail={"from": sorted(from_states), "to": to_state, **fields},
    )
    log.info("draft %d -> %s by %s", draft_id, to_state, actor)
    return True


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A pending draft with the mention it answers and that mention's latest score."""

    draft: DraftRow
    mention: MentionRow
    score: ScoreRow | None


_newer_score = aliased(ScoreRow)


def latest_score_of_mention() -> ColumnElement[bool]:
    """Join condition: the mention's newest score (no newer one exists).

    A correlated NOT EXISTS that the (mention, model version) index answers per row;
    a GROUP BY over all scores would read the whole table on every inbox refresh.
    """
    return and_(
        ScoreRow.mention_id == MentionRow.id,
        ~exists().where(
            _newer_score.mention_id == ScoreRow.mention_id, _newer_score.id > ScoreRow.id
        ),
    )


def pending_queue(
    session: Session, limit: int = 50, *, brand_id: int | None = None
) -> list[QueueEntry]:
    """Pending drafts in the order agents should handle them.

    Most urgent first, then the author with the larger reach, then the oldest post;
    urgency comes from the mention's latest score. Posts deleted on the platform are
    left out: there is nothing left to answer.
    """
    stmt = (
        select(DraftRow, MentionRow, ScoreRow)
        .join(MentionRow, MentionRow.id == DraftRow.mention_id)
        .outerjoin(ScoreRow, latest_score_of_mention())
        .where(DraftRow.state == "pending", MentionRow.deleted_at.is_(None))
        .order_by(
            func.coalesce(ScoreRow.urgency, -1.0).desc(),
            func.coalesce(MentionRow.author_followers, 0).desc(),
            MentionRow.created_at.asc(),
            DraftRow.id.asc(),
        )
        .limit(limit)
    )
    if brand_id is not None:
        stmt = stmt.where(MentionRow.brand_id == brand_id)
    return [QueueEntry(draft, mention, score) for draft, mention, score in session.execute(stmt)]


def count_by_state(
    session: Session, what: Literal["mentions", "drafts"], *, brand_id: int | None = None
) -> dict[str, int]:
    """How many mentions or drafts are in each state (every state listed, zeros too)."""
    if what == "mentions":
        stmt = select(MentionRow.state, func.count()).group_by(MentionRow.state)
        if brand_id is not None:
            stmt = stmt.where(MentionRow.brand_id == brand_id)
        counts = dict.fromkeys(MENTION_STATES, 0)
    elif what == "drafts":
        stmt = select(DraftRow.state, func.count()).group_by(DraftRow.state)
        if brand_id is not None:
            stmt = stmt.join(MentionRow, MentionRow.id == DraftRow.mention_id).where(
                MentionRow.brand_id == brand_id
            )
        counts = dict.fromkeys(DRAFT_STATES, 0)
    else:
        raise ValueError(f"count_by_state counts 'mentions' or 'drafts', not {what!r}")
    for state, n in session.execute(stmt):
        counts[state] = int(n)
    return counts


# --- replies -------------------------------------------------------------------------


def start_reply(session: Session, draft_id: int, platform: str) -> bool:
    """Record that a send of ``draft_id`` begins; False if one was already recorded.

    The idempotency key is derived from the draft, so a second attempt, from a retry or
    a second worker, finds the first one's row instead of creating another.
    """
    stmt = (
        _insert(session, _reply_t)
        .values(
            draft_id=draft_id,
            idempotency_key=f"draft-{draft_id}",
            platform=platform,
            state="sending",
        )
        .on_conflict_do_nothing(index_elements=["draft_id"])
        .returning(_reply_t.c.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def finish_reply(
    session: Session,
    draft_id: int,
    *,
    state: Literal["posted", "unknown", "refused"],
    external_id: str | None = None,
    url: str | None = None,
    posted_at: dt.datetime | None = None,
) -> None:
    """Record how a send ended: the platform's id and link once posted; ``refused`` when
    the platform refused the post before acting on it (a rate limit), so nothing is in
    flight and the retry may post without waiting out the settle window."""
    session.execute(
        update(_reply_t)
        .where(_reply_t.c.draft_id == draft_id)
        .values(state=state, external_id=external_id, url=url, posted_at=posted_at)
    )


def reply_state(session: Session, draft_id: int) -> str | None:
    """How the draft's last send attempt ended (``REPLY_STATES``), or None before any."""
    return session.scalar(select(_reply_t.c.state).where(_reply_t.c.draft_id == draft_id))


# --- recovery ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaleWork:
    """Work whose message was lost or dead-lettered: the scheduler enqueues it again."""

    unscored: list[int]
    undrafted: list[int]
    unsent: list[int]


def stale_work(session: Session, before: dt.datetime, limit: int = 1000) -> StaleWork:
    """Mentions and drafts stuck in an intermediate state since before ``before``."""
    unscored = session.scalars(
        select(MentionRow.id)
        .where(
            MentionRow.state == "new",
            MentionRow.fetched_at < before,
            MentionRow.deleted_at.is_(None),
        )
        .order_by(MentionRow.id)
        .limit(limit)
    )
    undrafted = session.scalars(
        select(MentionRow.id)
        .where(MentionRow.state == "scored", MentionRow.fetched_at < before)
        .order_by(MentionRow.id)
        .limit(limit)
    )
    unsent = session.scalars(
        select(DraftRow.id)
        .where(DraftRow.state.in_(["approved", "sending"]), DraftRow.updated_at < before)
        .order_by(DraftRow.id)
        .limit(limit)
    )
    return StaleWork(list(unscored), list(undrafted), list(unsent))


def claim_send(session: Session, draft_id: int, version: int) -> bool:
    """Take over a draft stuck in ``sending`` for another attempt; True for one caller only.

    A compare-and-set on the draft's version: of two workers that read the same draft
    (a redelivered message and the scheduler's sweep, say) exactly one may retry it.
    The caller checks first that no attempt is in flight (see ``Pipeline.send``).
    """
    stmt = (
        update(_draft_t)
        .where(
            _draft_t.c.id == draft_id, _draft_t.c.state == "sending", _draft_t.c.version == version
        )
        .values(version=version + 1, updated_at=utcnow())
        .returning(_draft_t.c.id)
    )
    if session.execute(stmt).scalar_one_or_none() is None:
        return False
    session.execute(update(_reply_t).where(_reply_t.c.draft_id == draft_id).values(state="sending"))
    _expire_cached(session, DraftRow, [draft_id])
    return True
