"""The urgent lane on a real Redis broker: a mention the first pass marks urgent is scored
before the bulk lane's backlog, however long it is.

A Redis server of the test's own (no other test's queues, no flush from one), a worker
in this process with one thread, the baseline scorer recording the order it scores in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from dramatiq import Worker
from sqlalchemy import select

from brandcare.brands.setup import QuerySpec
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.pipeline.queue import setup_broker
from brandcare.store import transaction
from brandcare.store.models import QueryRow
from listener.fake import ScriptedSource, make_mention
from sentiment.base import Scores
from sentiment.baseline import BaselineScorer
from tests.integration.deployment import RedisServer

from .conftest import add_brand


class RecordingScorer(BaselineScorer):
    """The baseline, noting each text in the order it is scored."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def score(self, texts: Sequence[str]) -> list[Scores]:
        self.order.extend(texts)
        return super().score(texts)


def test_an_urgent_mention_enqueued_after_many_calm_ones_is_scored_first(
    database: str, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        calm = [
            make_mention(f"c{i}", f"@brand thanks for the lovely flight {i}") for i in range(40)
        ]
        urgent = make_mention("u1", "@brand my account was hacked and the money is gone")
        source = ScriptedSource.with_mentions([*calm, urgent])
        scorer = RecordingScorer()
        broker = setup_broker(server.url)
        pipeline = runtime.configure(
            Settings(database_url=database, broker_url=server.url),
            scorer=scorer,
            sources={"scripted": source},
        )
        add_brand(pipeline.sessions, QuerySpec(platform="scripted", kind="search", terms="x"))
        with transaction(pipeline.sessions) as s:
            query_id = s.scalars(select(QueryRow.id)).one()
        polled = pipeline.poll(query_id)
        assert len(polled.urgent_ids) == 1  # the first pass marked the hacked account only

        from brandcare.pipeline import tasks

        # The backlog first, one message per mention, then the urgent one behind it all.
        for mention_id in polled.new_ids:
            if mention_id not in polled.urgent_ids:
                tasks.score_mentions.send([mention_id])
        tasks.score_urgent_mentions.send(polled.urgent_ids)
        worker = Worker(broker, worker_threads=1)
        worker.start()
        try:
            deadline = time.monotonic() + 60
            while len(scorer.order) < len(polled.new_ids) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            worker.stop()
        assert len(scorer.order) == len(polled.new_ids)
        # First, or behind what the bulk lane's consumer had already handed the thread
        # (its prefetch: two messages for one thread), never behind the other 38.
        assert scorer.order.index(urgent.text) < 3, scorer.order[:5]
    finally:
        server.stop()
        setup_broker(None)
