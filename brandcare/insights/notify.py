"""Delivering alerts and digests through notification channels given as URLs (apprise).

A channel is an apprise URL (``slack://...``, ``msteams://...``, ``mailto://...``,
``json://host/path`` for a generic webhook, and many more) with the lowest severity it
wants. URLs carry secrets, so they come from the environment (never the database) and
are never logged: logs name the scheme and host only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

SEVERITIES = ("medium", "high", "critical")


class Channel(BaseModel):
    """Where one brand's alerts go, from which severity up."""

    url: str = Field(min_length=3)
    min_severity: str = Field(default="medium", pattern="^(medium|high|critical)$")

    def wants(self, severity: str) -> bool:
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)

    @property
    def name(self) -> str:
        """The channel without its secrets: scheme and host."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or '?'}"


@dataclass(frozen=True)
class Delivery:
    """How one notification to one channel went (recorded on the alert)."""

    channel: str
    ok: bool
    attempts: int
    error: str = ""


class Notifier:
    """Routes a message to a brand's channels by severity, retrying each a few times."""

    def __init__(
        self,
        channels: Mapping[str, Sequence[Channel]],
        *,
        attempts: int = 3,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = channels
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    def routes(self, brand: str, severity: str) -> list[Channel]:
        """The brand's own channels, else the ``default`` ones, that want this severity."""
        chosen = self.channels.get(brand) or self.channels.get("default") or []
        return [c for c in chosen if c.wants(severity)]

    def send(self, brand: str, severity: str, title: str, body: str) -> list[Delivery]:
        return [self._deliver(c, title, body) for c in self.routes(brand, severity)]

    def _deliver(self, channel: Channel, title: str, body: str) -> Delivery:
        target = apprise.Apprise()
        if not target.add(channel.url):
            log.error("notification channel %s is not a valid apprise URL", channel.name)
            return Delivery(channel.name, False, 0, "not a valid apprise URL")
        for attempt in range(1, self.attempts + 1):
            if target.notify(title=title, body=body, body_format=apprise.NotifyFormat.MARKDOWN):
                return Delivery(channel.name, True, attempt)
            log.warning(
                "notification to %s failed (attempt %d of %d)", channel.name, attempt, self.attempts
            )
            if attempt < self.attempts:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return Delivery(channel.name, False, self.attempts, "the channel refused or did not answer")


def notifier(channels: Mapping[str, Sequence[Mapping[str, str]]]) -> Notifier | None:
    """The notifier for the settings' ``alert_channels``, or None when none are configured.

    Here rather than beside the digests: a worker checking alerts must not import the
    chart code (matplotlib costs 0.7 s and tens of MB in every worker process).
    """
    if not channels:
        return None
    return Notifier({k: [Channel(**c) for c in v] for k, v in channels.items()})
