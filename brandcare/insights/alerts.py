"""Spike alerts over the database: judge the last window, keep one alert per spike, notify.

Per brand, and per issue within it, the last complete 15-minute window of negative
mentions is judged by ``brandcare.insights.spikes`` against the brand's history. A spike opens
one ``alert`` row and notifies the brand's channels; while it lasts the same row is
updated (and notified again only if it escalates); when it ends the row resolves and
the channels hear so. A check is idempotent: a window already judged for a key is not
judged again, so running the check on every scoring batch and on a schedule is safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.insights.notify import SEVERITIES, Delivery, Notifier
from brandcare.insights.spikes import (
    SLOTS_PER_DAY,
    WINDOW_SECONDS,
    Decision,
    DetectorConfig,
    SpikeState,
    slot_of,
    start_of,
    step,
)
from brandcare.ops import metrics
from brandcare.store import aggregates, transaction
from brandcare.store.models import AlertRow, BrandRow, MentionRow, ScoreRow, utcnow

log = logging.getLogger(__name__)

HISTORY_DAYS = 29
_WORD = re.compile(r"[a-zA-Z][a-zA-Z'-]{3,}")
_STOP = frozenset(
    "this that with have just your what from they been were when will would there their "
    "about them than then into only also some over more very still after again back even "
    "does dont cant wont http https".split()
)


@dataclass(frozen=True)
class AlertPolicy:
    """A brand's noise controls (``brand.alerting``)."""

    sensitivity: str = "medium"
    cooldown_minutes: int = 120
    #: UTC hours during which only critical alerts notify, as (start, end), e.g. (22, 7).
    quiet_hours: tuple[int, int] | None = None

    @classmethod
    def of(cls, brand: BrandRow) -> AlertPolicy:
        raw = brand.alerting or {}
        quiet = raw.get("quiet_hours")
        hours = None
        if isinstance(quiet, str) and re.fullmatch(r"\d{1,2}(:00)?-\d{1,2}(:00)?", quiet):
            a, b = (int(part.split(":")[0]) for part in quiet.split("-"))
            hours = (a % 24, b % 24)
        return cls(
            sensitivity=str(raw.get("sensitivity", "medium")),
            cooldown_minutes=int(raw.get("cooldown_minutes", 120)),
            quiet_hours=hours,
        )

    def detector(self) -> DetectorConfig:
        return DetectorConfig(
            sensitivity=self.sensitivity,
            cooldown_slots=max(1, self.cooldown_minutes * 60 // WINDOW_SECONDS),
        )

    def quiet(self, when: dt.datetime) -> bool:
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        h = when.hour
        return start <= h < end if start < end else (h >= start or h < end)


@dataclass(frozen=True)
class AlertEvent:
    """What a check did to one alert (for logs, the CLI and tests)."""

    alert_id: int
    brand: str
    issue: str | None
    action: str
    severity: str
    observed: int
    expected: float
    deliveries: tuple[Delivery, ...] = ()


class _History:
    """Per-window counts a process has read already: the settled past is read once.

    Judging a window needs four weeks of counts; reading them all every minute costs
    seconds at a million mentions a month. Windows older than ``SETTLED_SLOTS`` (six
    hours) are taken as final and kept; only the recent ones are read again each time.
    A mention scored more than six hours after it was posted is missed by the baseline
    of a long-running process (it still counts in its own window's judgement if recent).
    """

    SETTLED_SLOTS = 24

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, int, str, str | None], tuple[int, int, dict[int, int]]] = {}

    def series(
        self, session: Session, brand: BrandRow, issue: str | None, known_from: int, slot: int
    ) -> dict[int, int]:
        # The brand's creation time too: a database emptied and refilled is a new history.
        bind = session.get_bind()
        url = str(bind.engine.url)
        key = (url, brand.id, brand.created_at.isoformat(), issue)
        brand_id = brand.id
        settled = slot - self.SETTLED_SLOTS
        with self._lock:
            start, end, counts = self._kept.get(key, (known_from, known_from, {}))
        if start > known_from or end > settled:  # a new brand's history, or a clock gone back
            start, end, counts = known_from, known_from, {}
        if end < settled:
            counts = dict(counts)
            counts.update(self._read(session, brand_id, issue, end, settled))
            end = settled
        counts = {s: n for s, n in counts.items() if s >= known_from}
        with self._lock:
            self._kept[key] = (known_from, end, counts)
        recent = self._read(session, brand_id, issue, end, slot + 1)
        return {**counts, **recent}

    @staticmethod
    def _read(
        session: Session, brand_id: int, issue: str | None, lo: int, hi: int
    ) -> dict[int, int]:
        return aggregates.negative_series(
            session, brand_id, start_of(lo), start_of(hi), WINDOW_SECONDS, issue=issue
        )


_history = _History()


def _state(row: AlertRow | None) -> tuple[SpikeState, int | None]:
    if row is None:
        return SpikeState(), None
    raw = dict(row.detail.get("state", {}))
    return SpikeState(**raw), row.detail.get("last_slot")


def _latest(session: Session, brand_id: int, issue: str | None) -> AlertRow | None:
    stmt = select(AlertRow).where(AlertRow.brand_id == brand_id)
    stmt = stmt.where(AlertRow.issue.is_(None) if issue is None else AlertRow.issue == issue)
    return session.scalars(stmt.order_by(AlertRow.id.desc()).limit(1)).first()


def _issues_to_watch(session: Session, brand_id: int, since: dt.datetime) -> list[str]:
    """Issues with negative mentions lately, and issues with an open alert."""
    recent = aggregates.counts_by(
        session, brand_id, since, utcnow() + dt.timedelta(days=1), ScoreRow.issue,
        sentiment="negative",
    )  # fmt: skip
    open_ = session.scalars(
        select(AlertRow.issue).where(
            AlertRow.brand_id == brand_id, AlertRow.state == "open", AlertRow.issue.is_not(None)
        )
    )
    names = {str(i) for i, _ in recent} | {str(i) for i in open_ if i}
    return sorted(names - {"none", "chatter"})


def explain(
    session: Session, brand: BrandRow, slot: int, issue: str | None, public_url: str
) -> dict[str, Any]:
    """Why it spiked: what rose against the last week, who posted, the most-reached posts."""
    start, end = start_of(slot - 1), start_of(slot + 1)
    week_start = start - dt.timedelta(days=7)
    stmt = (
        select(MentionRow, ScoreRow)
        .join(ScoreRow, ScoreRow.mention_id == MentionRow.id)
        .where(
            MentionRow.brand_id == brand.id,
            MentionRow.created_at >= start,
            MentionRow.created_at < end,
            ScoreRow.sentiment == "negative",
        )
        .order_by(func.coalesce(MentionRow.author_followers, 0).desc())
        .limit(500)
    )
    if issue is not None:
        stmt = stmt.where(ScoreRow.issue == issue)
    rows = list(session.execute(stmt))
    week = {
        str(i): int(n)
        for i, n in aggregates.counts_by(
            session, brand.id, week_start, start, ScoreRow.issue, sentiment="negative"
        )
    }
    week_total = sum(week.values()) or 1
    windows_in_week = 7 * SLOTS_PER_DAY
    now_issues = Counter(s.issue for _, s in rows)
    # Two windows judged against the issue's average over the last week's windows.
    rises = sorted(
        ((n - 2 * week.get(name, 0) / windows_in_week, name, n) for name, n in now_issues.items()),
        reverse=True,
    )[:5]
    issues = [
        {"issue": name, "count": n, "expected": round(n - rise, 1)} for rise, name, n in rises
    ]
    terms = Counter(
        w.lower() for m, _ in rows for w in _WORD.findall(m.text) if w.lower() not in _STOP
    )
    authors = Counter(m.author_handle for m, _ in rows)
    examples = [
        {
            "mention_id": m.id,
            "author": m.author_handle,
            "followers": m.author_followers or 0,
            "platform": m.platform,
            "text": m.text[:280],
            "url": m.url if re.match(r"^https?://", m.url or "") else None,
        }
        for m, _ in rows[:5]
    ]
    query = {"brand": brand.slug, "sentiment": "negative"}
    return {
        "issues": issues,
        "terms": [t for t, _ in terms.most_common(8)],
        "authors": [{"author": a, "posts": n} for a, n in authors.most_common(5) if n > 1],
        "examples": examples,
        "inbox_url": f"{public_url.rstrip('/')}/inbox?{urlencode(query)}",
        "week_negative_per_window": round(week_total / windows_in_week, 2),
    }


def message(brand: BrandRow, row: AlertRow, action: str) -> tuple[str, str]:
    """Title and Markdown body of a notification about ``row``."""
    what = f"{brand.name}: negative mentions" + (
        f" about {row.issue.replace('_', ' ')}" if row.issue else ""
    )
    since = row.window_start.strftime("%H:%M UTC %d %b")
    if action == "resolve":
        return f"Resolved: {what}", f"Back to normal since {row.window_end:%H:%M UTC}."
    d = row.detail
    title = f"{'Escalated' if action == 'escalate' else 'Spike'} ({row.severity}): {what}"
    lines = [
        f"**{row.observed}** negative mentions in the last 15 minutes against "
        f"**{row.expected:.1f}** expected, since {since}.",
    ]
    why = d.get("why", {})
    if why.get("issues"):
        lines.append(
            "Rising: "
            + ", ".join(f"{i['issue']} ({i['count']} vs {i['expected']})" for i in why["issues"])
        )
    if why.get("terms"):
        lines.append("Terms: " + ", ".join(why["terms"]))
    if why.get("authors"):
        lines.append(
            "Repeat authors: " + ", ".join(f"@{a['author']} ({a['posts']})" for a in why["authors"])
        )
    for e in why.get("examples", [])[:3]:
        link = f" {e['url']}" if e.get("url") else ""
        lines.append(f"- @{e['author']} ({e['followers']:,} followers): {e['text'][:200]}{link}")
    if why.get("inbox_url"):
        lines.append(f"Open in the inbox: {why['inbox_url']}")
    return title, "\n".join(lines)


def _notify(
    notifier: Notifier | None, brand: BrandRow, row: AlertRow, action: str, policy: AlertPolicy,
    now: dt.datetime,
) -> tuple[Delivery, ...]:  # fmt: skip
    if notifier is None:
        return ()
    severity = row.severity or "medium"
    if policy.quiet(now) and severity != "critical":
        log.info("alert %d (%s) muted: quiet hours for %s", row.id, action, brand.slug)
        return (Delivery("quiet hours", False, 0, "muted"),)
    title, body = message(brand, row, action)
    return tuple(notifier.send(brand.slug, severity, title, body))


def judge(
    session: Session,
    brand: BrandRow,
    issue: str | None,
    now: dt.datetime,
    notifier: Notifier | None,
    public_url: str,
) -> AlertEvent | None:
    """Judge the last complete window for one brand (and issue); record and notify."""
    slot = slot_of(now) - 1
    latest = _latest(session, brand.id, issue)
    state, last_slot = _state(latest)
    if last_slot is not None and last_slot >= slot:
        return None
    first = session.scalar(
        select(func.min(MentionRow.created_at)).where(MentionRow.brand_id == brand.id)
    )
    if first is None:
        return None
    known_from = max(slot_of(first), slot - HISTORY_DAYS * SLOTS_PER_DAY)
    series = _history.series(session, brand, issue, known_from, slot)
    policy = AlertPolicy.of(brand)
    decision = step(series, slot, state, policy.detector(), known_from)
    if decision.action is None:
        return None
    return _record(session, brand, issue, latest, decision, now, notifier, public_url, policy)


def _record(
    session: Session, brand: BrandRow, issue: str | None, latest: AlertRow | None,
    d: Decision, now: dt.datetime, notifier: Notifier | None, public_url: str,
    policy: AlertPolicy,
) -> AlertEvent:  # fmt: skip
    action = d.action or ""
    if action == "open" or latest is None:
        row = AlertRow(
            brand_id=brand.id, issue=issue, window_start=start_of(d.slot),
            window_end=start_of(d.slot + 1), observed=d.observed, expected=d.baseline.expected,
            state="open", severity=d.severity, detail={},
        )  # fmt: skip
        session.add(row)
    else:
        row = latest
    detail = dict(row.detail or {})
    detail.update(state=asdict(d.state), last_slot=d.slot)
    notify_as: str | None = None
    if action in ("open", "reopen", "update"):
        row.observed, row.expected = d.observed, d.baseline.expected
        row.window_end = start_of(d.slot + 1)
        if action == "reopen":
            row.state = "open"
        old = row.severity or "medium"
        if SEVERITIES.index(d.severity) > SEVERITIES.index(old):
            row.severity = d.severity
            notify_as = "escalate" if action != "open" else "open"
        if action == "open":
            notify_as = "open"
        if action in ("open", "reopen") or notify_as:
            detail["why"] = explain(session, brand, d.slot, issue, public_url)
        detail["p_value"] = d.p_value
        detail["basis"] = d.baseline.basis
    elif action == "resolve":
        row.state = "resolved"
        row.window_end = start_of(d.slot)
        notify_as = "resolve"
    row.detail = detail
    row.updated_at = now
    session.flush()
    deliveries: tuple[Delivery, ...] = ()
    if notify_as:
        deliveries = _notify(notifier, brand, row, notify_as, policy, now)
        log_entries = list(detail.get("notifications", []))
        log_entries += [{"at": now.isoformat(), "as": notify_as, **asdict(x)} for x in deliveries]
        row.detail = {**detail, "notifications": log_entries}
    log.info(
        "alert %d %s: %s%s %d negative vs %.1f expected (%s)",
        row.id, action, brand.slug, f"/{issue}" if issue else "", d.observed,
        d.baseline.expected, row.severity,
        extra={"alert_id": row.id, "brand": brand.slug, "issue": issue, "action": action},
    )  # fmt: skip
    return AlertEvent(row.id, brand.slug, issue, action, row.severity or "medium", d.observed,
                      d.baseline.expected, deliveries)  # fmt: skip


def check(
    sessions: sessionmaker[Session],
    *,
    now: dt.datetime | None = None,
    notifier: Notifier | None = None,
    public_url: str = "http://127.0.0.1:8000",
    brands: Sequence[str] | None = None,
) -> list[AlertEvent]:
    """Judge the last window for every brand (or those named) and each watched issue."""
    now = now or utcnow()
    events: list[AlertEvent] = []
    with transaction(sessions) as s:
        stmt = select(BrandRow).order_by(BrandRow.id)
        if brands:
            stmt = stmt.where(BrandRow.slug.in_(list(brands)))
        brand_ids = [b.id for b in s.scalars(stmt)]
    for brand_id in brand_ids:
        judged: list[AlertEvent] = []
        with transaction(sessions) as s:
            brand = s.get(BrandRow, brand_id)
            assert brand is not None
            keys: list[str | None] = [None]
            keys += _issues_to_watch(s, brand.id, now - dt.timedelta(hours=2))
            for issue in keys:
                event = judge(s, brand, issue, now, notifier, public_url)
                if event is not None:
                    judged.append(event)
        _count(judged)  # once committed: an alert rolled back was never opened
        events += judged
    return events


def _count(events: Sequence[AlertEvent]) -> None:
    """The alerts opened and the channels' answers, for the metrics."""
    for event in events:
        if event.action in ("open", "reopen"):
            metrics.alert_opened(event.brand, event.severity)
        for delivery in event.deliveries:
            metrics.alert_delivered(delivery.ok)
