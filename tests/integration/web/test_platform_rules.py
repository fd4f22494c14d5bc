"""The inbox counts and shows a reply as its platform will: graphemes, visibility, warnings."""

from __future__ import annotations

from sqlalchemy import update

from brandcare.store import transaction
from brandcare.store.models import MentionRow

from .conftest import Site, csrf

FLAG = "\U0001f1fa\U0001f1e6"  # one grapheme, two code points


def _as(site: Site, external_id: str, **values: object) -> int:
    mention_id = site.mention_ids[external_id]
    with transaction(site.pipeline.sessions) as s:
        s.execute(update(MentionRow).where(MentionRow.id == mention_id).values(**values))
    return site.drafts[external_id]


def test_the_counter_counts_graphemes_and_the_address_for_bluesky(site: Site) -> None:
    draft = _as(site, "bag", platform="bluesky", author_handle="ana.bsky.social")
    c = site.login("ana")
    token = csrf(c, f"/drafts/{draft}")
    count = c.post(
        f"/drafts/{draft}/count", data={"text": FLAG * 10}, headers={"X-CSRF-Token": token}
    )
    # "@ana.bsky.social " goes in front when posted: 17 graphemes, then 10 flags.
    assert 'data-length="27"' in count.text
    assert 'data-limit="300"' in count.text


def test_a_mastodon_draft_shows_its_visibility_warning_and_the_instances_limit(site: Site) -> None:
    draft = _as(
        site,
        "bag",
        platform="mastodon",
        author_handle="ana@other.example",
        visibility="direct",
        content_warning="lost luggage",
        reply_limit=1000,
    )
    c = site.login("ana")
    page = c.get(f"/drafts/{draft}").text
    assert "Content warning: <bdi>lost luggage</bdi>" in page
    assert ">direct<" in page
    assert ">Mastodon<" in page
    assert 'data-limit="1000"' in page
