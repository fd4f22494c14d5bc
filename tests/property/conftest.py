"""Fixtures shared with the integration tests: the listener's fake servers, the web site."""

from tests.integration.listener.conftest import (  # noqa: F401  (fixtures, used by name)
    _no_prawcore_retry_sleep,
    fixtures_dir,
    reddit,
    reddit_api,
    twitter,
    twitter_api,
)
from tests.integration.web.conftest import site  # noqa: F401  (fixture, used by name)
