"""How the inbox shows things: times, SLA status, safe links. Pure functions, used as
Jinja filters and by the JSON API, so both say the same thing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from brandcare.store.models import utcnow


def ago(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """ "5m ago", "3h ago", "2d ago": what an agent scans a queue for."""
    if when is None:
        return "-"
    return duration((now or utcnow()) - when) + " ago"


def duration(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60:02d}m" if hours < 10 else f"{hours}h"
    return f"{seconds // 86400}d"


@dataclass(frozen=True)
class SlaStatus:
    """First response against the brand's target: running while waiting, final once sent."""

    minutes: float
    target_minutes: int
    breached: bool
    final: bool

    @property
    def css(self) -> str:
        if self.breached:
            return "sla-breach"
        return "sla-warn" if self.minutes >= 0.75 * self.target_minutes else "sla-ok"

    @property
    def short(self) -> str:
        """ "3h12m / 30m": the queue's one-line form (its column says "Waiting / SLA")."""
        took = duration(dt.timedelta(minutes=self.minutes))
        return f"{took} / {self.target_minutes}m"

    @property
    def label(self) -> str:
        took = duration(dt.timedelta(minutes=self.minutes))
        verb = "answered in" if self.final else "waiting"
        return f"{verb} {took} / SLA {self.target_minutes}m"


def sla_status(
    posted: dt.datetime,
    answered: dt.datetime | None,
    target_minutes: int,
    now: dt.datetime | None = None,
) -> SlaStatus:
    end = answered or now or utcnow()
    minutes = (end - posted).total_seconds() / 60
    return SlaStatus(minutes, target_minutes, minutes > target_minutes, answered is not None)


def safe_url(url: str | None) -> str | None:
    """The URL if it is plain http(s), else None: a mention's link is untrusted, and a
    ``javascript:`` URL in an href would run in the agent's session."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def day(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """ "3 May" this year, "3 May 2025" before: when a remembered reply was written."""
    if when is None:
        return ""
    year = "" if when.year == (now or utcnow()).year else f" {when.year}"
    return f"{when.day} {when:%b}{year}"


def compact(n: int | None) -> str:
    """48213 -> "48.2k": reach at a glance."""
    n = n or 0
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


#: Characters that change how text around them is laid out but show nothing themselves:
#: the bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069), the
#: directional marks (U+200E, U+200F, U+061C) and the zero-width ones (U+200B-200D,
#: U+2060, U+FEFF). In an author's handle or name they serve only to spoof: "rtl\u202e
#: nimda" renders as "rtladmin".
_HIDDEN_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff"
)
#: In a display name, joiners are legitimate (emoji sequences, Persian and Indic
#: scripts); the layout controls are not.
_NAME_CONTROLS = _HIDDEN_CONTROLS - {"\u200c", "\u200d"}


def _shown(text: str, controls: frozenset[str]) -> str:
    return "".join(f"[U+{ord(ch):04X}]" if ch in controls else ch for ch in text)


def handle(text: str | None) -> str:
    """An author's handle with its invisible layout characters shown as ``[U+202E]``.

    Handles never need them; showing rather than dropping them tells an agent that
    someone tried. Render the result inside ``<bdi>`` as every untrusted string is.
    """
    return _shown(text or "", _HIDDEN_CONTROLS)


def display_name(text: str | None) -> str:
    """A display name with its direction overrides, embeddings, isolates and marks shown
    visibly (joiners kept), so "\u202etroppuS laiciffO\u202c" cannot pass as a brand."""
    return _shown(text or "", _NAME_CONTROLS)


def stamp(when: dt.datetime | None) -> str:
    """ "01 Dec 10:22:33 UTC": an audit log's time, for people rather than parsers."""
    if when is None:
        return "-"
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return f"{when:%d %b %H:%M:%S} UTC"


def audit_value(value: object) -> str:
    """An event detail's value as an agent reads it: an ISO timestamp becomes a
    ``stamp``; anything else is its text (escaped by the template, like all text)."""
    if isinstance(value, dt.datetime):
        return stamp(value)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return stamp(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)
