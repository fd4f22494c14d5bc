"""A migrated SQLite database with one brand and its queries, for stage tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandcare.pipeline import Pipeline
from brandcare.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.store import make_engine, migrate, session_factory, transaction
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
