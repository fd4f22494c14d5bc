"""Values the store tests build: mentions as a listener source returns them."""

from __future__ import annotations

import datetime as dt

from listener.base import Author, Mention

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def mention(
    external_id: str,
    text: str = "my bag is lost",
    *,
    followers: int | None = 100,
    minutes: int = 0,
    platform: str = "twitter",
) -> Mention:
    """A listener Mention, as a source would return it."""
    return Mention(
        platform=platform,
        external_id=external_id,
        text=text,
        author=Author(id=f"u{external_id}", handle=f"user{external_id}", followers=followers),
        created_at=T0 + dt.timedelta(minutes=minutes),
        url=f"https://x.com/i/status/{external_id}",
        conversation_id=f"c{external_id}",
        raw={"id": external_id, "text": text},
    )


def add_scored(
    session,  # type: ignore[no-untyped-def]
    brand_id: int,
    rows: list[tuple[dt.datetime, str, str]],
    *,
    followers: int = 100,
    prefix: str = "m",
    text: str = "@brand my bag is lost and nobody answers",
    platform: str = "twitter",
) -> list[int]:
    """Mentions with one score each, inserted in bulk: (created_at, sentiment, issue)."""
    from sqlalchemy import insert, select

    from brandcare.store.models import MentionRow, ScoreRow

    start = session.scalar(select(MentionRow.id).order_by(MentionRow.id.desc()).limit(1)) or 0
    ids = list(range(start + 1, start + 1 + len(rows)))
    session.execute(
        insert(MentionRow),
        [
            {
                "id": i, "brand_id": brand_id, "platform": platform,
                "external_id": f"{prefix}{i}", "author_id": f"u{i % 50}",
                "author_handle": f"user{i % 50}", "author_followers": followers + i,
                "text": text, "url": f"https://x.com/i/status/{prefix}{i}",
                "created_at": when, "state": "scored", "raw": {},
            }
            for i, (when, _, _) in zip(ids, rows, strict=True)
        ],
    )  # fmt: skip
    session.execute(
        insert(ScoreRow),
        [
            {
                "mention_id": i, "model_version": "test", "sentiment": sentiment,
                "prob_negative": 0.9 if sentiment == "negative" else 0.05,
                "prob_neutral": 0.05, "prob_positive": 0.05, "urgency": 0.5,
                "urgency_level": "medium", "needs_reply": True, "needs_reply_prob": 0.9,
                "troll": False, "troll_prob": 0.01, "issue": issue, "reasons": [],
            }
            for i, (_, sentiment, issue) in zip(ids, rows, strict=True)
        ],
    )  # fmt: skip
    return ids
