"""What the scheduler runs for insights: the alert check every minute, digests daily.

A digest already sent for a period is recorded as an event (``digest.sent``), so a
restarted scheduler never mails the same digest twice.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.config import Settings
from brandcare.insights import alerts, digest, mail, render
from brandcare.insights.notify import notifier
from brandcare.ops.outage import OutageLog
from brandcare.store import transaction
from brandcare.store.events import SYSTEM, add_event
from brandcare.store.models import BrandRow, EventRow, utcnow

log = logging.getLogger(__name__)


class Periodic:
    """Called from the scheduler loop; does what is due and returns quickly otherwise."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.notifier = notifier(settings.alert_channels)
        self._last_check = 0.0
        self._outage = OutageLog(log, "the spike alert check")
        self._digest_outage = OutageLog(log, "the digests")

    def tick(self, now: dt.datetime | None = None, monotonic: float = 0.0) -> None:
        now = now or utcnow()
        if (
            monotonic - self._last_check >= self.settings.alert_check_seconds
            or not self._last_check
        ):
            self._last_check = monotonic or 1.0
            try:
                alerts.check(
                    self.sessions, now=now, notifier=self.notifier,
                    public_url=self.settings.public_url,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 (the next tick tries again)
                self._outage.failed(exc)
            else:
                self._outage.ok("database")
        if self.settings.digest_hour_utc is not None and now.hour == self.settings.digest_hour_utc:
            try:
                self._digests(now)
            except Exception as exc:  # noqa: BLE001 (digests sent are recorded; the next tick resumes)
                self._digest_outage.failed(exc)
            else:
                self._digest_outage.ok("database")

    def _digests(self, now: dt.datetime) -> None:
        end = now.replace(minute=0, second=0, microsecond=0)
        periods = ["day"] + (["week"] if end.weekday() == 0 else [])
        with transaction(self.sessions) as s:
            slugs = list(s.scalars(select(BrandRow.slug).order_by(BrandRow.slug)))
        for slug in slugs:
            to = self.settings.digest_recipients.get(slug, [])
            if not to:
                continue
            for period in periods:
                self._digest(slug, period, end, to)

    def _digest(self, slug: str, period: str, end: dt.datetime, to: list[str]) -> None:
        key = {"brand": slug, "period": period, "end": end.isoformat()}
        with transaction(self.sessions) as s:
            sent = s.scalars(
                select(EventRow.detail).where(EventRow.action == "digest.sent").order_by(
                    EventRow.id.desc()).limit(200)
            )  # fmt: skip
            if any(d == key for d in sent):
                return
            d = digest.build(s, slug, period, end=end)
        try:
            mail.send(self.settings, to, f"{d.brand_name}: {period} digest",
                      render.html(d), render.markdown(d))  # fmt: skip
        except mail.MailError:
            log.exception("the %s digest of %s was not mailed", period, slug)
            return
        with transaction(self.sessions) as s:
            add_event(s, SYSTEM, "digest.sent", detail=key)
