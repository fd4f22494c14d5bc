"""Source errors: vendor exceptions are translated once, inside the source.

Callers catch only these kinds and know what to do with each: wait, re-authenticate,
retry later, or give up and tell an agent why.
"""

from __future__ import annotations


class SourceError(Exception):
    """Anything a platform source can fail with."""

    def __init__(self, message: str, *, platform: str = "") -> None:
        super().__init__(message)
        self.platform = platform


class RateLimited(SourceError):
    """The platform asked us to wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float, platform: str = "") -> None:
        super().__init__(message, platform=platform)
        self.retry_after = retry_after


class AuthError(SourceError):
    """Credentials are missing, wrong or revoked: a person must fix the settings."""


class TransientSourceError(SourceError):
    """A 5xx, a timeout, a dropped connection, truncated JSON: retry with backoff."""


class PermanentSourceError(SourceError):
    """The platform refused for good (deleted post, locked thread, reply not allowed).

    ``reason`` is the platform's own words, shown to the agent.
    """

    def __init__(self, message: str, *, reason: str = "", platform: str = "") -> None:
        super().__init__(message, platform=platform)
        self.reason = reason or message


class MalformedPayloadError(TransientSourceError):
    """The platform answered with a payload we cannot read (kept for the logs)."""
