"""Sending through a platform that loses answers, lags, refuses for a while, or fails.

Approved replies go out through the workers to the fake X API, which posts some of
them but never gets the answer back to the worker (a timeout, half a body, a body
without the new tweet's id), shows one new reply late, rate-limits one post and fails
another before posting. The sender asks the platform before it could post twice: every
approved reply is on the platform exactly once, and every draft ends ``sent``.
"""

from __future__ import annotations

import pytest

from tests.fakes.fake_api import Fault
from tests.integration.deployment import wait_until

from .conftest import (
    X_BRAND,
    X_TIMEOUT,
    all_sent,
    approve_pending,
    assert_replied_once,
    mention_count,
    send_approved,
    x_env,
)

pytestmark = pytest.mark.shared  # the fake X API replays ../shared/fixtures

POST = r"^/2/tweets$"
OUR_TIMELINE = r"^/2/users/\d+/tweets$"


def _without_tweet_id(payload):  # type: ignore[no-untyped-def]
    payload["data"].pop("id")
    return payload


def test_replies_whose_answers_are_lost_after_posting_are_never_posted_twice(deploy, x_api):
    # Settling waits 8 s instead of 3 min before a retry may post again.
    deployment = deploy([X_BRAND], **x_env(x_api), BRANDCARE_SEND_SETTLE_SECONDS="8")
    n = mention_count(x_api)
    deployment.worker()
    deployment.scheduler()
    deployment.wait(lambda c: c.done >= n, timeout=90)
    approved = approve_pending(deployment.sessions)
    # The faults are served in the order the POSTs arrive, whichever draft sends them.
    # The two refusals come first: their drafts post again later, so three drafts meet
    # five POSTs (and every fault must be served, below). How many of the fixture's
    # mentions need a reply is the model's call (three to five so far).
    assert len(approved) >= 3, "too few drafts to send for the test to mean much"
    for fault in (
        Fault.rate_limited(reset_in=2),  # refused before posting: wait for the reset
        Fault.server_error(500),  # failed before posting: unclear, so found-or-posted later
        Fault.timeout(X_TIMEOUT * 2),  # posted; the answer comes after the client gave up
        Fault.truncated(),  # posted; half the answer
        Fault.rewrite(_without_tweet_id),  # posted; an answer without the new tweet's id
    ):
        x_api.inject(fault, path=POST, method="POST")
    # Our own timeline shows a new reply late once: the first look finds nothing.
    x_api.inject(Fault.respond(200, {"meta": {"result_count": 0}}), path=OUR_TIMELINE)
    send_approved(deployment.broker, approved)
    assert wait_until(lambda: all_sent(deployment.sessions), timeout=90), deployment.tail()
    assert x_api.faults_left() == 0, "not every fault was served"
    assert deployment.alive(), deployment.tail()
    assert_replied_once(deployment.sessions, x_api, approved, deployment.tail())
