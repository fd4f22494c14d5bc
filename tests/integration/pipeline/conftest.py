"""A migrated SQLite database with one brand and its queries, for stage tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import QueryRow
from listener.fake import ScriptedSource
from sentiment.baseline import BaselineScorer


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'stages.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def sessions(database: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database)
    yield session_factory(engine)
    engine.dispose()


def add_brand(sessions, *queries: QuerySpec, slug: str = "skyway") -> int:  # type: ignore[no-untyped-def]
    spec = BrandSpec(
        slug=slug,
        name="Skyway Air",
        voice={"sign_off": "– Skyway Care", "dm_invitation": "send us a DM"},
        queries=list(queries),
    )
    with transaction(sessions) as s:
        return apply_brands(s, [spec])[slug]


def make_pipeline(sessions, source: ScriptedSource, scorer=None) -> Pipeline:  # type: ignore[no-untyped-def]
    return Pipeline(sessions, lambda platform, use: source, lambda: scorer or BaselineScorer())


def drafted_pipeline(database: str, source: ScriptedSource) -> Pipeline:
    """The process's pipeline on ``database``, one scripted brand, its mentions polled,
    scored and drafted: where review and requeue tests start."""
    pipeline = runtime.configure(
        Settings(database_url=database), scorer=BaselineScorer(), sources={"scripted": source}
    )
    add_brand(pipeline.sessions, QuerySpec(platform="scripted", kind="search", terms="x"))
    with transaction(pipeline.sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    for mention_id in pipeline.score(pipeline.poll(qid).new_ids):
        pipeline.draft(mention_id)
    return pipeline
