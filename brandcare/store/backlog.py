"""Where work waits right now: the numbers the metrics endpoint reads on each scrape.

A scrape runs every few seconds against tables that only grow, so the queries run on
each scrape touch only small slices through indexes: the waiting states of
``mention.state`` and ``draft.state``, open alerts, the queries. Counting every draft
by state is the exception (a scan of ``ix_draft_state``: 47 ms at 250,000 drafts on
PostgreSQL), so callers ask for it only now and then (``count_all_drafts``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brandcare.store.models import (
    DRAFT_STATES,
    AlertRow,
    BrandRow,
    DraftRow,
    MentionRow,
    QueryRow,
)

#: Stage -> the mention state that waits for it. Age counts from when it was fetched.
MENTION_STAGES: Final = {"score": "new", "draft": "scored"}
#: Stage -> the draft state that waits for it. A pending draft waits for a person from
#: its creation; an approved (or sending) one since its last move (updated_at, indexed).
DRAFT_STAGES: Final = {"approval": "pending", "send": "approved", "sending": "sending"}
STAGES: Final = (*MENTION_STAGES, *DRAFT_STAGES)


@dataclass(frozen=True, slots=True)
class Waiting:
    """How much waits at one stage, and since when the oldest item has."""

    depth: int
    oldest: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """One read of the pipeline's state, for the gauges."""

    stages: dict[str, Waiting]
    drafts: dict[str, int]  # every state, when asked for; else empty
    open_alerts: dict[tuple[str, str], int]  # (brand slug, severity) -> open alerts
    queries: dict[tuple[str, str], int]  # (platform, active|paused|disabled) -> queries


def read(session: Session, *, count_all_drafts: bool = True) -> Backlog:
    """Waiting mentions, waiting drafts, open alerts, queries; and all drafts by state."""
    stages = {stage: Waiting(0, None) for stage in STAGES}
    by_state = {state: stage for stage, state in MENTION_STAGES.items()}
    for state, depth, oldest in session.execute(
        select(MentionRow.state, func.count(), func.min(MentionRow.fetched_at))
        .where(MentionRow.state.in_(list(MENTION_STAGES.values())))
        .group_by(MentionRow.state)
    ):
        stages[by_state[state]] = Waiting(int(depth), oldest)
    by_state = {state: stage for stage, state in DRAFT_STAGES.items()}
    for state, depth, created, updated in session.execute(
        select(DraftRow.state, func.count(), func.min(DraftRow.created_at),
               func.min(DraftRow.updated_at))
        .where(DraftRow.state.in_(list(DRAFT_STAGES.values())))
        .group_by(DraftRow.state)
    ):  # fmt: skip
        stages[by_state[state]] = Waiting(int(depth), created if state == "pending" else updated)
    drafts = dict.fromkeys(DRAFT_STATES, 0) if count_all_drafts else {}
    if count_all_drafts:
        for state, count in session.execute(
            select(DraftRow.state, func.count()).group_by(DraftRow.state)
        ):
            drafts[state] = int(count)
    open_alerts = {
        (slug, severity or "medium"): int(count)
        for slug, severity, count in session.execute(
            select(BrandRow.slug, AlertRow.severity, func.count())
            .join(BrandRow, BrandRow.id == AlertRow.brand_id)
            .where(AlertRow.state == "open")
            .group_by(BrandRow.slug, AlertRow.severity)
        )
    }
    queries: dict[tuple[str, str], int] = {}
    for platform, enabled, paused in session.execute(
        select(QueryRow.platform, QueryRow.enabled, QueryRow.paused_reason)
    ):
        key = (platform, "disabled" if not enabled else "paused" if paused else "active")
        queries[key] = queries.get(key, 0) + 1
    return Backlog(stages, drafts, open_alerts, queries)
