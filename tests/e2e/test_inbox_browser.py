"""An agent's day in a real browser: sign in, work the queue by keyboard, stay safe."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import update

from brandcare.store import transaction
from brandcare.store.models import MentionRow
from tests.integration.web.conftest import PASSWORD, XSS_TEXT


def _sign_in(page, base: str, username: str = "ana") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/inbox")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/inbox")


def test_an_agent_approves_a_draft_with_the_keyboard(browser, served, output_dir: Path) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _sign_in(page, base)
    page.screenshot(path=str(output_dir / "inbox.png"), full_page=True)
    first = page.locator("#queue-table tr.row").first.get_attribute("data-draft")
    page.keyboard.press("j")
    assert page.locator("tr.row.selected").get_attribute("data-draft") == first
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/drafts/{first}")
    page.screenshot(path=str(output_dir / "draft.png"), full_page=True)
    page.keyboard.press("a")
    page.wait_for_url("**done=approved")
    assert "Approved: the reply is on its way." in page.inner_text(".notice")
    assert site.sent == [int(first)]
    assert site.draft_state(int(first)) == "approved"


def test_an_edit_past_the_limit_shows_the_count_and_the_error(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    page = browser.new_page()
    _sign_in(page, base)
    draft = site.drafts["bag"]
    page.goto(f"{base}/drafts/{draft}")
    page.keyboard.press("e")
    page.fill("#reply", "We are so sorry about your bag. " * 10)
    page.wait_for_selector("#count.over")  # the live count, as the platform counts
    assert "over the limit" in page.inner_text("#count")
    page.click("#approve")
    page.wait_for_selector("#error")
    assert "the limit is 280" in page.inner_text("#error")
    assert site.sent == []
    assert site.draft_state(draft) == "pending"


def test_a_script_in_a_mention_renders_as_text(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, base)
    page.goto(f"{base}/drafts/{site.drafts['xss']}")
    assert page.inner_text("#mention-text") == XSS_TEXT
    assert page.locator("#mention-text img, #mention-text script").count() == 0
    page.goto(f"{base}/inbox?q=refund")
    assert "<script>alert('xss')</script>" in page.inner_text("#queue-table")
    page.wait_for_timeout(300)
    assert dialogs == []


def test_the_queue_updates_without_a_reload(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    page = browser.new_page()
    _sign_in(page, base)
    rows = page.locator("#queue-table tr.row")
    before = rows.count()
    other = site.login("ben")
    token = other.get("/inbox").text.split('name="csrf-token" content="')[1].split('"')[0]
    other.post(f"/drafts/{site.drafts['big']}/reject", data={"csrf_token": token, "reason": "dup"})
    expect(rows).to_have_count(before - 1, timeout=12_000)  # HTMX polls every 5 s
    assert page.url == f"{base}/inbox"  # no navigation happened


def test_each_row_names_its_platform_with_an_icon_the_reader_skips(  # type: ignore[no-untyped-def]
    browser, served, output_dir: Path
) -> None:
    site, base = served
    for external_id, platform in (("bag", "bluesky"), ("big", "mastodon"), ("bag2", "reddit")):
        mention_id = site.mention_ids[external_id]
        with transaction(site.pipeline.sessions) as s:
            s.execute(
                update(MentionRow).where(MentionRow.id == mention_id).values(platform=platform)
            )
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, base)
    row = page.locator(f'tr.row[data-draft="{site.drafts["bag"]}"]')
    badge = row.locator(".platform-bluesky")
    expect(badge).to_have_text("Bluesky")  # written out, not left to the icon or a colour
    icon = badge.locator("svg.picon")
    box = icon.bounding_box()
    assert box is not None
    assert 10 <= box["width"] <= 16
    assert 10 <= box["height"] <= 16
    # The accessibility tree has the name once: the icon is hidden, the text is read.
    assert row.locator("td.author").aria_snapshot().count("Bluesky") == 1
    options = page.locator("select[name=platform] option").all_inner_texts()
    assert options[:5] == ["All platforms", "Bluesky", "Mastodon", "Reddit", "X"]
    page.select_option("select[name=platform]", "mastodon")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**platform=mastodon**")
    assert page.locator("#queue-table tr.row").count() == 1
    expect(page.locator("#queue-table .platform-mastodon")).to_have_text("Mastodon")
    page.screenshot(path=str(output_dir / "inbox-platforms.png"))
    assert not [e for e in errors if "Content Security Policy" in e]  # nothing inline refused
