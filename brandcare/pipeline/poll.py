"""The poll stage: a query's new mentions stored with its cursor, or the query paused."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from brandcare.brands.credentials import Purpose, Use
from brandcare.ops import metrics
from brandcare.pipeline.base import LOGGER, PipelineBase
from brandcare.pipeline.triage import urgent_first
from brandcare.store import transaction
from brandcare.store.events import SYSTEM, add_event
from brandcare.store.mentions import get_cursor, set_cursor, store_new_mentions
from brandcare.store.models import BrandRow, QueryRow
from brandcare.store.usage import record_usage, usage_cost_since
from listener.base import Query
from listener.errors import AuthError, PermanentSourceError

log = logging.getLogger(LOGGER)


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll stored: the new mentions to score, or why the query is paused.

    ``urgent_ids``: the new mentions the cheap first pass (``triage``) sends to the
    urgent lane, a subset of ``new_ids``.
    """

    query_id: int
    new_ids: list[int] = field(default_factory=list)
    fetched: int = 0
    paused: str | None = None
    urgent_ids: list[int] = field(default_factory=list)


class PollStage(PipelineBase):
    """Polling: fetch, store and account for one query's page, idempotently."""

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
            since = get_cursor(s, query_id)
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
                add_event(s, SYSTEM, "query.paused", detail={"query": query_id, "reason": reason})
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
            new = store_new_mentions(s, brand_id, query_id, page.mentions)
            if page.cursor is not None:
                set_cursor(s, query_id, page.cursor)
            record_usage(
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
        new_ids = [mention_id for mention_id, _ in new]
        urgent_ids, _ = urgent_first(new)
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
        return PollResult(query_id, new_ids, len(page.mentions), urgent_ids=urgent_ids)

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
            spent = usage_cost_since(s, since.date(), query_id=row.id)
            if spent >= budget:
                reason = f"budget: {period} budget ${budget:.2f} spent (${spent:.2f})"
                if row.paused_reason != reason:
                    row.paused_reason = reason
                    add_event(s, SYSTEM, "query.paused", detail={"query": row.id, "reason": reason})
                    log.warning(
                        "query %d (%s) not polled: %s",
                        row.id,
                        row.platform,
                        reason,
                        extra={"query_id": row.id, "platform": row.platform},
                    )
                return reason
        return None
