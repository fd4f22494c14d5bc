"""Which platform account a brand reads and posts with: its credentials profile.

A brand may name a profile (``BrandRow.credentials``, set by ``brandcare setup`` from
the brands file); the profile's secrets come only from the environment, as the
deployment-wide variables with ``__<PROFILE>`` appended (``X_BEARER_TOKEN__ACME``,
see ``brandcare.config.profile_env``). A brand without a profile uses the deployment-wide
variables. A named profile never borrows a missing value from them: a reply posted
with the deployment-wide keys would go out from another brand's account, which is
the one mistake this module exists to prevent, so an incomplete profile fails that
brand's work with the missing variable names instead.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from brandcare.config import ProfileSecrets, Settings
from brandcare.config.profile_env import PROFILE_SETTINGS, variable
from listener.errors import AuthError

#: Platforms whose sources take credentials; the others (replay, scripted) need none.
CREDENTIAL_PLATFORMS = frozenset({"twitter", "reddit", "mastodon", "bluesky"})
_PLATFORM_NAMES = {"twitter": "X", "reddit": "Reddit", "mastodon": "Mastodon", "bluesky": "Bluesky"}
#: What a Mastodon or Bluesky source needs for anything: both read as the brand's account.
_MASTODON = ("mastodon_access_token", "mastodon_api_base_url")
_BLUESKY = ("bluesky_handle", "bluesky_app_password")
_X_USER_KEYS = ("x_api_key", "x_api_secret", "x_access_token", "x_access_secret")
_REDDIT_ACCOUNT = ("reddit_client_id", "reddit_client_secret", "reddit_username", "reddit_password")


class Purpose(enum.StrEnum):
    """What the credentials are for: each needs a different set of variables."""

    READ = "read"  # poll searches, subreddits, an X mentions timeline
    ACCOUNT = "account"  # act as the brand's account: post, find our replies, read an inbox

    @classmethod
    def for_poll(cls, platform: str, kind: str) -> Purpose:
        """A poll reads, except a Reddit inbox, which only its logged-in account may."""
        return cls.ACCOUNT if (platform, kind) == ("reddit", "inbox") else cls.READ


@dataclass(frozen=True, slots=True)
class Use:
    """Who asks for a source and for what: picks the profile, names the brand in errors."""

    brand: str
    profile: str | None
    purpose: Purpose


class MissingCredentialsError(AuthError):
    """A brand's credentials lack what its poll or send needs; a person must set them.

    An ``AuthError``, so the pipeline treats it as one: the query is paused with this
    message, the draft fails with it, and other brands carry on. It names variables,
    never values.
    """

    def __init__(self, message: str, *, brand: str, profile: str | None, missing: tuple[str, ...],
                 platform: str) -> None:  # fmt: skip
        super().__init__(message, platform=platform)
        self.brand = brand
        self.profile = profile
        self.missing = missing


def secrets_for(settings: Settings, profile: str | None) -> ProfileSecrets:
    """The platform secrets of ``profile``: the deployment-wide ones for None, the
    ``__<PROFILE>`` ones otherwise (all unset when no such variable exists)."""
    if profile is None:
        return ProfileSecrets(**{name: getattr(settings, name) for name in PROFILE_SETTINGS})
    return settings.credential_profiles.get(profile, ProfileSecrets())


def _is_set(value: SecretStr | str | None) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def _plain(value: SecretStr | str | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    return value or None


def missing_for(secrets: ProfileSecrets, platform: str, purpose: Purpose) -> tuple[str, ...]:
    """The settings fields ``purpose`` on ``platform`` still needs (empty: complete).

    X reads with the bearer token, or with the four user keys when there is none;
    acting as the account always needs the four user keys. Reddit reads with the app
    (client id); its account needs the script app's secret and the login too.
    """
    have = {name: _is_set(getattr(secrets, name)) for name in PROFILE_SETTINGS}
    if platform == "twitter":
        if purpose is Purpose.READ and (
            have["x_bearer_token"] or all(have[k] for k in _X_USER_KEYS)
        ):
            return ()
        if purpose is Purpose.READ:
            return ("x_bearer_token",)
        return tuple(k for k in _X_USER_KEYS if not have[k])
    if platform == "reddit":
        wanted = ("reddit_client_id",) if purpose is Purpose.READ else _REDDIT_ACCOUNT
        return tuple(k for k in wanted if not have[k])
    if platform in ("mastodon", "bluesky"):
        account = _MASTODON if platform == "mastodon" else _BLUESKY
        return tuple(k for k in account if not have[k])
    return ()


def _message(use: Use, platform: str, missing: tuple[str, ...]) -> str:
    name = _PLATFORM_NAMES.get(platform, platform)
    action = f"read {name}" if use.purpose is Purpose.READ else f"post as its {name} account"
    variables = ", ".join(variable(k, use.profile) for k in missing)
    if use.profile is None:
        return (
            f"brand {use.brand!r} cannot {action} with the deployment-wide credentials: set "
            f"{variables}{_x_read_hint(missing, None)}, or give the brand a credentials "
            "profile of its own"
        )
    return (
        f"brand {use.brand!r} cannot {action} with credentials profile {use.profile!r}: set "
        f"{variables}{_x_read_hint(missing, use.profile)} (a named profile never falls back "
        "to the deployment-wide variables)"
    )


def _x_read_hint(missing: tuple[str, ...], profile: str | None) -> str:
    if missing != ("x_bearer_token",):
        return ""
    keys = ", ".join(variable(k, profile) for k in _X_USER_KEYS)
    return f" (or the four user keys {keys})"


def check(settings: Settings, platform: str, use: Use) -> ProfileSecrets:
    """``use``'s secrets when they cover its purpose on ``platform``; raises otherwise."""
    secrets = secrets_for(settings, use.profile)
    missing = missing_for(secrets, platform, use.purpose)
    if missing:
        raise MissingCredentialsError(
            _message(use, platform, missing),
            brand=use.brand,
            profile=use.profile,
            missing=tuple(variable(k, use.profile) for k in missing),
            platform=platform,
        )
    return secrets


def source_credentials(secrets: ProfileSecrets, platform: str) -> dict[str, Any]:
    """The credential keywords of ``platform``'s source class, from one profile."""
    if platform == "twitter":
        return {
            "bearer_token": _plain(secrets.x_bearer_token),
            "consumer_key": _plain(secrets.x_api_key),
            "consumer_secret": _plain(secrets.x_api_secret),
            "access_token": _plain(secrets.x_access_token),
            "access_token_secret": _plain(secrets.x_access_secret),
        }
    if platform == "reddit":
        return {
            "client_id": _plain(secrets.reddit_client_id) or "",
            "client_secret": _plain(secrets.reddit_client_secret),
            "username": _plain(secrets.reddit_username),
            "password": _plain(secrets.reddit_password),
        }
    if platform == "mastodon":
        return {
            "access_token": _plain(secrets.mastodon_access_token),
            "api_base_url": _plain(secrets.mastodon_api_base_url) or "",
        }
    if platform == "bluesky":
        return {
            "handle": _plain(secrets.bluesky_handle),
            "app_password": _plain(secrets.bluesky_app_password),
        }
    return {}


def reddit_app(settings: Settings, profile: str | None) -> str:
    """Which Reddit app (client id) ``profile`` polls with, as a key that hides the id.

    Reddit's ~100 requests a minute are per app: brands whose profiles share a client
    id share one allowance, a brand with an app of its own has its own. A profile
    without a client id gets a key of its own (its polls fail before any request).
    """
    client_id = _plain(secrets_for(settings, profile).reddit_client_id)
    if client_id is None:
        return f"unset:{profile or ''}"
    return "app-" + hashlib.sha256(client_id.encode()).hexdigest()[:12]
