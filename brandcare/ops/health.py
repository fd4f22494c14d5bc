"""Is this installation able to work: the database, its schema, the broker, the model;
and, when asked (``--pipeline``), is the work actually moving.

Shared by ``brandcare health`` (exit code 1 when something is wrong) and the web app's
``/healthz`` (HTTP 503), which load balancers and compose health checks call. Answers
name what failed and why, never a URL with its password.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from brandcare.config import Settings
from brandcare.ops.logs import redact_url
from brandcare.store import backlog, make_engine, migrate, session_factory


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    ms: float


def _timed(name: str, fn) -> Check:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        ok, detail = fn()
    except Exception as exc:  # noqa: BLE001 (a health check reports every failure)
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def _database(settings: Settings) -> tuple[bool, str]:
    path = migrate.sqlite_file(settings.database_url)
    if path is not None and not path.is_file():  # connecting would create it
        return False, f"no database at {path}: create it with `brandcare migrate`"
    engine = make_engine(settings.database_url, connect_args={"connect_timeout": 5}
                         if settings.database_url.startswith("postgresql") else {})  # fmt: skip
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    current, head = migrate.current(settings.database_url), migrate.head()
    if current != head:
        return False, f"schema at {current or 'none'}, code needs {head}: run `brandcare migrate`"
    return True, f"{redact_url(settings.database_url).split('?')[0]} at revision {head}"


def _broker(settings: Settings) -> tuple[bool, str]:
    url = settings.broker_url
    if not url:
        return True, "in-process (no broker URL)"
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
        return True, redact_url(url)
    if url.startswith(("amqp://", "amqps://")):
        import pika  # type: ignore[import-untyped]

        pika.BlockingConnection(pika.URLParameters(url)).close()
        return True, redact_url(url)
    return False, f"unsupported broker URL {redact_url(url)}"


def broker_check(settings: Settings) -> str:
    """The broker answers (its URL, redacted), or the driver's error is raised."""
    ok, detail = _broker(settings)
    if not ok:
        raise ValueError(detail)
    return detail


def _model(settings: Settings) -> tuple[bool, str]:
    import sentiment  # the package only: the artifacts module would import torch

    folder = (
        settings.model_dir or Path(sentiment.__file__).resolve().parent.parent / "models" / "scorer"
    )
    files = sorted(p.name for p in folder.glob("*")) if folder.is_dir() else []
    if not files:
        return (
            False,
            f"no scorer artifacts in {folder}: run `brandcare train` or set BRANDCARE_MODEL_DIR",
        )
    return True, f"{folder} ({len(files)} files)"


#: Stages a worker (not a person) must move, as the check names them.
_WORKER_STAGES = {
    "score": "to score",
    "draft": "to draft",
    "send": "approved, to send",
    "sending": "in a send not yet settled",
}


def pipeline(settings: Settings, now: dt.datetime | None = None) -> tuple[bool, str]:
    """Whether workers consume: the oldest mention or reply waiting for one, by stage.

    The other checks say a worker could run; a worker that is up but consumes nothing
    (started with the wrong ``--queues``, stuck on one batch, its broker consumer gone)
    passes them all while mentions pile up. Here that shows as work older than
    ``BRANDCARE_STALL_MINUTES``. Drafts waiting for an agent do not count: people are
    allowed to be slow.
    """
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as s:
            state = backlog.read(s, count_all_drafts=False)
    finally:
        engine.dispose()
    now = now or dt.datetime.now(dt.UTC)
    stalled: list[str] = []
    moving: list[str] = []
    for stage, words in _WORKER_STAGES.items():
        waiting = state.stages[stage]
        if not waiting.depth:
            continue
        minutes = (now - waiting.oldest).total_seconds() / 60 if waiting.oldest else 0.0
        line = f"{waiting.depth:,} {words}, the oldest for {minutes:.0f} min"
        (stalled if minutes > settings.stall_minutes else moving).append(line)
    if stalled:
        return False, (
            f"work is not moving: {'; '.join(stalled)} (over {settings.stall_minutes:g} min): "
            "is a worker consuming those queues?"
        )
    return True, "; ".join(moving) or "nothing waits for a worker"


def run(settings: Settings, *, work: bool = False) -> list[Check]:
    """Every check; ``work`` adds whether workers consume (``pipeline``)."""
    checks = [
        _timed("database", lambda: _database(settings)),
        _timed("broker", lambda: _broker(settings)),
        _timed("model", lambda: _model(settings)),
    ]
    if work:
        checks.append(_timed("pipeline", lambda: pipeline(settings)))
    return checks
