"""The draft page says which remembered reply a draft was adapted from, with a link."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from brandcare.agents import users
from brandcare.store import memory as store
from brandcare.store import transaction
from brandcare.store.models import BrandRow, DraftRow, ReplyMemoryRow
from tests.integration.web.conftest import Site


def _remember(site: Site, ref: str, **fields: object) -> int:
    with transaction(site.pipeline.sessions) as s:
        brand_id = s.scalars(select(BrandRow.id)).one()
        store.remember(s, [store.MemoryRecord(
            brand_id=brand_id, source=str(fields.pop("source", "approved")), source_ref=ref,
            mention_text="my bag is lost", reply_text="So sorry, file a report here.",
            author_handle="kim_t", platform="twitter",
            mentioned_at=dt.datetime(2020, 5, 3, 9, 0, tzinfo=dt.UTC), **fields,  # type: ignore[arg-type]
        )])  # fmt: skip
        return s.scalars(select(ReplyMemoryRow.id).where(ReplyMemoryRow.source_ref == ref)).one()


def _based_on(site: Site, draft: str, memory_id: int) -> None:
    with transaction(site.pipeline.sessions) as s:
        s.execute(update(DraftRow).where(DraftRow.id == site.drafts[draft]).values(
            based_on=memory_id))  # fmt: skip


def test_the_inbox_shows_the_reply_a_draft_was_adapted_from(site: Site) -> None:
    earlier = site.drafts["bag"]
    sent = _remember(site, f"draft:{earlier}", draft_id=earlier)
    _based_on(site, "bag2", sent)
    imported = _remember(site, "t-99", source="imported", url="https://twitter.com/kim_t/status/99")
    _based_on(site, "big", imported)
    c = site.login("ana")
    page = c.get(f"/drafts/{site.drafts['bag2']}").text
    assert "Adapted from" in page
    assert f'<a href="/drafts/{earlier}">the reply to <bdi>@kim_t</bdi></a> on 3 May 2020' in page
    assert "sent from the inbox" in page
    other = c.get(f"/drafts/{site.drafts['big']}").text
    assert 'href="https://twitter.com/kim_t/status/99"' in other
    assert "imported history" in other
    plain = c.get(f"/drafts/{site.drafts['xss']}").text
    assert "Adapted from" not in plain
    with transaction(site.pipeline.sessions) as s:
        token = users.issue_token(s, "ana")
    api = site.client().get(
        f"/api/v1/drafts/{site.drafts['bag2']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.json()["based_on"] == sent
