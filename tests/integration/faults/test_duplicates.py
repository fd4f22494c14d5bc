"""The same mention delivered twice: by two queries, within one page, by racing polls.

The brand's search for its handle finds the same tweets as its mentions timeline; the
first search page carries one tweet twice; and each query is polled several times at
once by two worker processes before any poll has stored its cursor. Mentions are
unique on (platform, external id) and the stages only act on what they stored new, so
each mention is stored, scored and drafted once, and its reply goes out once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from brandcare.brands.setup import BrandSpec, QuerySpec
from brandcare.store import transaction
from brandcare.store.models import QueryRow
from tests.fakes.fake_api import Fault
from tests.integration.deployment import assert_each_once, wait_until

from .conftest import (
    X_MENTIONS,
    all_sent,
    approve_pending,
    assert_replied_once,
    enqueue,
    mention_count,
    send_approved,
    stored_ids,
    x_env,
)

pytestmark = pytest.mark.shared  # the fake X API replays ../shared/fixtures

SEARCH = r"^/2/tweets/search/recent$"
#: Polls of each query enqueued at once, before any worker has started.
RACING_POLLS = 3


def _first_tweet_twice(payload):  # type: ignore[no-untyped-def]
    payload["data"].append(dict(payload["data"][0]))
    return payload


def test_a_mention_delivered_by_two_queries_and_twice_by_one_is_handled_once(deploy, x_api):
    x_api.search_tweets = list(x_api.mention_tweets)  # searching "@Twitter" finds its mentions
    x_api.inject(Fault.rewrite(_first_tweet_twice), path=SEARCH)
    search = QuerySpec(platform="twitter", kind="search", terms="@Twitter", interval_seconds=5)
    brand = BrandSpec(slug="twitter", name="Twitter", queries=[X_MENTIONS, search])
    deployment = deploy([brand], **x_env(x_api))
    with transaction(deployment.sessions) as s:
        query_ids = list(s.scalars(select(QueryRow.id)))
    for query_id in query_ids * RACING_POLLS:
        enqueue(deployment.broker, "poll_query", "poll", query_id)
    deployment.worker()
    deployment.worker()
    deployment.scheduler()
    n = mention_count(x_api)
    got = deployment.wait(lambda c: c.done >= n, timeout=90)
    assert x_api.faults_left() == 0
    assert len(x_api.seen(SEARCH)) >= 2, "the search was not polled twice"
    assert_each_once(got, n, deployment.tail())
    assert stored_ids(deployment.sessions) == {t["id"] for t in x_api.mention_tweets}
    approved = approve_pending(deployment.sessions)
    send_approved(deployment.broker, approved + approved)  # and each send enqueued twice
    assert wait_until(lambda: all_sent(deployment.sessions), timeout=60), deployment.tail()
    assert_replied_once(deployment.sessions, x_api, approved, deployment.tail())
