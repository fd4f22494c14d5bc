"""Plain-text views of the queue, shared by ``brandcare queue`` and the demo."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from brandcare.store.drafts import QueueEntry


def _one_line(text: str, width: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def queue_lines(entries: Iterable[QueueEntry], brands: dict[int, str]) -> Iterator[str]:
    """Each pending draft as four lines: priority and author, mention, reasons, draft."""
    for e in entries:
        level = f"{e.score.urgency_level:<6} {e.score.urgency:.2f}" if e.score else "-"
        brand = brands.get(e.mention.brand_id, str(e.mention.brand_id))
        yield (
            f"#{e.draft.id:<5} {level}  {brand}  @{e.mention.author_handle} "
            f"({e.mention.author_followers or 0} followers, {e.mention.platform})"
        )
        yield f"       mention: {_one_line(e.mention.text)}"
        if e.score and e.score.reasons:
            yield f"       why:     {'; '.join(e.score.reasons)}"
        yield f"       draft:   {_one_line(e.draft.text, 400)}"
