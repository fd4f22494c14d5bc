"""Scoring as a service: ``POST /api/v1/score`` over HTTP, on the real app and store.

The scorer is the committed model (the session's ``scorer`` fixture); the records must
be exactly what ``brandcare score``'s ``score_records`` gives for the same input, every
item checked by the same contract before any is scored, and the model loaded by the
first scoring request, once, never by the app's start or another route.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from brandcare.agents import users
from brandcare.config import Settings
from brandcare.contracts import MalformedInputError, parse_lines, score_records
from brandcare.ops import metrics
from brandcare.pipeline import runtime
from brandcare.store import migrate, transaction
from brandcare.web import create_app
from brandcare.web.scoring import MAX_BODY_BYTES, MAX_ITEMS, ScoreBatchOut, ScoredOut
from sentiment.base import Scorer
from tests.conftest import REPO
from tests.contract import ADDED_KEYS, SCORE_KEYS
from tests.integration.web.conftest import PASSWORD

pytestmark = pytest.mark.model

ITEMS: list[dict[str, Any]] = [
    {"id": 1, "text": "@SkywayAir my bag never arrived, 3 days now and nobody answers"},
    {"id": "t-2", "text": "thanks for the quick rebooking, great crew!", "followers": 120},
    {"id": 3, "text": "@SkywayAir you are a clown airline 🤡", "extra": "ignored"},
    {"id": "long", "text": "my flight was cancelled and " * 600},  # far past 128 tokens
    {"id": 5, "text": ""},
]


@dataclass
class Api:
    app: FastAPI
    url: str
    tokens: dict[str, str]  # by scopes: "inbox", "score", "inbox score"

    def post(self, body: object, scopes: str = "score", **words: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[scopes]}"} if scopes else {}
        with TestClient(self.app, base_url="https://testserver") as c:
            if isinstance(body, bytes):
                return c.post("/api/v1/score", content=body, headers=headers, **words)
            return c.post("/api/v1/score", json=body, headers=headers, **words)

    def get(self, path: str, scopes: str) -> Any:
        with TestClient(self.app, base_url="https://testserver") as c:
            return c.get(path, headers={"Authorization": f"Bearer {self.tokens[scopes]}"})

    @property
    def loaded(self) -> bool:
        return bool(self.app.state.scoring.loaded)


def _api(tmp_path: Path, settings_words: dict[str, Any], scorer: Scorer | None) -> Api:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, **settings_words)
    pipeline = runtime.configure(settings, scorer=scorer)
    tokens = {}
    with transaction(pipeline.sessions) as s:
        for name, scopes in [("ana", "inbox"), ("svc", "score"), ("root", "inbox score")]:
            users.add_user(s, name, PASSWORD, "admin" if name == "root" else "marketing")
            tokens[scopes] = users.issue_token(s, name, scopes.split())
    sent: list[int] = []
    return Api(create_app(settings, send=sent.append), url, tokens)


@pytest.fixture
def api(tmp_path: Path, scorer: Scorer) -> Api:
    """The app over a migrated SQLite store; its pipeline scores with the committed model."""
    return _api(tmp_path, {}, scorer)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch, scorer: Scorer) -> list[int]:
    """Counts calls of the process's model loader (``runtime.default_scorer``), each
    answered with the committed model already in memory."""
    calls: list[int] = []

    def load(settings: Settings, layout: object = None) -> Scorer:
        calls.append(1)
        return scorer

    monkeypatch.setattr(runtime, "default_scorer", load)
    return calls


def cli_records(scorer: Scorer, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``brandcare score`` prints for ``items`` sent as JSON Lines, read back."""
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    records = score_records(scorer, parse_lines(lines))
    return [json.loads(json.dumps(r, ensure_ascii=False)) for r in records]


def cli_error(items: list[object]) -> str:
    """``brandcare score``'s message for these lines, as the API words it."""
    with pytest.raises(MalformedInputError) as caught:
        parse_lines([json.dumps(item) for item in items])
    return str(caught.value)


def _batches_scored() -> float:
    (family,) = metrics.SCORE_BATCH.collect()
    return next(x.value for x in family.samples if x.name.endswith("_count"))


def test_the_records_are_brandcare_score_s_in_order(api: Api, scorer: Scorer) -> None:
    before = _batches_scored()
    r = api.post({"items": ITEMS})
    assert r.status_code == 200, r.text
    assert _batches_scored() == before + 1  # /metrics shows the service's batches too
    body = r.json()
    assert body["model_version"] == scorer.model_version
    assert body["items"] == cli_records(scorer, ITEMS)
    assert [x["id"] for x in body["items"]] == [1, "t-2", 3, "long", 5]
    # The documented schema is the records' exact shape: no field missing or unnamed.
    ScoreBatchOut.model_validate(body)
    assert set(body["items"][0]) == set(ScoredOut.model_fields) == SCORE_KEYS | ADDED_KEYS
    # The same texts, one per request: the same records (a batch of one is a batch too).
    one = api.post({"items": ITEMS[:1]})
    assert one.json()["items"] == cli_records(scorer, ITEMS[:1])


def test_scoring_needs_a_token_with_the_score_scope(api: Api) -> None:
    body = {"items": ITEMS[:1]}
    assert api.post(body, scopes="").status_code == 401
    refused = api.post(body, scopes="inbox")
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert "'score' scope" in detail
    assert "`brandcare users token ana --scope inbox --scope score`" in detail
    assert not api.loaded  # refused before anything was loaded
    assert api.post(body, scopes="score").status_code == 200
    assert api.post(body, scopes="inbox score").status_code == 200
    # A scoring token reads nothing of the inbox; the inbox scope still does.
    inbox = api.get("/api/v1/me", "score")
    assert inbox.status_code == 403
    assert "'inbox' scope" in inbox.json()["detail"]
    assert "--scope inbox --scope score" in inbox.json()["detail"]
    assert api.get("/api/v1/me", "inbox").json() == {"username": "ana", "role": "marketing"}
    assert api.get("/api/v1/me", "inbox score").status_code == 200


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"items": []}, ["1 to 256 texts, got 0"]),
        ({"items": [{"id": i, "text": "hi"} for i in range(MAX_ITEMS + 1)]},
         ["1 to 256 texts, got 257", "further requests"]),
        ({"texts": ["hi"]}, ["expected {\"items\": [", "no 'items' list"]),
        ([{"id": 1, "text": "hi"}], ["got a list"]),
        (b'{"items": [{"id": 1, "text": "hi"}', ["request body is not valid JSON", "column"]),
        (b'{"items": [{"id": 1, "text": "a\tb"}]}', ["Invalid control character at column"]),
        (b'{"items": [{"id": 1, "text": "\xff"}]}', ["not UTF-8 text (byte 30)"]),
    ],
    ids=["none", "257", "no items", "a list", "bad JSON", "control character", "not UTF-8"],
)  # fmt: skip
def test_a_malformed_batch_is_422_and_scores_nothing(
    api: Api, body: object, words: list[str]
) -> None:
    r = api.post(body)
    assert r.status_code == 422, r.text
    for word in words:
        assert word in r.json()["detail"], r.json()
    assert not api.loaded


def test_bad_items_are_named_as_brandcare_score_names_bad_lines(api: Api) -> None:
    items: list[object] = [
        {"id": 1, "text": "fine"},
        {"id": 2},
        {"id": 1.5, "text": "x"},
        "just text",
        {"id": 4, "text": 42, "followers": -1},
    ]
    r = api.post({"items": items})
    assert r.status_code == 422
    detail = r.json()["detail"]
    # The CLI's message, with items named by index where the CLI numbers lines from 1.
    expected = cli_error(items).replace("input line(s)", "input item(s)")
    expected = expected.replace("per line:", "per item:")
    for number in range(len(items), 0, -1):
        expected = expected.replace(f"  line {number}: ", f"  items[{number - 1}]: ")
    assert detail == expected
    assert "items[1]: 'text' field required" in detail
    assert "4 malformed input item(s)" in detail
    assert not api.loaded


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    r = api.post(b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert r.status_code == 413
    assert "MiB" in r.json()["detail"]


def test_the_model_loads_at_the_first_scoring_request_once(
    tmp_path: Path, loads: list[int], scorer: Scorer
) -> None:
    api = _api(tmp_path, {}, None)  # the process's own loader, as in production
    assert api.get("/api/v1/me", "inbox").status_code == 200
    assert api.post({"items": []}).status_code == 422
    assert loads == []
    assert not api.loaded
    statuses: list[int] = []

    def post() -> None:
        statuses.append(api.post({"items": ITEMS[:2]}).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    assert loads == [1]
    assert api.loaded
    assert api.post({"items": ITEMS[:1]}).json()["items"] == cli_records(scorer, ITEMS[:1])
    assert loads == [1]


def test_a_missing_model_is_503_with_what_to_do(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    api = _api(tmp_path, {"model_dir": nowhere}, None)
    first = api.post({"items": ITEMS[:1]})
    assert first.status_code == 503
    detail = first.json()["detail"]
    assert str(nowhere) in detail
    assert "BRANDCARE_MODEL_DIR" in detail
    assert "Traceback" not in first.text
    assert int(first.headers["retry-after"]) >= 1
    again = api.post({"items": ITEMS[:1]})  # not loaded again at once: the same answer
    assert (again.status_code, again.json()["detail"]) == (503, detail)
    assert api.get("/api/v1/me", "inbox").status_code == 200  # the inbox still works


def test_creating_the_app_imports_no_torch(tmp_path: Path) -> None:
    """A web worker nobody asks to score never imports torch nor loads the model."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    script = (
        "import sys\n"
        "from brandcare.config import Settings\n"
        "from brandcare.web import create_app\n"
        f"app = create_app(Settings(database_url={url!r}))\n"
        "from fastapi.testclient import TestClient\n"
        "assert TestClient(app).get('/api/openapi.json').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers'}"
        " or m in {'sentiment.transformer', 'sentiment.artifacts'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_token_with_the_score_scope_comes_from_the_cli(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brandcare.cli import app as cli

    monkeypatch.setenv("BRANDCARE_DATABASE_URL", api.url)
    run: Callable[..., Any] = CliRunner().invoke
    made = run(cli, ["users", "token", "ana", "--scope", "score"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    api.tokens["cli"] = token
    assert api.post({"items": ITEMS[:1]}, scopes="cli").status_code == 200
    assert api.get("/api/v1/me", "cli").status_code == 403
    listed = run(cli, ["users", "list"])
    assert "token: score" in listed.stdout
    assert "token: inbox,score" in listed.stdout
    bad = run(cli, ["users", "token", "ana", "--scope", "admin"])
    assert bad.exit_code == 2
    assert "unknown token scope 'admin'" in bad.stderr
