"""The inbox counts and shows a reply as its platform will (graphemes, visibility, warnings),
and names each mention's platform: an icon and its name, and a filter listing all four."""

from __future__ import annotations

import re

from sqlalchemy import update

from brandcare.store import transaction
from brandcare.store.models import MentionRow
from brandcare.web.icons import known_icons
from listener.registry import label, live_platforms

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


PLATFORMS = {"twitter": "X", "reddit": "Reddit", "mastodon": "Mastodon", "bluesky": "Bluesky"}


def _options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="platform"[^>]*>(.*?)</select>', page, re.S)
    assert select, "no platform filter"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def test_the_platform_filter_lists_all_four_platforms_by_name_and_the_watched_others(
    site: Site,
) -> None:
    # The site's only query is a scripted source: the four real ones are listed anyway.
    options = _options(site.login("ana").get("/inbox").text)
    assert options == [
        ("", "All platforms"),
        ("bluesky", "Bluesky"),
        ("mastodon", "Mastodon"),
        ("reddit", "Reddit"),
        ("twitter", "X"),
        ("scripted", "Scripted"),
    ]


def test_each_row_shows_its_platform_as_a_hidden_icon_and_its_written_name(site: Site) -> None:
    for external_id, platform in zip(("bag", "xss", "bag2", "big"), PLATFORMS, strict=True):
        _as(site, external_id, platform=platform)
    page = site.login("ana").get("/inbox").text
    badges = re.findall(
        r'<span class="platform platform-(\w+)">(<svg[^>]*>.*?</svg>)'
        r'<span class="pname">([^<]+)</span></span>',
        page,
    )
    shown = {platform: (svg, name) for platform, svg, name in badges}
    assert set(PLATFORMS) <= set(shown)
    glyphs = set()
    for platform, name in PLATFORMS.items():
        svg, written = shown[platform]
        assert written == name  # the name is written, so no row relies on the icon alone
        assert 'aria-hidden="true"' in svg  # the written name is what is read out
        assert 'focusable="false"' in svg
        assert "style=" not in svg  # the CSP's style-src 'self' forbids inline styles
        glyphs.add(svg)
    assert len(glyphs) == 4  # a shape of its own each: told apart without colour
    # A platform added later gets a glyph too, not the generic one.
    assert {label(p) for p in live_platforms()} <= set(known_icons())


def test_the_platform_filter_narrows_the_queue_and_ignores_an_unknown_platform(
    site: Site,
) -> None:
    _as(site, "bag", platform="bluesky", author_handle="ana.bsky.social")
    _as(site, "big", platform="mastodon", author_handle="famous@other.example")
    c = site.login("ana")
    only = c.get("/inbox/rows", params={"platform": "bluesky"}).text
    assert "@ana.bsky.social" in only
    assert "famous@other.example" not in only
    assert "troll99" not in only
    none = c.get("/inbox", params={"platform": "twitter"}).text
    assert "Nothing in this lane with these filters." in none
    assert re.search(r'<option value="twitter"\s+selected', none)
    # A value no platform has is dropped, not searched for: the whole queue shows.
    odd = c.get("/inbox", params={"platform": "<script>"}).text
    assert "<script>" not in odd.split('<select name="platform"')[1].split("</select>")[0]
    assert "@ana.bsky.social" in odd
    assert "famous@other.example" in odd


def test_the_draft_page_shows_the_platforms_icon_and_name(site: Site) -> None:
    draft = _as(site, "bag", platform="bluesky", author_handle="ana.bsky.social")
    page = site.login("ana").get(f"/drafts/{draft}").text
    assert re.search(
        r'<span class="platform platform-bluesky"><svg class="picon"[^>]*aria-hidden="true"'
        r'[^>]*>.*?</svg><span class="pname">Bluesky</span></span>',
        page,
    )
