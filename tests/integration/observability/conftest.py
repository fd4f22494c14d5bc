"""A small drafted pipeline on SQLite behind the real web app, and a scrape parser.

Counters live in the process's default registry and keep counting across tests, so
tests compare scrapes before and after what they do; each flow gets a brand slug of
its own, so per-brand series start at zero.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select

from brandcare.brands.setup import QuerySpec
from brandcare.config import Settings
from brandcare.ops import metrics_http
from brandcare.pipeline import runtime
from brandcare.pipeline.stages import Pipeline
from brandcare.store import migrate, transaction
from brandcare.store.models import QueryRow
from brandcare.web import create_app
from listener.errors import PermanentSourceError
from listener.fake import ScriptedSource, make_mention
from sentiment.baseline import BaselineScorer
from tests.integration.pipeline.conftest import add_brand

TOKEN = "scrape-token-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 where the series does not exist (yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def mentions() -> list[object]:
    return [
        make_mention("bag", "@SkywayAir you lost my bag, flight cancelled today", handle="ana"),
        make_mention("clown", "@SkywayAir you are a clown", handle="troll99"),
        make_mention("refund", "@SkywayAir you charged me twice, refund please", handle="bob"),
        make_mention("delay", "@SkywayAir my flight is delayed again, nobody helps", handle="cy"),
        make_mention("thanks", "@SkywayAir thanks, lovely crew today!", handle="dee"),
    ]


@dataclass
class Flow:
    """The pipeline, its source and the web app, over one SQLite file."""

    settings: Settings
    pipeline: Pipeline
    source: ScriptedSource
    app: FastAPI
    brand: str
    query_id: int

    def scrape(self, token: str | None = TOKEN) -> Samples:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        r = TestClient(self.app, base_url="https://testserver").get("/metrics", headers=headers)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        return parse(r.text)


def make_flow(tmp_path: Path, database_url: str | None = None, **settings: object) -> Flow:
    """The flow over ``database_url`` (migrated already), else a fresh SQLite file."""
    url = database_url or f"sqlite:///{tmp_path / 'observed.db'}"
    if database_url is None:
        migrate.upgrade(url)
    config = Settings(database_url=url, metrics_token=SecretStr(TOKEN), **settings)  # type: ignore[arg-type]
    # The second reply the platform refuses: the post was deleted meanwhile.
    source = ScriptedSource.with_mentions(
        mentions(),  # type: ignore[arg-type]
        post_errors={2: PermanentSourceError("gone", reason="the post was deleted")},
    )
    pipeline = runtime.configure(config, scorer=BaselineScorer(), sources={"scripted": source})
    brand = f"obs{uuid.uuid4().hex[:8]}"
    add_brand(
        pipeline.sessions, QuerySpec(platform="scripted", kind="search", terms="x"), slug=brand
    )
    with transaction(pipeline.sessions) as s:
        query_id = s.scalars(select(QueryRow.id)).one()
    app = create_app(config, send=lambda draft_id: None)
    # Every scrape counts every draft state afresh (the app's own keeps them a minute).
    app.state.metrics_registry = metrics_http.registry(pipeline.sessions, totals_every=0)
    return Flow(config, pipeline, source, app, brand, query_id)


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return make_flow(tmp_path)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test that configures logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
