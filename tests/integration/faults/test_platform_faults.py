"""The platform misbehaves while the workers poll it: 429s, 5xx, timeouts, bad payloads.

The real tweepy client in every worker talks to the fake X API, which answers the
brand's mentions timeline with one fault after another before it answers properly.
A rate limit re-enqueues the poll after the reset time, errors and timeouts are retried
with backoff, an unreadable page is read again; the cursor only moves with a page that
was stored, so each mention arrives exactly once and the workers keep going. A tweet
that keeps coming without its text cannot be stored: it alone is skipped, not its page.
"""

from __future__ import annotations

import pytest

from tests.fakes.fake_api import Fault
from tests.integration.deployment import assert_each_once

from .conftest import X_TIMEOUT, mention_count, stored_ids

pytestmark = pytest.mark.shared  # the fake X API replays ../shared/fixtures

MENTIONS = r"^/2/users/\d+/mentions$"


#: Every page after the faults above comes without authors and with one text missing.
REWRITTEN_PAGES = 1000


def _without_authors_and_a_text(broken: str):  # type: ignore[no-untyped-def]
    """The users expansion gone from every page, and one tweet's text gone wherever it is."""

    def rewrite(payload):  # type: ignore[no-untyped-def]
        payload.pop("includes", None)
        for tweet in payload.get("data", []):
            if tweet["id"] == broken:
                tweet.pop("text")
        return payload

    return rewrite


def test_polling_through_rate_limits_errors_timeouts_and_bad_payloads_stores_each_mention_once(
    x_deployment, x_api
):
    broken = x_api.mention_tweets[0]["id"]
    for fault in (
        Fault.rate_limited(reset_in=2),
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.timeout(X_TIMEOUT + 2),
        Fault.truncated(),
        Fault.not_json(),
    ):
        x_api.inject(fault, path=MENTIONS)
    # Then the platform keeps sending one tweet without its text: it can never be stored
    # (skipped and logged); the rest of its page is.
    x_api.inject(
        Fault.rewrite(_without_authors_and_a_text(broken)), path=MENTIONS, times=REWRITTEN_PAGES
    )
    n = mention_count(x_api) - 1
    x_deployment.worker()
    x_deployment.scheduler()
    got = x_deployment.wait(lambda c: c.done >= n, timeout=120)
    # Faults are served in order: a rewritten page means every fault before it was served.
    assert x_api.faults_left() < REWRITTEN_PAGES, "the faults were not all served"
    assert x_deployment.alive(), x_deployment.tail()
    assert_each_once(got, n, x_deployment.tail())
    assert stored_ids(x_deployment.sessions) == {t["id"] for t in x_api.mention_tweets} - {broken}
