"""Issue 17 in a real browser: the inbox on a long shift, at a desk and on a phone.

Lost work after a session ends, the cursor of ``e``, claims on intent, the API docs
under our CSP, the phone layout at 390 x 844, density at 1400 px (screenshots kept in
``build/test-output``, or in ``docs/screenshots`` for the README and docs/inbox.md with
``BRANDCARE_TEST_OUTPUT=docs/screenshots``), long posts, and axe-core's accessibility check.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from brandcare.store import transaction
from brandcare.store.models import DraftRow, MentionRow, UserRow, WebSessionRow
from listener.fake import make_mention
from tests.conftest import unavailable
from tests.integration.web import conftest as web
from tests.integration.web.conftest import PASSWORD, Site

DESK = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
SAMPLE = Path(__file__).parents[2] / "brandcare" / "samples" / "demo_mentions.jsonl"


def _sign_in(page, base: str, username: str = "ana") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/inbox")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/inbox")


def _claim_of(site: Site, draft: int) -> str | None:
    with transaction(site.pipeline.sessions) as s:
        row = s.get(DraftRow, draft)
        assert row is not None
        live = row.claimed_until is not None and row.claimed_until > dt.datetime.now(dt.UTC)
        return row.claimed_by if live else None


def _eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _no_horizontal_scroll(page) -> int:  # type: ignore[no-untyped-def]
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"
    return width


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> tuple[Site, str]:
    """The inbox with 40 more pending drafts from the demo's sample (one brand)."""
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    extra = [
        make_mention(
            f"s-{i}",
            row["text"],
            handle=row["author"],
            followers=row.get("followers", 100),
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5 * i),
        )
        for i, row in enumerate(x for x in lines if x["brand"] == "skyway")
        if i < 40
    ]
    base = web.mentions
    monkeypatch.setattr(web, "mentions", lambda: [*base(), *extra])
    served: tuple[Site, str] = request.getfixturevalue("served")
    return served


@pytest.fixture(scope="session")
def axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        unavailable("axe-playwright-python is not installed (pip install -e '.[dev]')")
    assert spec is not None
    assert spec.origin is not None
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


def _axe(page, source: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page as it is (CSP unchanged:
    the engine runs through the DevTools protocol, not as a page script)."""
    page.evaluate(source)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _report(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
    )


# --- 3. an expired session during an approve -----------------------------------------------


def test_an_edit_survives_a_session_that_ends_before_approve(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    page = browser.new_page(viewport=DESK)
    _sign_in(page, base)
    draft = site.drafts["bag"]
    page.goto(f"{base}/drafts/{draft}")
    original = page.input_value("#reply")
    page.keyboard.press("e")
    page.keyboard.type(" Typed before lunch.")
    with transaction(site.pipeline.sessions) as s:  # away from the desk past the timeout
        uid = s.scalars(select(UserRow.id).where(UserRow.username == "ana")).one()
        s.execute(
            update(WebSessionRow)
            .where(WebSessionRow.user_id == uid)
            .values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
        )
    page.click("#approve")
    page.wait_for_url("**/login?next=%2Fdrafts%2F*")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/drafts/{draft}")  # the draft, not a GET on /approve (405)
    assert page.input_value("#reply") == original + " Typed before lunch."
    assert page.is_visible("#restored")
    assert "Nothing was sent" in page.inner_text("#restored")
    assert site.sent == []
    assert site.draft_state(draft) == "pending"
    page.click("#approve")  # the second, deliberate click sends it
    page.wait_for_url("**done=approved")
    assert site.sent == [draft]


# --- 8 and 9. claims on intent; "e" types at the end -------------------------------------------


def test_e_edits_at_the_end_and_starting_to_edit_takes_the_draft(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    page = browser.new_page(viewport=DESK)
    _sign_in(page, base)
    draft = site.drafts["bag"]
    page.goto(f"{base}/drafts/{draft}")
    original = page.input_value("#reply")
    assert _claim_of(site, draft) is None  # reading claims nothing
    page.keyboard.press("e")
    page.keyboard.type("x")
    assert page.input_value("#reply") == original + "x"  # never "xHi @..."
    assert _eventually(lambda: _claim_of(site, draft) == "ana")
    # A colleague reading it now sees it held, and cannot act.
    other = browser.new_page(viewport=DESK)
    _sign_in(other, base, "ben")
    other.goto(f"{base}/drafts/{draft}")
    assert "Held by ana" in other.inner_text("#held")
    assert other.locator("#approve").count() == 0


def test_a_claim_lost_to_a_colleague_disables_the_actions(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    draft = site.drafts["bag"]
    page = browser.new_page(viewport=DESK)
    _sign_in(page, base)
    page.goto(f"{base}/drafts/{draft}")
    ben = site.login("ben")  # takes it while ana is still reading
    token = ben.get("/inbox").text.split('name="csrf-token" content="')[1].split('"')[0]
    ben.post(f"/drafts/{draft}/claim", data={"csrf_token": token})
    page.keyboard.press("e")
    page.wait_for_selector("#claim-lost:not([hidden])")
    assert "ben took this draft" in page.inner_text("#claim-lost")
    assert page.is_disabled("#approve")


# --- 4. /api/docs ----------------------------------------------------------------------------


def test_the_api_docs_render_under_our_csp(browser, served) -> None:  # type: ignore[no-untyped-def]
    _, base = served
    page = browser.new_page(viewport=DESK)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda e: refused.append(str(e)))
    page.goto(f"{base}/api/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 8
    assert page.is_visible("button.authorize")  # the bearer token's "Authorize"
    assert refused == []


# --- 5. the phone ------------------------------------------------------------------------------


def test_an_agent_on_call_reads_edits_approves_and_rejects_on_a_phone(  # type: ignore[no-untyped-def]
    browser, served, output_dir: Path
) -> None:
    site, base = served
    page = browser.new_page(viewport=PHONE)
    _sign_in(page, base)
    _no_horizontal_scroll(page)
    topbar = page.locator(".topbar").bounding_box()
    assert topbar is not None
    assert topbar["height"] < 80, f"the top bar is {topbar['height']} px: more than two lines"
    for lane in page.locator(".lane").all():  # every lane tab in view, none cut
        box = lane.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    first = page.locator("#queue-table tr.row").first
    box = first.bounding_box()
    assert box is not None
    assert box["width"] <= PHONE["width"]
    page.screenshot(path=str(output_dir / "phone-inbox.png"), full_page=True)
    draft = site.drafts["bag"]
    page.goto(f"{base}/drafts/{draft}")
    _no_horizontal_scroll(page)
    assert page.is_visible("#mention-text")
    page.screenshot(path=str(output_dir / "phone-draft.png"), full_page=True)
    page.fill("#reply", "So sorry about your bag! Please DM us your file reference.")
    page.click("#approve")
    page.wait_for_url("**done=approved")
    assert site.sent == [draft]
    other = site.drafts["bag2"]
    page.goto(f"{base}/drafts/{other}")
    page.fill("#reject-reason", "answered in the other thread")
    page.click("#reject")
    page.wait_for_url("**done=rejected")
    assert site.draft_state(other) == "rejected"


# --- screenshots, density, long posts, accessibility ------------------------------------


def test_screenshots_at_1400_and_390_and_rows_per_screen(  # type: ignore[no-untyped-def]
    browser, busy, output_dir: Path
) -> None:
    site, base = busy
    page = browser.new_page(viewport=DESK)
    _sign_in(page, base)
    rows = page.evaluate(
        """() => [...document.querySelectorAll('#queue-table tr.row')]
             .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )
    print(f"rows per screen at 1400x900: {rows}")
    page.screenshot(path=str(output_dir / "desk-inbox.png"))
    assert rows >= 10, f"only {rows} rows fit a 1400x900 screen"
    page.goto(f"{base}/drafts/{site.drafts['bag']}")
    page.screenshot(path=str(output_dir / "desk-draft.png"))
    phone = browser.new_page(viewport=PHONE)
    _sign_in(phone, base)
    width = _no_horizontal_scroll(phone)
    print(f"inbox width at 390: {width} px")
    phone.screenshot(path=str(output_dir / "phone-inbox-busy.png"))
    phone.goto(f"{base}/drafts/{site.drafts['bag']}")
    _no_horizontal_scroll(phone)
    # The admin page, where each user's API token shows its scopes.
    for viewport, name in ((DESK, "desk-admin.png"), (PHONE, "phone-admin.png")):
        admin = browser.new_page(viewport=viewport)
        _sign_in(admin, base, "root")
        admin.goto(f"{base}/admin")
        assert admin.is_visible("#users")
        admin.screenshot(path=str(output_dir / name), full_page=True)


def test_a_very_long_post_leaves_state_and_actions_in_view(browser, served) -> None:  # type: ignore[no-untyped-def]
    site, base = served
    draft = site.drafts["bag"]
    with transaction(site.pipeline.sessions) as s:
        s.execute(
            update(MentionRow)
            .where(MentionRow.id == site.mention_ids["bag"])
            .values(text="my bag is lost and nobody answers. " * 286)  # ~10,000 characters
        )
    page = browser.new_page(viewport=DESK)
    _sign_in(page, base)
    page.goto(f"{base}/drafts/{draft}")
    for selector in ("#status", "#approve", "#reject"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= DESK["height"], f"{selector} is out of view"
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    box = page.locator("#status").bounding_box()  # at the bottom, the state is still on top
    assert box is not None
    assert 0 <= box["y"] < 100


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["1400", "390"])
def test_no_serious_accessibility_violations(browser, busy, axe_source: str, viewport) -> None:  # type: ignore[no-untyped-def]
    site, base = busy
    page = browser.new_page(viewport=viewport)
    _sign_in(page, base)
    found = _axe(page, axe_source)
    assert found == [], "inbox:\n" + _report(found)
    page.goto(f"{base}/drafts/{site.drafts['bag']}")
    found = _axe(page, axe_source)
    assert found == [], "draft:\n" + _report(found)
    page.goto(f"{base}/inbox?lane=skipped")
    found = _axe(page, axe_source)
    assert found == [], "skipped lane:\n" + _report(found)
