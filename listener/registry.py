"""Platform name -> what the app needs to know of it: its source class (imported on first
use), its display name and what a reply there may be.

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
class Platform:
    """One platform's facts: where its source class lives, its name, its reply rules."""

    target: str  # "module:Class"
    label: str  # what people call it ("X", not "twitter")
    rules: ReplyRules


#: A platform with no rules of its own (a replayed or scripted one): X's limit, plain count.
DEFAULT_RULES = ReplyRules()

_PLATFORMS: Mapping[str, Platform] = {
    "twitter": Platform("listener.twitter:TwitterSource", "X", ReplyRules(280, Counting.WEIGHTED)),
    "reddit": Platform("listener.reddit:RedditSource", "Reddit", ReplyRules(10_000, address="u/")),
    # 500 is Mastodon's default; the instance's own limit comes with each mention.
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
    ),
    "bluesky": Platform(
        "listener.bluesky:BlueskySource",
        "Bluesky",
        ReplyRules(300, Counting.GRAPHEMES, address_first=True),
    ),
    "replay": Platform("listener.replay:ReplaySource", "Replay", DEFAULT_RULES),
    "scripted": Platform("listener.fake:ScriptedSource", "Scripted", DEFAULT_RULES),
}
#: Other names people use for a platform.
_ALIASES: Mapping[str, str] = {"x": "twitter", "bsky": "bluesky"}


def platforms() -> list[str]:
    """The platform names a source exists for."""
    return sorted(_PLATFORMS)


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
