"""Settings from the environment (and an optional ``.env``), built once per entry point.

Nothing reads the environment at import time: entry points call ``Settings()`` and pass
the result down, so tests can build their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from brandcare.config.profile_env import PROFILE_FIELD, ProfileVariables


class ProfileSecrets(BaseModel):
    """One credentials profile's platform secrets (``X_API_KEY__ACME`` and the like).

    Field names are the deployment-wide settings' names, so one profile and the
    deployment-wide variables are read the same way (``brandcare.brands.credentials``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    x_bearer_token: SecretStr | None = None
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_secret: SecretStr | None = None
    reddit_client_id: SecretStr | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_username: str | None = None
    reddit_password: SecretStr | None = None
    mastodon_access_token: SecretStr | None = None
    mastodon_api_base_url: str | None = None
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None


class Settings(BaseSettings):
    """Every knob of brandcare; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="BRANDCARE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///brandcare.db"
    broker_url: str | None = None
    model_dir: Path | None = Field(
        default=None, description="folder with the scorer artifacts (default: models/scorer)"
    )
    score_quantize: bool = Field(
        default=True, description="int8 dynamic quantization on CPU (same accuracy, ~3x faster)"
    )
    score_batch_size: int = Field(default=64, ge=1, le=1024)
    score_trace: bool = Field(
        default=True,
        description="run the encoder as one traced call without the GIL (off: eager, slower)",
    )
    #: Forward passes a process runs at once, each on its own copy of the model, and
    #: torch threads per pass; unset: ``runtime.scoring_layout`` fits them to the cores
    #: and the worker threads (``brandcare worker`` sets both for its processes).
    score_lanes: int | None = Field(default=None, ge=1, le=64)
    score_threads: int | None = Field(default=None, ge=1)
    #: A local Hugging Face sequence-classification folder whose answers are the reported
    #: sentiment (the care heads keep the built-in one); unset: the built-in head.
    sentiment_model: Path | None = Field(
        default=None, description="folder of a sentiment checkpoint (default: the built-in head)"
    )
    log_format: str = Field(default="text", pattern="^(text|json)$")
    log_level: str = "INFO"

    # X (Twitter) API v2: a bearer token reads; OAuth 1.0a user keys post replies.
    x_bearer_token: SecretStr | None = Field(default=None, validation_alias="X_BEARER_TOKEN")
    x_api_key: SecretStr | None = Field(default=None, validation_alias="X_API_KEY")
    x_api_secret: SecretStr | None = Field(default=None, validation_alias="X_API_SECRET")
    x_access_token: SecretStr | None = Field(default=None, validation_alias="X_ACCESS_TOKEN")
    x_access_secret: SecretStr | None = Field(default=None, validation_alias="X_ACCESS_SECRET")
    x_api_url: str = "https://api.twitter.com"
    #: X is pay-per-use: set these to your contract's prices (USD per post read / created).
    x_price_per_read_usd: float = Field(default=0.005, ge=0)
    x_price_per_post_usd: float = Field(default=0.01, ge=0)

    # Reddit (praw): a script app's credentials; the account posts the replies.
    reddit_client_id: SecretStr | None = Field(default=None, validation_alias="REDDIT_CLIENT_ID")
    reddit_client_secret: SecretStr | None = Field(
        default=None, validation_alias="REDDIT_CLIENT_SECRET"
    )
    reddit_username: str | None = Field(default=None, validation_alias="REDDIT_USERNAME")
    reddit_password: SecretStr | None = Field(default=None, validation_alias="REDDIT_PASSWORD")
    reddit_user_agent: str = "brandcare/0.1 (social care)"
    reddit_oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    #: Reddit allows about 100 requests a minute per app, shared by every query.
    reddit_requests_per_minute: int = Field(default=100, ge=1)

    # Mastodon (Mastodon.py): the brand account's instance and an access token with the
    # read:notifications, read:statuses, read:search and write:statuses scopes.
    mastodon_access_token: SecretStr | None = Field(
        default=None, validation_alias="MASTODON_ACCESS_TOKEN"
    )
    mastodon_api_base_url: str | None = Field(
        default=None, validation_alias="MASTODON_API_BASE_URL"
    )

    # Bluesky (atproto): the account's handle and an app password (never the main one).
    bluesky_handle: str | None = Field(default=None, validation_alias="BLUESKY_HANDLE")
    bluesky_app_password: SecretStr | None = Field(
        default=None, validation_alias="BLUESKY_APP_PASSWORD"
    )
    #: The account's PDS (tests point it at a local fake).
    bluesky_service_url: str = "https://bsky.social"

    #: Per-brand credentials: profile name -> its secrets, from ``<NAME>__<PROFILE>``
    #: variables (``X_BEARER_TOKEN__ACME``); a brand names its profile in the brands file.
    #: The alias is no variable name on purpose: the profiles come only from the
    #: suffixed variables (``_ProfileSource``), never from one JSON blob of secrets.
    credential_profiles: dict[str, ProfileSecrets] = Field(
        default_factory=dict, validation_alias=PROFILE_FIELD
    )

    #: Replay files are read relative to this folder (the demo's sample lives in the package).
    replay_dir: Path | None = None
    replay_speed: float = Field(default=0.0, ge=0)
    #: Shift replayed timestamps so the newest mention is posted now (the demo does).
    replay_rebase: bool = False
    #: Where the replay source records the replies it posts, one JSON line each, so every
    #: process finds them (unset: each process's memory; benchmarks set it to count posts).
    replay_posts_file: Path | None = None

    #: Work stuck this long in an intermediate state is enqueued again by the scheduler.
    stale_after_seconds: float = Field(default=600, gt=0)
    sweep_every_seconds: float = Field(default=60, gt=0)
    #: A worker process silent this long on a Redis broker is taken for dead, and the
    #: scheduler hands the messages it held back to their queues (checked every 5 s).
    #: A live one refreshes its heartbeat at least once a second.
    dead_worker_seconds: float = Field(default=30, gt=0)

    #: How long one platform API call may take before it counts as failed and is retried
    #: (unset: each source's own default, 30 s for X and 16 s for Reddit).
    platform_timeout_seconds: float | None = Field(default=None, gt=0)
    #: For this long after a send attempt a retry only looks for the reply (the post may
    #: still be on its way, or not yet visible); after it, a retry may post. Keep it well
    #: above ``platform_timeout_seconds``, or a retry could post beside a slow first post.
    send_settle_seconds: float = Field(default=180, gt=0)

    #: Scoring messages carry at most this many mention ids (one batched forward pass).
    score_message_size: int = Field(default=64, ge=1, le=1024)

    # The web inbox (`brandcare serve`).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    #: Sessions end this long after login, or after this long without a request.
    web_session_hours: float = Field(default=12, gt=0)
    web_idle_minutes: float = Field(default=60, gt=0)
    #: Send the session cookie over HTTPS only. Browsers treat http://localhost and
    #: 127.0.0.1 as secure, so this stays on for local use; the demo turns it off.
    web_secure_cookies: bool = True
    #: An agent who opens a draft holds it this long, so two agents never answer one mention.
    claim_minutes: float = Field(default=10, gt=0)
    #: ``brandcare health --pipeline`` fails when a mention or an approved reply has
    #: waited this long for a worker.
    stall_minutes: float = Field(default=15, gt=0)

    # Insights: spike alerts and digests.
    #: The inbox's address as people reach it: links in alerts and digests point here.
    public_url: str = "http://127.0.0.1:8000"
    #: Alert channels per brand slug (or "default"), as JSON: apprise URLs carry secrets,
    #: so they live in the environment, e.g.
    #: {"default": [{"url": "slack://T/B/C"}], "skyway": [{"url": "mailto://...",
    #:  "min_severity": "critical"}]}
    alert_channels: dict[str, list[dict[str, str]]] = Field(default_factory=dict)
    alert_check_seconds: float = Field(default=60, gt=0)
    #: Digests by email: recipients per brand slug, and when (UTC hour; weekly on Mondays).
    digest_recipients: dict[str, list[str]] = Field(default_factory=dict)
    digest_hour_utc: int | None = Field(default=None, ge=0, le=23)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "brandcare@localhost"
    smtp_starttls: bool = True

    # Metrics (Prometheus): see the README's "Metrics and logs".
    #: The bearer token Prometheus sends; unset, the web's GET /metrics is off.
    metrics_token: SecretStr | None = None
    #: Where `brandcare run` and `brandcare worker` serve /metrics; unset: they do not.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: Beyond loopback the metrics port needs the token.
    metrics_host: str = "127.0.0.1"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, plus the profiles gathered from the environment and ``.env``."""
        profiles = _ProfileSource(settings_cls, [dotenv_settings, env_settings])
        return init_settings, env_settings, dotenv_settings, profiles, file_secret_settings

    @model_validator(mode="after")
    def _settle_outlasts_a_platform_call(self) -> Settings:
        """A retry inside the settle window only looks; past it, it may post. If a slow
        first post could still land after the window, a retry would post beside it."""
        timeout = self.platform_timeout_seconds or _SLOWEST_PLATFORM_DEFAULT
        if self.send_settle_seconds < 2 * timeout:
            raise ValueError(
                f"BRANDCARE_SEND_SETTLE_SECONDS ({self.send_settle_seconds:g}) must be at least "
                f"twice the platform timeout ({timeout:g} s): raise it, or lower "
                "BRANDCARE_PLATFORM_TIMEOUT_SECONDS"
            )
        return self


#: X's client default timeout (s), the slowest of the sources' defaults.
_SLOWEST_PLATFORM_DEFAULT = 30.0


class _ProfileSource(PydanticBaseSettingsSource):
    """Collects ``<NAME>__<PROFILE>`` variables from the env and dotenv sources' variables.

    Why a source: the names are not known in advance, so no field can declare them;
    reading them from what the standard sources loaded keeps ``.env`` files, the
    process environment (which wins) and ``Settings(_env_file=...)`` behaving alike.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], sources: list[PydanticBaseSettingsSource]
    ) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` builds the one field this source fills."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = ProfileVariables()
        for source in self._sources:  # later sources win: the process environment last
            if isinstance(source, EnvSettingsSource):
                found.update(source.env_vars)
        return {PROFILE_FIELD: found.profiles} if found.profiles else {}
