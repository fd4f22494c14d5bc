"""Platform name -> source class, imported on first use.

The app builds sources from settings by platform name; importing lazily keeps a
replay-only demo from importing tweepy and praw at all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from listener.base import Source

SourceFactory = Callable[..., Source]

_SOURCES: Mapping[str, str] = {
    "twitter": "listener.twitter:TwitterSource",
    "reddit": "listener.reddit:RedditSource",
    "replay": "listener.replay:ReplaySource",
    "scripted": "listener.fake:ScriptedSource",
}


def platforms() -> list[str]:
    """The platform names a source exists for."""
    return sorted(_SOURCES)


def source_factory(platform: str) -> SourceFactory:
    """The class (a factory taking the platform's keyword settings) for ``platform``."""
    try:
        target = _SOURCES[platform]
    except KeyError:
        known = ", ".join(platforms())
        raise ValueError(f"no source for platform {platform!r} (known: {known})") from None
    module_name, _, attribute = target.partition(":")
    factory: Any = getattr(importlib.import_module(module_name), attribute)
    return factory  # type: ignore[no-any-return]


def build_source(platform: str, **settings: Any) -> Source:
    """A source for ``platform`` built from its keyword settings."""
    return source_factory(platform)(**settings)
