"""Platform sources built from settings, once per process, by platform name."""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

from brandcare.config import Settings
from listener.base import Source
from listener.registry import build_source


class SourceNotConfiguredError(RuntimeError):
    """A query names a platform whose credentials are not set."""


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def sample_dir() -> Path:
    """The folder holding the bundled sample files (the demo's replay)."""
    return Path(str(resources.files("brandcare") / "samples"))


class Sources:
    """Builds each platform's source on first use and keeps it for the process."""

    def __init__(self, settings: Settings, overrides: dict[str, Source] | None = None) -> None:
        self._settings = settings
        self._built: dict[str, Source] = dict(overrides or {})
        self._lock = threading.Lock()

    def get(self, platform: str) -> Source:
        """The source for ``platform``; raises SourceNotConfiguredError without credentials."""
        with self._lock:
            if platform not in self._built:
                self._built[platform] = build_source(platform, **self._options(platform))
            return self._built[platform]

    def _options(self, platform: str) -> dict[str, Any]:
        s = self._settings
        timeout = (
            {} if s.platform_timeout_seconds is None else {"timeout": s.platform_timeout_seconds}
        )
        if platform == "twitter":
            if s.x_bearer_token is None:
                raise SourceNotConfiguredError(
                    "X queries need X_BEARER_TOKEN (and X_API_KEY, X_API_SECRET, "
                    "X_ACCESS_TOKEN, X_ACCESS_SECRET to post replies)"
                )
            return {
                "bearer_token": _secret(s.x_bearer_token),
                "consumer_key": _secret(s.x_api_key),
                "consumer_secret": _secret(s.x_api_secret),
                "access_token": _secret(s.x_access_token),
                "access_token_secret": _secret(s.x_access_secret),
                "api_url": s.x_api_url,
                **timeout,
            }
        if platform == "reddit":
            if s.reddit_client_id is None:
                raise SourceNotConfiguredError(
                    "Reddit queries need REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET "
                    "(and REDDIT_USERNAME, REDDIT_PASSWORD to post replies)"
                )
            return {
                "client_id": _secret(s.reddit_client_id),
                "client_secret": _secret(s.reddit_client_secret),
                "user_agent": s.reddit_user_agent,
                "username": s.reddit_username,
                "password": _secret(s.reddit_password),
                "oauth_url": s.reddit_oauth_url,
                "reddit_url": s.reddit_url,
                **timeout,
            }
        if platform == "replay":
            return {
                "speed": s.replay_speed,
                "base_dir": s.replay_dir or sample_dir(),
                "rebase": s.replay_rebase,
            }
        return {}
