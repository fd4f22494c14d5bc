"""Platform name -> what the app needs to know of it: its source class (imported on first
use), its display name, what a reply there may be and the request budget its API grants.

The app builds sources from settings by platform name; importing lazily keeps a
replay-only demo (and the inbox, which only counts characters) from importing the
platforms' client libraries at all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from listener.base import Counting, ReplyRules, Source
from listener.text import LINK_LENGTH

SourceFactory = Callable[..., Source]


@dataclass(frozen=True, slots=True)
class RequestBudget:
    """The requests a platform's API allows in a window, and whom the allowance is for.

    The scheduler spends it on polls (``per_poll`` each, what one poll costs at most as a
    rule) and keeps ``reserve`` for replies and the look-ups that settle them.
    """

    requests: int
    window_seconds: int
    #: Who shares one allowance: "app" (Reddit: every login of one client id),
    #: "account" (Mastodon: one access token), "address" (Bluesky: every account
    #: polled from one IP address, the deployment).
    per: str
    per_poll: int = 2
    reserve: int = 0

    @property
    def for_polls(self) -> int:
        """Requests a window's polls may use."""
        return max(self.per_poll, self.requests - self.reserve)


@dataclass(frozen=True, slots=True)
class Platform:
    """One platform's facts: where its source class lives, its name, its reply rules, and
    the request budget of its API (None: it has no such budget, or it sells each read)."""

    target: str  # "module:Class"
    label: str  # what people call it ("X", not "twitter")
    rules: ReplyRules
    budget: RequestBudget | None = None
    #: A real platform's API, as opposed to a replayed file or a test's script.
    live: bool = True


#: A platform with no rules of its own (a replayed or scripted one): X's limit, plain count.
DEFAULT_RULES = ReplyRules()

_PLATFORMS: Mapping[str, Platform] = {
    # X sells reads and posts (budgets in USD, per query); its rate limits are per
    # endpoint, and a 429 waits for their reset.
    "twitter": Platform("listener.twitter:TwitterSource", "X", ReplyRules(280, Counting.WEIGHTED)),
    # About 100 requests a minute per app (client id); a poll is a listing, sometimes a
    # token refresh too. ``BRANDCARE_REDDIT_REQUESTS_PER_MINUTE`` overrides the 100.
    "reddit": Platform(
        "listener.reddit:RedditSource",
        "Reddit",
        ReplyRules(10_000, address="u/"),
        RequestBudget(100, 60, per="app"),
    ),
    # 500 is Mastodon's default; the instance's own limit comes with each mention. Free:
    # 300 requests per 5 minutes per account (the default; X-RateLimit-* say the real
    # one); polls leave 60 for replies and find_reply.
    "mastodon": Platform(
        "listener.mastodon:MastodonSource",
        "Mastodon",
        ReplyRules(
            500,
            Counting.GRAPHEMES,
            link_length=LINK_LENGTH,
            local_mentions=True,
            address_first=True,
        ),
        RequestBudget(300, 300, per="account", reserve=60),
    ),
    # Free: 3,000 requests per 5 minutes per IP address, whichever accounts make them;
    # polls leave 600 for replies (whose writes the PDS also counts in points: 5,000 an
    # hour, 35,000 a day, a post costing 3).
    "bluesky": Platform(
        "listener.bluesky:BlueskySource",
        "Bluesky",
        ReplyRules(300, Counting.GRAPHEMES, address_first=True),
        RequestBudget(3000, 300, per="address", reserve=600),
    ),
    "replay": Platform("listener.replay:ReplaySource", "Replay", DEFAULT_RULES, live=False),
    "scripted": Platform("listener.fake:ScriptedSource", "Scripted", DEFAULT_RULES, live=False),
}
#: Other names people use for a platform.
_ALIASES: Mapping[str, str] = {"x": "twitter", "bsky": "bluesky"}


def platforms() -> list[str]:
    """The platform names a source exists for."""
    return sorted(_PLATFORMS)


def live_platforms() -> list[str]:
    """The platforms that are real APIs (not a replayed file or a test's script)."""
    return sorted(name for name, p in _PLATFORMS.items() if p.live)


def request_budget(platform: str) -> RequestBudget | None:
    """The request budget of ``platform``'s API; None where it has none to keep."""
    found = _platform(platform)
    return found.budget if found else None


def _platform(name: str) -> Platform | None:
    key = name.lower()
    return _PLATFORMS.get(_ALIASES.get(key, key))


def reply_rules(platform: str, limit: int | None = None) -> ReplyRules:
    """What a reply on ``platform`` may be, with a server's own ``limit`` where one is known
    (a mention's ``reply_limit``); an unknown platform gets ``DEFAULT_RULES``."""
    found = _platform(platform)
    return (found.rules if found else DEFAULT_RULES).with_limit(limit)


def label(platform: str) -> str:
    """What people call ``platform`` ("X" for "twitter"); the name itself when unknown."""
    found = _platform(platform)
    return found.label if found else platform


def source_factory(platform: str) -> SourceFactory:
    """The class (a factory taking the platform's keyword settings) for ``platform``."""
    try:
        target = _PLATFORMS[platform].target
    except KeyError:
        known = ", ".join(platforms())
        raise ValueError(f"no source for platform {platform!r} (known: {known})") from None
    module_name, _, attribute = target.partition(":")
    factory: Any = getattr(importlib.import_module(module_name), attribute)
    return factory  # type: ignore[no-any-return]


def build_source(platform: str, **settings: Any) -> Source:
    """A source for ``platform`` built from its keyword settings."""
    return source_factory(platform)(**settings)
