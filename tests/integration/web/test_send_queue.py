"""An approval in the web inbox queues its send on the production broker (Redis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from brandcare.agents import users
from brandcare.pipeline.queue import setup_broker
from brandcare.store import transaction
from brandcare.web import background_sender
from tests.integration.web.conftest import Site
from tests.servers import REDIS_URL, require_port


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    require_port(REDIS_URL, "Redis")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    setup_broker(None)  # the other tests' in-process broker


def test_an_approval_in_the_web_enqueues_one_send_message_in_redis(
    site: Site, redis_db: redis.Redis
) -> None:
    import brandcare.pipeline.tasks  # noqa: F401  (imported before the broker is known, as in a real app)

    settings = site.settings.model_copy(update={"broker_url": REDIS_URL})
    site.app.state.send = background_sender(settings)
    with transaction(site.pipeline.sessions) as s:
        token = users.issue_token(s, "ana")
    c = site.client()
    draft = site.drafts["bag"]
    r = c.post(f"/api/v1/drafts/{draft}/approve", json={},
               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 200, r.text
    messages = redis_db.hvals("dramatiq:send.msgs")
    assert len(messages) == 1
    assert b'"actor_name":"send_draft"' in messages[0]
    assert f'"args":[{draft}]'.encode() in messages[0]
