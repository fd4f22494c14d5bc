"""Agents' corrections of the model's labels: recorded with who and when, exported for training.

A correction never rewrites a score: the score stays what the model said (with its
model version), and the correction sits beside it, so evaluation can compare the two
and retraining (issue #7's ``brandcare train --feedback``) reads the export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brandcare.store.events import add_event
from brandcare.store.models import (
    CORRECTABLE_FIELDS,
    SENTIMENTS,
    URGENCY_LEVELS,
    BrandRow,
    CorrectionRow,
    MentionRow,
    ScoreRow,
    utcnow,
)

#: The values each correctable label takes, as the web form and the API offer them.
ALLOWED_VALUES: dict[str, tuple[str, ...]] = {
    "sentiment": SENTIMENTS,
    "urgency_level": URGENCY_LEVELS,
    "troll": ("true", "false"),
}


class CorrectionError(ValueError):
    """The correction names an unknown mention, label or value."""


#: How long an agent may take back their own correction (a chip clicked by mistake).
UNDO_WINDOW = dt.timedelta(minutes=15)


def undoable(row: CorrectionRow, actor: str, now: dt.datetime | None = None) -> bool:
    """Whether ``actor`` may still undo ``row``: their own, within ``UNDO_WINDOW``."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
    return row.actor == actor and (now or utcnow()) - at <= UNDO_WINDOW


def undo(session: Session, mention_id: int, correction_id: int, actor: str) -> None:
    """Delete ``actor``'s recent correction, so it never reaches training; audited."""
    row = session.get(CorrectionRow, correction_id)
    if row is None or row.mention_id != mention_id:
        raise CorrectionError(f"no correction {correction_id} of mention {mention_id}")
    if row.actor != actor:
        raise CorrectionError(f"only {row.actor}, who made this correction, can undo it")
    if not undoable(row, actor):
        minutes = int(UNDO_WINDOW.total_seconds() // 60)
        raise CorrectionError(
            f"a correction can be undone for {minutes} minutes; correct the label again instead"
        )
    add_event(
        session,
        actor,
        "label.correction_undone",
        mention_id=mention_id,
        detail={"field": row.field, "value": row.value},
    )
    session.delete(row)
    session.flush()


def correct(session: Session, mention_id: int, field: str, value: str, actor: str) -> CorrectionRow:
    """Record that ``actor`` says the mention's ``field`` is ``value``."""
    if field not in CORRECTABLE_FIELDS:
        raise CorrectionError(
            f"cannot correct {field!r}; use one of {', '.join(CORRECTABLE_FIELDS)}"
        )
    value = value.strip().lower()
    if value not in ALLOWED_VALUES[field]:
        raise CorrectionError(
            f"{value!r} is not a {field}; use one of {', '.join(ALLOWED_VALUES[field])}"
        )
    if session.get(MentionRow, mention_id) is None:
        raise CorrectionError(f"no mention {mention_id}")
    score = max(
        session.scalars(select(ScoreRow).where(ScoreRow.mention_id == mention_id)),
        key=lambda row: row.id,
        default=None,
    )
    previous: str | None = None
    if score is not None:
        said = getattr(score, field)
        previous = str(said).lower() if isinstance(said, bool) else str(said)
    row = CorrectionRow(
        mention_id=mention_id,
        field=field,
        value=value,
        previous=previous,
        model_version=score.model_version if score else None,
        actor=actor,
    )
    session.add(row)
    session.flush()
    add_event(
        session,
        actor,
        "label.corrected",
        mention_id=mention_id,
        detail={"field": field, "from": previous, "to": value},
    )
    return row


def export(session: Session) -> Iterator[dict[str, Any]]:
    """One record per corrected mention and label: the latest word of the agents on it.

    The format ``brandcare train --feedback`` reads: the text as the model saw it, the
    label, what the model said, and who corrected it when.
    """
    latest = (
        select(func.max(CorrectionRow.id))
        .group_by(CorrectionRow.mention_id, CorrectionRow.field)
        .scalar_subquery()
    )
    stmt = (
        select(CorrectionRow, MentionRow, BrandRow.slug)
        .join(MentionRow, MentionRow.id == CorrectionRow.mention_id)
        .join(BrandRow, BrandRow.id == MentionRow.brand_id)
        .where(CorrectionRow.id.in_(latest))
        .order_by(CorrectionRow.id)
    )
    for c, m, brand in session.execute(stmt):
        yield {
            "mention_id": m.id,
            "platform": m.platform,
            "external_id": m.external_id,
            "brand": brand,
            "text": m.text,
            "field": c.field,
            "label": c.value == "true" if c.field == "troll" else c.value,
            "model_said": c.previous,
            "model_version": c.model_version,
            "corrected_by": c.actor,
            "corrected_at": c.at.isoformat(),
        }
