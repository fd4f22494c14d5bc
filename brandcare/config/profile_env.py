"""The names of per-brand credential variables: ``<VARIABLE>__<PROFILE>``.

One rule, written once, for the settings source that reads them, the errors that name
the missing ones and the check of the docker files: a profile variable is a
deployment-wide platform variable (``X_BEARER_TOKEN``) with ``__`` and the profile
name in capitals appended (``X_BEARER_TOKEN__ACME``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: The settings field the profiles fill. Its alias is deliberately not a possible
#: variable name: profiles come only from the suffixed variables, never from one JSON
#: blob of secrets (which would be a second, undocumented way in).
PROFILE_FIELD = "credential profiles"

#: What a profile may be called: lowercase letters and digits, single underscores
#: between them (``__`` separates the profile from the variable), 32 characters at most.
PROFILE_NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
PROFILE_NAME_CHARS = 32
SEPARATOR = "__"

#: Settings field -> deployment-wide variable, for every setting a profile can set.
PROFILE_SETTINGS: Mapping[str, str] = {
    "x_bearer_token": "X_BEARER_TOKEN",
    "x_api_key": "X_API_KEY",
    "x_api_secret": "X_API_SECRET",
    "x_access_token": "X_ACCESS_TOKEN",
    "x_access_secret": "X_ACCESS_SECRET",
    "reddit_client_id": "REDDIT_CLIENT_ID",
    "reddit_client_secret": "REDDIT_CLIENT_SECRET",
    "reddit_username": "REDDIT_USERNAME",
    "reddit_password": "REDDIT_PASSWORD",
    "mastodon_access_token": "MASTODON_ACCESS_TOKEN",
    "mastodon_api_base_url": "MASTODON_API_BASE_URL",
    "bluesky_handle": "BLUESKY_HANDLE",
    "bluesky_app_password": "BLUESKY_APP_PASSWORD",
}
_BY_VARIABLE = {variable.lower(): field for field, variable in PROFILE_SETTINGS.items()}


class ProfileNameError(ValueError):
    """A profile variable's suffix is not a usable profile name."""


def is_profile_name(name: str) -> bool:
    """Whether ``name`` may name a credentials profile (as stored with a brand)."""
    return len(name) <= PROFILE_NAME_CHARS and PROFILE_NAME.fullmatch(name) is not None


def variable(setting: str, profile: str | None) -> str:
    """The variable holding ``setting`` for ``profile`` (None: the deployment-wide one)."""
    base = PROFILE_SETTINGS[setting]
    return base if profile is None else f"{base}{SEPARATOR}{profile.upper()}"


def parse_variable(name: str) -> tuple[str, str] | None:
    """(settings field, profile) for a profile variable, None for any other name.

    Case does not matter (the settings read the environment case-insensitively). A
    platform variable with a suffix that is no profile name raises, naming it: read
    as "not a profile variable" it would be silently ignored, and the brand would
    then fail for a reason far from the typo.
    """
    base, sep, suffix = name.lower().partition(SEPARATOR)
    field = _BY_VARIABLE.get(base)
    if not sep or field is None:
        return None
    if not is_profile_name(suffix):
        raise ProfileNameError(
            f"{name.upper()}: {suffix.upper()!r} is not a credentials profile name (letters and "
            f"digits, single underscores between them, at most {PROFILE_NAME_CHARS} "
            f"characters); rename it to {PROFILE_SETTINGS[field]}{SEPARATOR}<PROFILE>"
        )
    return field, suffix


class ProfileVariables:
    """Profile variables gathered from one or more environments, later ones winning."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, str]] = {}

    def update(self, environment: Mapping[str, str | None]) -> None:
        """Take every profile variable of ``environment``; empty values count as unset."""
        for name, value in environment.items():
            parsed = parse_variable(name)
            if parsed is None or not value:
                continue
            field, profile = parsed
            self.profiles.setdefault(profile, {})[field] = value
