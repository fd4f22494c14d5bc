"""Seed reply memory from a care team's history: past mention -> reply pairs.

The format is one conversation per JSON line, as in
``../shared/datasets/care_conversations/dev.jsonl``: ``dialogHeader.company`` is the
brand's handle, ``dialogContent`` the posts before the reply (customers under ``client``
or ``client1``, the brand under ``agent``), ``agentURL.url_utterance`` the reply the
agent sent and ``agentURL.tweet_ID`` its post id. The customer is the one the reply
addresses (its leading @handle); the mention remembered is what that customer wrote,
in order, since a reply answers the whole exchange, not only its last post.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from brandcare.contracts import parse_requests
from brandcare.store import memory as store
from brandcare.store.models import BrandRow, QueryRow

CONVERSATION_SHAPE = (
    '{"dialogHeader": {"company": ...}, "dialogContent": [{"client"|"agent": ..., '
    '"message": ..., "datetime": ...}], "agentURL": {"url_utterance": ..., "tweet_ID": ...}}'
)


class _Post(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    client: str | None = None
    client1: str | None = None
    agent: str | None = None
    message: str
    datetime: str | None = None
    tweet_id: str | None = Field(default=None, alias="tweet_ID")

    @property
    def author(self) -> str | None:
        return self.client or self.client1


class _Header(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    company: str = Field(min_length=1)
    conversation_at: str | None = Field(default=None, alias="conversationDateTime")
    session_id: str | None = Field(default=None, alias="sessionID")


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    text: str = Field(min_length=1, alias="url_utterance")
    tweet_id: str | None = Field(default=None, alias="tweet_ID")


class ConversationLine(BaseModel):
    """One line of a conversations file."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    header: _Header = Field(alias="dialogHeader")
    posts: list[_Post] = Field(alias="dialogContent", min_length=1)
    reply: _Reply = Field(alias="agentURL")


@dataclass(frozen=True, slots=True)
class Conversation:
    """A past mention and the reply the brand sent, ready to remember."""

    company: str
    ref: str
    author: str
    text: str
    reply: str
    at: dt.datetime | None
    url: str | None


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def conversation(line: ConversationLine) -> Conversation | None:
    """The mention -> reply pair of one conversation; None when no customer wrote in it."""
    customers = [p for p in line.posts if p.author and not p.agent]
    if not customers:
        return None
    lead = re.match(r"\s*@(\w{1,40})", line.reply.text)
    addressed = lead.group(1).lower() if lead else ""
    theirs = [p for p in customers if (p.author or "").lower() == addressed] or [customers[-1]]
    author = theirs[-1].author or ""
    last = theirs[-1]
    url = f"https://twitter.com/{author}/status/{last.tweet_id}" if last.tweet_id else None
    ref = line.reply.tweet_id or line.header.session_id or ""
    if not ref:
        return None
    return Conversation(
        company=line.header.company,
        ref=ref,
        author=author,
        text="\n".join(p.message for p in theirs),
        reply=line.reply.text,
        at=_time(last.datetime) or _time(line.header.conversation_at),
        url=url,
    )


def load(lines: Iterable[str]) -> list[Conversation | None]:
    """Every line as a pair (None where it holds no customer post); raises
    ``scoring_io.MalformedInputError`` naming bad lines, before anything is stored."""
    return [conversation(c) for c in parse_requests(lines, ConversationLine, CONVERSATION_SHAPE)]


def load_file(path: Path) -> list[Conversation | None]:
    """``load`` on a UTF-8 file."""
    with path.open(encoding="utf-8", errors="strict") as fh:
        return load(fh)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def brand_index(session: Session) -> dict[str, int]:
    """Brand ids by every name a history may call them: slug, name, and the handles and
    terms of their queries (``@SkywayAir``), compared without case or punctuation."""
    index: dict[str, int] = {}
    for query in session.scalars(select(QueryRow)):
        for term in re.findall(r"@?(\w{2,40})", query.terms):
            index.setdefault(_key(term), query.brand_id)
    for brand in session.scalars(select(BrandRow)):
        index[_key(brand.name)] = brand.id
        index[_key(brand.slug)] = brand.id
    return index


def find_brand(index: dict[str, int], company: str) -> int | None:
    """The brand a history's company handle names, if any."""
    return index.get(_key(company))


@dataclass
class ImportReport:
    """What an import did, per company: remembered, already there, skipped and why."""

    stored: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)
    created_brands: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The report in words, one line per company and reason."""
        out = [
            f"{company}: {self.stored.get(company, 0)} remembered, "
            f"{self.already.get(company, 0)} already there"
            for company in sorted(set(self.stored) | set(self.already))
        ]
        out += [f"created brand {c}" for c in self.created_brands]
        out += [f"skipped {n}: {why}" for why, n in sorted(self.skipped.items())]
        return out


def import_conversations(
    session: Session,
    conversations: Sequence[Conversation | None],
    *,
    brand: str | None = None,
    create_brands: bool = False,
    platform: str = "twitter",
) -> ImportReport:
    """Remember the pairs under their brands (or all under ``brand``, a slug).

    A company naming no brand is skipped unless ``create_brands`` (slug and name from the
    handle: set the voice later with ``brandcare setup``). Pairs already remembered stay
    as they are, so importing the same file twice stores it once.
    """
    report = ImportReport()
    index = brand_index(session)
    forced: int | None = None
    if brand is not None:
        forced = session.scalars(select(BrandRow.id).where(BrandRow.slug == brand)).first()
        if forced is None:
            raise LookupError(f"no brand {brand!r}: create it with `brandcare setup` first")
    by_brand: dict[tuple[int, str], list[store.MemoryRecord]] = {}
    for item in conversations:
        if item is None:
            report.skipped["no customer post in the conversation"] = (
                report.skipped.get("no customer post in the conversation", 0) + 1
            )
            continue
        brand_id = forced if forced is not None else find_brand(index, item.company)
        if brand_id is None and create_brands:
            brand_id = _create_brand(session, item.company)
            index[_key(item.company)] = brand_id
            report.created_brands.append(item.company)
        if brand_id is None:
            why = f"no brand for {item.company} (use --create-brands or --brand SLUG)"
            report.skipped[why] = report.skipped.get(why, 0) + 1
            continue
        by_brand.setdefault((brand_id, item.company), []).append(
            store.MemoryRecord(
                brand_id=brand_id,
                source="imported",
                source_ref=item.ref,
                mention_text=item.text,
                reply_text=item.reply,
                author_handle=item.author,
                platform=platform,
                url=item.url,
                mentioned_at=item.at,
            )
        )
    for (_, company), records in by_brand.items():
        new = store.remember(session, records)
        report.stored[company] = report.stored.get(company, 0) + new
        report.already[company] = report.already.get(company, 0) + len(records) - new
    return report


def _create_brand(session: Session, company: str) -> int:
    slug = re.sub(r"[^a-z0-9]+", "-", company.lower()).strip("-")[:64] or "brand"
    row = BrandRow(slug=slug, name=company, voice={}, alerting={})
    session.add(row)
    session.flush()
    return row.id


def as_json(item: Conversation) -> dict[str, Any]:
    """A pair as a ``brandcare draft`` input line (what the bench feeds the drafters)."""
    return {
        "id": item.ref,
        "text": item.text,
        "brand": item.company,
        "author": item.author,
        "platform": "twitter",
    }
