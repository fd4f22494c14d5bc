"""Platform sources built from settings, once per process per platform and credentials.

A brand's credentials profile picks whose keys a source holds (``brandcare.brands.credentials``),
so there is one X source per X account in use, one Reddit source per Reddit login: a
reply always goes out through a source built with its own brand's keys.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from brandcare.brands import credentials
from brandcare.brands.credentials import Purpose, Use
from brandcare.config import Settings
from listener.base import Source
from listener.registry import build_source

#: What a poll or send with no brand at hand uses: the deployment-wide credentials.
DEPLOYMENT = Use(brand="(deployment)", profile=None, purpose=Purpose.READ)


class SourceLookup(Protocol):
    """How the pipeline finds the source for a platform and a brand's credentials."""

    def __call__(self, platform: str, use: Use, /) -> Source:
        """The source; raises ``MissingCredentialsError`` when ``use``'s are incomplete."""
        ...


def sample_dir() -> Path:
    """The folder holding the bundled sample files (the demo's replay)."""
    return Path(str(resources.files("brandcare") / "samples"))


class Sources:
    """Builds each (platform, credentials profile)'s source on first use and keeps it.

    ``overrides`` (tests) stand for a platform whatever the profile.
    """

    def __init__(self, settings: Settings, overrides: dict[str, Source] | None = None) -> None:
        self._settings = settings
        self._overrides: dict[str, Source] = dict(overrides or {})
        self._built: dict[tuple[str, str | None], Source] = {}
        self._lock = threading.Lock()

    def __call__(self, platform: str, use: Use = DEPLOYMENT, /) -> Source:
        """The same as ``get``: a ``Sources`` is the pipeline's ``SourceLookup``."""
        return self.get(platform, use)

    def get(self, platform: str, use: Use = DEPLOYMENT) -> Source:
        """The source for ``platform`` with ``use``'s brand's credentials.

        Checked on every call, not only the first: a profile complete enough to read
        may still lack the keys to post, and that must fail naming the brand and the
        missing variables rather than inside the platform client.
        """
        if platform in self._overrides:
            return self._overrides[platform]
        if platform not in credentials.CREDENTIAL_PLATFORMS:
            key: tuple[str, str | None] = (platform, None)
            options = self._platform_options(platform)
        else:
            secrets = credentials.check(self._settings, platform, use)
            key = (platform, use.profile)
            options = {
                **credentials.source_credentials(secrets, platform),
                **self._platform_options(platform),
            }
        with self._lock:
            if key not in self._built:
                self._built[key] = build_source(platform, **options)
            return self._built[key]

    def _platform_options(self, platform: str) -> dict[str, Any]:
        """Everything but the credentials: base URLs, timeouts, replay knobs."""
        s = self._settings
        timeout = (
            {} if s.platform_timeout_seconds is None else {"timeout": s.platform_timeout_seconds}
        )
        if platform == "twitter":
            return {"api_url": s.x_api_url, **timeout}
        if platform == "reddit":
            return {
                "user_agent": s.reddit_user_agent,
                "oauth_url": s.reddit_oauth_url,
                "reddit_url": s.reddit_url,
                **timeout,
            }
        if platform == "mastodon":
            return {**timeout}
        if platform == "bluesky":
            return {"service_url": s.bluesky_service_url, **timeout}
        if platform == "replay":
            return {
                "speed": s.replay_speed,
                "base_dir": s.replay_dir or sample_dir(),
                "rebase": s.replay_rebase,
                "posts_file": s.replay_posts_file,
            }
        return {}
