"""Drafting for ``brandcare draft`` (JSON Lines): mentions in, one draft per line out.

Input lines (``contracts.DraftRequest``) are ``{"id", "text", "brand", "author",
"platform"}`` (``author`` and ``platform`` optional; ``author_name`` optional too),
validated like ``brandcare score``'s before anything is drafted. Each output line is
``{"id", "draft", "based_on", "skip_reason"}``: ``draft`` is null when the mention
should be skipped (trolling, or nothing to answer) and ``skip_reason`` says why;
``based_on`` describes the remembered reply the draft adapted, or is null for a
template draft. The pipeline drafts the same way (policy, then reply memory, then
templates), so other tools can evaluate drafts through this command.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.voice import voice_of
from brandcare.contracts import DraftRequest
from brandcare.replies.conversations import brand_index, find_brand
from brandcare.replies.memory import ReplyMemory, Request
from brandcare.store import transaction
from brandcare.store.models import BrandRow
from listener.base import Author, Mention
from listener.registry import reply_rules
from responders.drafting import DraftingError, draft_reply
from responders.policy import Action, decide
from responders.retrieval import Adapted
from responders.voice import Voice
from sentiment.base import Embedder, Scorer


@dataclass(frozen=True, slots=True)
class _Brand:
    id: int | None
    voice: Voice


def _brands(s: Session, names: set[str]) -> dict[str, _Brand]:
    """Each requested brand's id and voice; an unknown brand drafts from templates in a
    plain voice under its own name."""
    index = brand_index(s)
    rows = {b.id: b for b in s.scalars(select(BrandRow))}
    out: dict[str, _Brand] = {}
    for name in names:
        brand_id = find_brand(index, name)
        row = rows.get(brand_id) if brand_id is not None else None
        out[name] = _Brand(brand_id, voice_of(row) if row else Voice(brand=name))
    return out


def based_on_record(adapted: Adapted) -> dict[str, Any]:
    """What ``based_on`` says about the reply a draft adapted."""
    past = adapted.based_on
    return {
        "memory_id": past.memory_id,
        "author": past.author_handle,
        "mention": past.mention_text,
        "at": past.mentioned_at.isoformat() if past.mentioned_at else None,
        "similarity": round(adapted.similarity, 4),
    }


def _mention(r: DraftRequest) -> Mention:
    return Mention(
        platform=r.platform,
        external_id=str(r.id),
        text=r.text,
        author=Author(id=r.author, handle=r.author, name=r.author_name, followers=r.followers),
        created_at=dt.datetime.now(dt.UTC),
        url="",
    )


def draft_records(
    sessions: sessionmaker[Session],
    scorer: Scorer,
    requests: Sequence[DraftRequest],
    *,
    templates_only: bool = False,
    memory: ReplyMemory | None = None,
    threshold: float | None = None,
    force_reply: bool = False,
) -> list[dict[str, Any]]:
    """Draft every request; one output object per request, in order.

    ``force_reply`` drafts even what the policy would skip (the bench compares drafts
    for mentions a real agent did answer).
    """
    if not requests:
        return []
    with transaction(sessions) as s:
        brands = _brands(s, {r.brand for r in requests})
    scores = scorer.score([r.text for r in requests])
    decisions = [decide(sc, followers=r.followers) for r, sc in zip(requests, scores, strict=True)]
    if force_reply:
        decisions = [replace(d, action=Action.REPLY) for d in decisions]
    replying = [
        Request(
            i,
            brand_id,
            _mention(r),
            brands[r.brand].voice,
            reply_rules(r.platform),
        )
        for i, (r, d) in enumerate(zip(requests, decisions, strict=True))
        if d.action is Action.REPLY and (brand_id := brands[r.brand].id) is not None
    ]
    adapted: dict[int | str, Adapted] = {}
    if not templates_only and isinstance(scorer, Embedder):
        adapted = (memory or ReplyMemory()).suggest(sessions, scorer, replying, threshold=threshold)
    out = []
    for i, (r, sc, d) in enumerate(zip(requests, scores, decisions, strict=True)):
        record: dict[str, Any] = {"id": r.id, "draft": None, "based_on": None, "skip_reason": None}
        if d.action is Action.SKIP_TROLL:
            why = "; ".join(x for x in d.reasons if "insult" in x or "offensive" in x)
            record["skip_reason"] = f"trolling: {why}" if why else "trolling"
        elif d.action is Action.IGNORE:
            record["skip_reason"] = "nothing to answer: no reply needed"
        elif i in adapted:
            record["draft"] = adapted[i].text
            record["based_on"] = based_on_record(adapted[i])
        else:
            try:
                drafted = draft_reply(
                    _mention(r), sc, replace(d, action=Action.REPLY), brands[r.brand].voice,
                    rules=reply_rules(r.platform),
                )  # fmt: skip
                record["draft"] = drafted.text
            except DraftingError as exc:
                record["skip_reason"] = f"no draft: {exc}"
        out.append(record)
    return out
