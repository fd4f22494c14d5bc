"""The listener's fake-server fixtures, shared with the property tests of bad payloads."""

from tests.integration.listener.conftest import (  # noqa: F401  (fixtures, used by name)
    _no_prawcore_retry_sleep,
    fixtures_dir,
    reddit,
    reddit_api,
    twitter,
    twitter_api,
)
