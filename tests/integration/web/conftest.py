"""A running inbox over a small drafted pipeline: four users, a handful of drafts.

The app is the real one (``create_app``) over a migrated SQLite database that the
real pipeline stages filled; only the send dispatcher is replaced by a list, so tests
can count sends without a platform.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from brandcare.agents import users
from brandcare.brands.setup import QuerySpec
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.pipeline.stages import Pipeline
from brandcare.store import migrate, transaction
from brandcare.store.models import DraftRow, MentionRow, QueryRow
from brandcare.web import create_app
from listener.fake import ScriptedSource, make_mention
from sentiment.baseline import BaselineScorer
from tests.integration.pipeline.conftest import add_brand

PASSWORD = "correct horse battery"
USERS = {"ana": "agent", "ben": "agent", "mia": "marketing", "root": "admin"}
XSS_TEXT = (
    "@SkywayAir <script>alert('xss')</script><img src=x onerror=alert(2)> "
    "you lost my bag and my refund is 100% late"
)


def mentions() -> list[object]:
    xss = dataclasses.replace(
        make_mention("xss", XSS_TEXT, handle="<b>evil</b>"), url="javascript:alert(3)"
    )
    return [
        make_mention(
            "bag",
            "@SkywayAir you lost my bag, flight cancelled today",
            handle="ana_customer",
            conversation_id="c1",
        ),
        make_mention("clown", "@SkywayAir you are a clown", handle="troll99"),
        xss,
        make_mention(
            "bag2",
            "@SkywayAir same here, my bag is lost too, flight cancelled",
            handle="bob_customer",
            conversation_id="c1",
        ),
        make_mention(
            "big",
            "@SkywayAir my flight was cancelled and nobody helps me",
            handle="famous",
            followers=50_000,
        ),
    ]


@dataclass
class Site:
    app: FastAPI
    settings: Settings
    pipeline: Pipeline
    sent: list[int]
    drafts: dict[str, int] = field(default_factory=dict)  # by mention external id
    mention_ids: dict[str, int] = field(default_factory=dict)

    def client(self) -> TestClient:
        # https: the session cookie is Secure by default, as in production.
        return TestClient(self.app, base_url="https://testserver", follow_redirects=True)

    def login(self, username: str, password: str = PASSWORD) -> TestClient:
        c = self.client()
        form = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        r = c.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
        )
        assert r.status_code == 200, (r.status_code, r.text[:300])
        assert r.url.path == "/inbox"
        return c

    def draft_state(self, draft_id: int) -> str:
        with transaction(self.pipeline.sessions) as s:
            d = s.get(DraftRow, draft_id)
            assert d is not None
            return d.state


def csrf(c: TestClient, page: str = "/inbox") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', c.get(page).text)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url)
    source = ScriptedSource.with_mentions(mentions())  # type: ignore[arg-type]
    pipeline = runtime.configure(settings, scorer=BaselineScorer(), sources={"scripted": source})
    add_brand(pipeline.sessions, QuerySpec(platform="scripted", kind="search", terms="x"))
    with transaction(pipeline.sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    pipeline.draft_many(pipeline.score(pipeline.poll(qid).new_ids))
    with transaction(pipeline.sessions) as s:
        for name, role in USERS.items():
            users.add_user(s, name, PASSWORD, role)
        rows = s.execute(select(MentionRow.external_id, MentionRow.id, DraftRow.id).outerjoin(
            DraftRow, DraftRow.mention_id == MentionRow.id))  # fmt: skip
        found = Site(create_app(settings, send=[].append), settings, pipeline, [])
        for ext, mid, did in rows:
            found.mention_ids[ext] = mid
            if did is not None:
                found.drafts[ext] = did
    found.app.state.send = found.sent.append
    return found
