"""Platform names map to source classes."""

from __future__ import annotations

import pytest

from listener.base import Source
from listener.registry import build_source, platforms, source_factory


def test_every_platform_has_a_source_class() -> None:
    assert platforms() == ["bluesky", "mastodon", "reddit", "replay", "scripted", "twitter"]
    for name in platforms():
        assert source_factory(name).platform == name  # type: ignore[attr-defined]


def test_build_source_gives_an_object_that_follows_the_protocol() -> None:
    assert isinstance(build_source("replay", speed=0), Source)
    assert isinstance(build_source("scripted"), Source)


def test_unknown_platform_names_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match="known: bluesky, mastodon, reddit, replay, scripted, twitter"
    ):
        source_factory("myspace")
