"""Credentials profiles: how ``<VARIABLE>__<PROFILE>`` is read, resolved, refused and cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandcare.brands import credentials
from brandcare.brands.credentials import MissingCredentialsError, Purpose, Use
from brandcare.brands.sources import Sources
from brandcare.config import ProfileSecrets, Settings
from brandcare.config.profile_env import (
    PROFILE_FIELD,
    PROFILE_SETTINGS,
    ProfileNameError,
    parse_variable,
    variable,
)
from brandcare.ops import logs
from listener.errors import AuthError
from listener.fake import ScriptedSource
from listener.reddit import RedditSource
from listener.twitter import TwitterSource

X_USER_KEYS = {
    "x_api_key": "k-123456",
    "x_api_secret": "ks-123456",
    "x_access_token": "at-123456",
    "x_access_secret": "as-123456",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No platform variable of the machine running the tests, and no .env of its own."""
    import os

    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith(("X_", "REDDIT_", "MASTODON_", "BLUESKY_", "BRANDCARE_")):
            monkeypatch.delenv(name)


def settings(**profiles: dict[str, str]) -> Settings:
    """Deployment-wide X and Reddit keys of an account no profile test may end up with."""
    return Settings(
        x_bearer_token="deploy-bearer",
        x_api_key="deploy-key",
        x_api_secret="deploy-secret",
        x_access_token="deploy-access",
        x_access_secret="deploy-access-secret",
        reddit_client_id="deploy-app",
        reddit_client_secret="deploy-app-secret",
        reddit_username="deploy_user",
        reddit_password="deploy-password",
        # The field's alias is no variable name, so it is given by alias here too.
        **{PROFILE_FIELD: profiles},
    )


# -- naming ------------------------------------------------------------------------------


def test_profile_variables_are_read_from_the_environment_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN__ACME", "acme-bearer")
    monkeypatch.setenv("x_api_key__acme", "acme-key")
    monkeypatch.setenv("REDDIT_USERNAME__ACME_EU", "acme_eu")
    monkeypatch.setenv("X_API_SECRET__ACME", "")  # empty: unset, as if not there
    found = Settings().credential_profiles
    assert set(found) == {"acme", "acme_eu"}
    assert found["acme"].x_bearer_token is not None
    assert found["acme"].x_bearer_token.get_secret_value() == "acme-bearer"
    assert found["acme"].x_api_key is not None
    assert found["acme"].x_api_key.get_secret_value() == "acme-key"
    assert found["acme"].x_api_secret is None
    assert found["acme_eu"].reddit_username == "acme_eu"


def test_the_process_environment_wins_over_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "profiles.env"
    env_file.write_text("X_API_KEY__ACME=from-file\nX_API_SECRET__ACME=only-in-file\n")
    monkeypatch.setenv("X_API_KEY__ACME", "from-process")
    acme = Settings(_env_file=env_file).credential_profiles["acme"]  # type: ignore[call-arg]
    assert acme.x_api_key is not None
    assert acme.x_api_key.get_secret_value() == "from-process"
    assert acme.x_api_secret is not None
    assert acme.x_api_secret.get_secret_value() == "only-in-file"


def test_a_platform_variable_with_a_suffix_that_is_no_profile_name_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("X_API_KEY___ACME", "key")  # three underscores: profile "_acme"
    with pytest.raises(ProfileNameError, match=r"X_API_KEY___ACME.*X_API_KEY__<PROFILE>"):
        Settings()


def test_profiles_come_only_from_suffixed_variables_never_from_one_json_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blob = '{"acme": {"x_api_key": "k"}}'
    monkeypatch.setenv("BRANDCARE_CREDENTIAL_PROFILES", blob)
    monkeypatch.setenv("CREDENTIAL_PROFILES", blob)
    assert Settings().credential_profiles == {}


def test_other_names_are_not_profile_variables() -> None:
    assert parse_variable("X_API_KEY") is None
    assert parse_variable("BRANDCARE_X_API_URL__ACME") is None
    assert parse_variable("X_API_KEYS__ACME") is None
    assert parse_variable("REDDIT_PASSWORD__ACME") == ("reddit_password", "acme")
    assert variable("x_access_secret", "acme_eu") == "X_ACCESS_SECRET__ACME_EU"
    assert variable("x_access_secret", None) == "X_ACCESS_SECRET"


# -- resolution ----------------------------------------------------------------------------


def test_a_brand_without_a_profile_uses_the_deployment_wide_keys() -> None:
    found = credentials.check(settings(), "twitter", Use("acme", None, Purpose.ACCOUNT))
    assert found.x_api_key is not None
    assert found.x_api_key.get_secret_value() == "deploy-key"


def test_a_named_profile_uses_its_own_keys() -> None:
    s = settings(acme={"x_bearer_token": "acme-bearer", **X_USER_KEYS})
    found = credentials.check(s, "twitter", Use("acme", "acme", Purpose.ACCOUNT))
    options = credentials.source_credentials(found, "twitter")
    assert options == {
        "bearer_token": "acme-bearer",
        "consumer_key": "k-123456",
        "consumer_secret": "ks-123456",
        "access_token": "at-123456",
        "access_token_secret": "as-123456",
    }


def test_a_named_profile_never_borrows_the_deployment_wide_keys_to_post() -> None:
    s = settings(acme={"x_bearer_token": "acme-bearer", "x_api_key": "acme-key"})
    assert credentials.check(s, "twitter", Use("acme", "acme", Purpose.READ))
    with pytest.raises(MissingCredentialsError) as caught:
        credentials.check(s, "twitter", Use("acme", "acme", Purpose.ACCOUNT))
    error = caught.value
    assert isinstance(error, AuthError)  # paused query / failed draft, like a revoked token
    assert (error.brand, error.profile, error.platform) == ("acme", "acme", "twitter")
    assert error.missing == ("X_API_SECRET__ACME", "X_ACCESS_TOKEN__ACME", "X_ACCESS_SECRET__ACME")
    message = str(error)
    assert "brand 'acme'" in message
    assert "X_API_SECRET__ACME, X_ACCESS_TOKEN__ACME, X_ACCESS_SECRET__ACME" in message
    assert "never falls back" in message
    for value in ("acme-bearer", "acme-key", "deploy-key", "deploy-secret", "deploy-access"):
        assert value not in message


def test_a_named_profile_with_no_variables_at_all_names_what_to_set_for_reading() -> None:
    with pytest.raises(MissingCredentialsError) as caught:
        credentials.check(settings(), "twitter", Use("beta", "beta_eu", Purpose.READ))
    assert caught.value.missing == ("X_BEARER_TOKEN__BETA_EU",)
    assert "or the four user keys X_API_KEY__BETA_EU" in str(caught.value)


def test_x_reads_with_the_user_keys_when_a_profile_has_no_bearer_token() -> None:
    s = settings(acme=X_USER_KEYS)
    assert credentials.check(s, "twitter", Use("acme", "acme", Purpose.READ)).x_bearer_token is None


def test_incomplete_deployment_wide_keys_suggest_a_profile() -> None:
    s = Settings(x_bearer_token="deploy-bearer")
    with pytest.raises(MissingCredentialsError, match="give the brand a credentials profile"):
        credentials.check(s, "twitter", Use("acme", None, Purpose.ACCOUNT))
    assert credentials.check(s, "twitter", Use("acme", None, Purpose.READ))


def test_reddit_reads_with_the_app_and_needs_the_login_to_post_or_read_the_inbox() -> None:
    s = settings(acme={"reddit_client_id": "acme-app"})
    assert credentials.check(s, "reddit", Use("acme", "acme", Purpose.READ))
    assert Purpose.for_poll("reddit", "inbox") is Purpose.ACCOUNT
    assert Purpose.for_poll("reddit", "subreddit") is Purpose.READ
    assert Purpose.for_poll("twitter", "mentions") is Purpose.READ
    with pytest.raises(MissingCredentialsError) as caught:
        credentials.check(s, "reddit", Use("acme", "acme", Purpose.for_poll("reddit", "inbox")))
    assert caught.value.missing == (
        "REDDIT_CLIENT_SECRET__ACME",
        "REDDIT_USERNAME__ACME",
        "REDDIT_PASSWORD__ACME",
    )
    with pytest.raises(MissingCredentialsError, match="REDDIT_CLIENT_ID__BETA"):
        credentials.check(s, "reddit", Use("beta", "beta", Purpose.READ))


def test_brands_on_one_reddit_app_share_a_budget_key_and_others_have_their_own() -> None:
    s = settings(
        acme={"reddit_client_id": "shared-app"},
        beta={"reddit_client_id": "shared-app"},
        gamma={"reddit_client_id": "gamma-app"},
    )
    acme, beta, gamma = (credentials.reddit_app(s, p) for p in ("acme", "beta", "gamma"))
    assert acme == beta
    assert len({acme, gamma, credentials.reddit_app(s, None)}) == 3
    assert credentials.reddit_app(s, "nobody") != credentials.reddit_app(s, "other")
    assert "shared-app" not in acme  # the key hides the client id


# -- secrets stay secret ----------------------------------------------------------------------


def test_profile_secrets_are_hidden_from_reprs_and_known_to_log_redaction() -> None:
    s = settings(acme={"x_bearer_token": "acme-bearer-1234", "reddit_password": "acme-pw-5678"})
    assert "acme-bearer-1234" not in repr(s)
    assert "acme-pw-5678" not in repr(s.credential_profiles)
    found = logs.secrets_of(s)
    assert {"acme-bearer-1234", "acme-pw-5678", "deploy-bearer"} <= set(found)


def test_every_profile_setting_is_a_deployment_wide_setting_of_the_same_name() -> None:
    for field, name in PROFILE_SETTINGS.items():
        assert Settings.model_fields[field].validation_alias == name
        assert field in ProfileSecrets.model_fields


# -- sources ---------------------------------------------------------------------------------


def test_sources_are_built_once_per_platform_and_profile() -> None:
    s = settings(
        acme={"x_bearer_token": "acme-bearer", **X_USER_KEYS, "reddit_client_id": "acme-app"},
        beta={"x_bearer_token": "beta-bearer"},
    )
    sources = Sources(s)
    acme = sources("twitter", Use("acme", "acme", Purpose.READ))
    assert isinstance(acme, TwitterSource)
    assert sources("twitter", Use("acme-too", "acme", Purpose.ACCOUNT)) is acme
    beta = sources("twitter", Use("beta", "beta", Purpose.READ))
    assert beta is not acme
    deployment = sources("twitter", Use("gamma", None, Purpose.READ))
    assert deployment not in (acme, beta)
    assert isinstance(sources("reddit", Use("acme", "acme", Purpose.READ)), RedditSource)
    # Platforms without credentials ignore the profile: one replay source for all.
    replay = sources("replay", Use("acme", "acme", Purpose.READ))
    assert sources("replay", Use("beta", "beta", Purpose.READ)) is replay


def test_a_cached_source_is_still_refused_for_what_its_profile_cannot_do() -> None:
    sources = Sources(settings(beta={"x_bearer_token": "beta-bearer"}))
    sources("twitter", Use("beta", "beta", Purpose.READ))
    with pytest.raises(MissingCredentialsError, match="X_API_KEY__BETA"):
        sources("twitter", Use("beta", "beta", Purpose.ACCOUNT))


def test_overrides_stand_for_a_platform_whatever_the_profile() -> None:
    scripted = ScriptedSource()
    sources = Sources(settings(), {"twitter": scripted})
    assert sources("twitter", Use("acme", "nowhere", Purpose.ACCOUNT)) is scripted


def test_mastodon_and_bluesky_profiles_need_their_account_for_anything() -> None:
    s = settings(
        acme={
            "mastodon_access_token": "acme-masto-1234",
            "mastodon_api_base_url": "https://mastodon.example",
            "bluesky_handle": "acme.bsky.social",
        }
    )
    for purpose in Purpose:
        assert credentials.check(s, "mastodon", Use("acme", "acme", purpose))
    with pytest.raises(MissingCredentialsError) as caught:
        credentials.check(s, "bluesky", Use("acme", "acme", Purpose.READ))
    assert caught.value.missing == ("BLUESKY_APP_PASSWORD__ACME",)
    assert "read Bluesky" in str(caught.value)
    with pytest.raises(MissingCredentialsError) as caught:
        credentials.check(s, "mastodon", Use("beta", "beta", Purpose.ACCOUNT))
    assert caught.value.missing == ("MASTODON_ACCESS_TOKEN__BETA", "MASTODON_API_BASE_URL__BETA")
    assert "post as its Mastodon account" in str(caught.value)


def test_mastodon_and_bluesky_sources_get_their_profiles_keys() -> None:
    s = settings(
        acme={
            "mastodon_access_token": "acme-masto-1234",
            "mastodon_api_base_url": "https://mastodon.example",
            "bluesky_handle": "acme.bsky.social",
            "bluesky_app_password": "acme-bsky-5678",
        }
    )
    secrets = credentials.secrets_for(s, "acme")
    assert credentials.source_credentials(secrets, "mastodon") == {
        "access_token": "acme-masto-1234",
        "api_base_url": "https://mastodon.example",
    }
    assert credentials.source_credentials(secrets, "bluesky") == {
        "handle": "acme.bsky.social",
        "app_password": "acme-bsky-5678",
    }
    assert {"acme-masto-1234", "acme-bsky-5678"} <= set(logs.secrets_of(s))
