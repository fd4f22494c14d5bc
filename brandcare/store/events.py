"""The audit log: one append-only line per thing done to a mention or a draft, and by whom."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from brandcare.store.models import EventRow, utcnow
from brandcare.store.sql import dialect_insert, jsonable

_event_t: Table = EventRow.__table__  # type: ignore[assignment]


SYSTEM: str = "system"
"""The actor recorded for what the pipeline does on its own."""


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
        dialect_insert(session, _event_t)
        .values(
            at=utcnow(),
            actor=actor,
            action=action,
            mention_id=mention_id,
            draft_id=draft_id,
            detail=jsonable(dict(detail or {})),
        )
        .returning(_event_t.c.id)
    )
    return int(session.execute(stmt).scalar_one())
