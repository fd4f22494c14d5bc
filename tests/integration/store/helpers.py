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
