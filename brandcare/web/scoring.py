"""Scoring as a service: ``POST /api/v1/score`` for integrators who score continuously.

``brandcare score`` pays seconds of start-up (importing torch, loading the model) on
every call; a web worker pays it once, on the first scoring request, and then answers
each batch in the time of its forward pass. The contract is ``brandcare score``'s
(``brandcare.contracts``): the same objects in (as a JSON list), the same validation
and messages, the same records out, in order.

The model is loaded lazily and once per process (the pipeline's scorer, shared with
any stage this process runs), so a web worker nobody asks to score never imports
torch. Batches run on threads of their own, never on the event loop and never on the
thread pool the inbox's pages run in: a queue of scoring batches cannot keep an agent's
page waiting. Batches beyond ``MAX_WAITING`` are refused with 503 and ``Retry-After``
rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from brandcare.contracts import (
    SCORE_SHAPE,
    MalformedInputError,
    ScoreRequest,
    load_json,
    parse_items,
    score_records,
)
from brandcare.web.security import ApiScorer
from sentiment.base import Scorer

log = logging.getLogger(__name__)

#: Texts one request may carry; more go in several requests.
MAX_ITEMS = 256
#: Bytes one request body may hold (256 texts of 32 KiB each). A longer text is scored
#: as ``brandcare score`` scores it, truncated to the encoder's window; the cap only
#: keeps one request from holding the worker's memory.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Batches waiting for a scoring thread, per worker, before new ones get 503.
MAX_WAITING = 64
#: After a failed model load, how long requests get 503 before the load is tried again.
RETRY_SECONDS = 10.0
BATCH_SHAPE = f'{{"items": [{SCORE_SHAPE}, ...]}}'

router = APIRouter(prefix="/api/v1", tags=["scoring"])


class ScoringUnavailable(RuntimeError):
    """This worker cannot score now; the message says why and what fixes it."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    """One request's answer: the records ``brandcare score`` prints, and the model's name."""

    model_version: str
    records: list[dict[str, Any]]


class ScoringService:
    """One web worker's scorer: loaded by the first batch, once; batches on own threads.

    ``load`` returns the process's scorer (``Pipeline.scorer``: loaded on first use,
    thread-safe); ``threads`` batches run at once (the scorer's lanes: more would only
    wait for a lane while holding a thread).
    """

    def __init__(
        self,
        load: Callable[[], Scorer],
        *,
        threads: int = 1,
        max_waiting: int = MAX_WAITING,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._threads = threads
        self._max_waiting = max_waiting
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._scorer: Scorer | None = None
        self._failure: tuple[float, str] | None = None
        self._load_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._waiting = 0

    @property
    def loaded(self) -> bool:
        """Whether this worker has loaded its model (the first scoring request does)."""
        return self._scorer is not None

    async def score(self, requests: Sequence[ScoreRequest]) -> ScoredBatch:
        """Score validated requests on a scoring thread; the event loop keeps serving."""
        with self._count_lock:
            if self._waiting >= self._max_waiting + self._threads:
                raise ScoringUnavailable(
                    f"this worker is busy: {self._waiting} batches are scoring or waiting; "
                    "retry in a second, or send fewer requests at once",
                    1,
                )
            self._waiting += 1
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="brandcare-score")
            pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(self._score, requests))
        finally:
            with self._count_lock:
                self._waiting -= 1

    def _score(self, requests: Sequence[ScoreRequest]) -> ScoredBatch:
        # Imported late, as ``metrics_http`` does: declaring the metrics writes files in
        # multiprocess mode, which must be set up before anything declares them.
        from brandcare.ops import metrics

        scorer = self.scorer()
        started = time.perf_counter()
        records = score_records(scorer, requests)
        # The same histograms as the score stage's: a scrape of the web process shows
        # what scoring as a service costs.
        metrics.scored(len(requests), time.perf_counter() - started)
        return ScoredBatch(scorer.model_version, records)

    def scorer(self) -> Scorer:
        """The loaded scorer, loading it on first use; ScoringUnavailable when the model
        cannot be loaded (said for ``RETRY_SECONDS``, then tried again)."""
        with self._load_lock:
            if self._scorer is not None:
                return self._scorer
            if self._failure is not None:
                failed_at, message = self._failure
                wait = failed_at + self._retry_seconds - self._clock()
                if wait > 0:
                    raise ScoringUnavailable(message, max(1, round(wait)))
            # Imported here, in the scoring thread: both modules import torch.
            from sentiment.artifacts import ArtifactError
            from sentiment.external import ExternalSentimentError

            started = self._clock()
            try:
                scorer = self._load()
            except (ArtifactError, ExternalSentimentError) as exc:
                message = (
                    f"the scoring model cannot be loaded: {exc}; set BRANDCARE_MODEL_DIR to "
                    "a model folder if it is elsewhere (this worker tries again at a request "
                    f"{self._retry_seconds:.0f} s from now)"
                )
                log.error("scoring unavailable: %s", exc)
                self._failure = (self._clock(), message)
                raise ScoringUnavailable(message, max(1, round(self._retry_seconds))) from exc
            self._failure = None
            self._scorer = scorer
            log.info(
                "scoring model %s loaded in %.1f s",
                scorer.model_version,
                self._clock() - started,
                extra={"model_version": scorer.model_version},
            )
            return scorer


async def read_batch(request: Request) -> list[ScoreRequest]:
    """The request's items validated by ``brandcare score``'s contract; 413 for a body
    over ``MAX_BODY_BYTES``, 422 naming what is wrong otherwise."""
    body = await _body(request)
    value, problem = load_json(body)
    if problem is not None:
        raise HTTPException(422, f"the request body is {problem}; expected {BATCH_SHAPE}")
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        got = "no 'items' list" if isinstance(value, dict) else f"a {type(value).__name__}"
        raise HTTPException(422, f"expected {BATCH_SHAPE}, got {got}")
    if not 1 <= len(items) <= MAX_ITEMS:
        raise HTTPException(
            422,
            f"a request scores 1 to {MAX_ITEMS} texts, got {len(items)}"
            + (": send the rest in further requests" if items else ""),
        )
    try:
        return parse_items(items, ScoreRequest, SCORE_SHAPE)
    except MalformedInputError as exc:
        raise HTTPException(422, str(exc)) from exc


async def _body(request: Request) -> bytes:
    """The body, read no further than ``MAX_BODY_BYTES`` (a chunked one is counted)."""
    too_big = HTTPException(
        413,
        f"the request body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB: send fewer or "
        "shorter texts per request (the model reads the first 128 tokens, about 100 words, "
        "of each)",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


class SignalOut(BaseModel):
    kind: str
    evidence: str = Field(description="the words the signal rests on")


class ScoredOut(BaseModel):
    """One text's record, exactly as `brandcare score` prints it (brandcare/contracts.py)."""

    id: str | int = Field(description="the item's id, as sent")
    sentiment: str
    probs: dict[str, float] = Field(description="negative, neutral, positive; they sum to 1")
    urgency: float
    urgency_level: str = Field(description="low, medium or high")
    troll: bool
    troll_prob: float
    needs_reply: bool
    issue: str
    reasons: list[str] = Field(description="why, in words an agent reads")
    abusive_prob: float
    language: str = Field(description="ISO 639-1; the model reads English only")
    signals: list[SignalOut]


class ScoreBatchOut(BaseModel):
    model_version: str = Field(description="the model that scored the batch")
    items: list[ScoredOut] = Field(description="one record per item sent, in the same order")


#: The request body as OpenAPI shows it; the route reads and checks it itself (``read_batch``)
#: so that its errors are ``brandcare score``'s, not FastAPI's generic ones.
_BODY_SCHEMA = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ITEMS,
            "items": ScoreRequest.model_json_schema(),
        }
    },
}
_EXAMPLE = {
    "items": [
        {"id": 1, "text": "@SkywayAir my bag never arrived, 3 days now"},
        {"id": "t-2", "text": "thanks for the quick rebooking!", "followers": 120},
    ]
}


@router.post(
    "/score",
    response_model=None,
    responses={
        200: {"model": ScoreBatchOut, "description": "the records, in the order sent"},
        401: {"description": "no valid API token"},
        403: {"description": "the token has no 'score' scope"},
        413: {"description": f"a body over {MAX_BODY_BYTES // (1024 * 1024)} MiB"},
        422: {"description": "malformed: each bad item named as `brandcare score` names lines"},
        503: {"description": "the model cannot be loaded, or the worker is busy (Retry-After)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BODY_SCHEMA, "example": _EXAMPLE}},
        }
    },
)
async def score(request: Request, user: ApiScorer) -> JSONResponse:
    """Score 1 to 256 texts, as `brandcare score` does: one record per item, in order.

    Needs a token with the `score` scope (`brandcare users token NAME --scope score`).
    The worker loads the model on its first scoring request (seconds); later batches
    take their forward pass only. Every item is checked before any is scored.
    """
    batch = await read_batch(request)
    service: ScoringService = request.app.state.scoring
    try:
        done = await service.score(batch)
    except ScoringUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    return JSONResponse({"model_version": done.model_version, "items": done.records})
