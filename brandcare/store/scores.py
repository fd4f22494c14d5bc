"""What the score stage reads and writes: texts still to score, scores once per model version."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, and_, exists, select
from sqlalchemy.orm import Session, aliased

from brandcare.store.mentions import set_mention_state
from brandcare.store.models import MentionRow, ScoreRow, utcnow
from brandcare.store.sql import dialect_insert

_score_t: Table = ScoreRow.__table__  # type: ignore[assignment]


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
    #: ``{"kind", "evidence", "weight"}`` per care signal found.
    signals: Sequence[dict[str, object]] = field(default_factory=tuple)
    abusive_prob: float | None = None
    language: str = "en"
    #: The mention's vector from the scoring pass, and the encoder that made it.
    embedding: bytes | None = None
    encoder: str | None = None


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
            "signals": [dict(x) for x in r.signals],
            "abusive_prob": r.abusive_prob,
            "language": r.language,
            "embedding": r.embedding,
            "encoder": r.encoder,
            "created_at": now,
        }
        for r in sorted(records, key=lambda r: (r.mention_id, r.model_version))
    ]
    stmt = (
        dialect_insert(session, _score_t)
        .on_conflict_do_nothing(index_elements=["mention_id", "model_version"])
        .returning(_score_t.c.mention_id)
    )
    scored = [int(mid) for mid in session.scalars(stmt, rows)]
    set_mention_state(session, scored, "scored", from_states=["new"])
    return sorted(set(scored))


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
