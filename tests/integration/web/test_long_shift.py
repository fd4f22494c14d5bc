"""Issue 17 over HTTP: what an agent on an eight-hour shift hit in the inbox.

Spoofed names, sessions kept alive by the page itself, work lost to an expired session,
claims taken by reading and reported released when they were not, everyone sent to the
same next draft, and the small things (HEAD, malformed paths, admin tables, undo).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update

from brandcare.store import transaction
from brandcare.store.models import (
    BrandRow,
    CorrectionRow,
    DraftRow,
    EventRow,
    MentionRow,
    QueryRow,
    ScoreRow,
    UserRow,
    WebSessionRow,
)
from tests.integration.web.conftest import Site, csrf

SPOOF_HANDLE = "rtl\u202enimda\u202c"
SPOOF_NAME = "\u202etroppuS laiciffO ocliveE\u202c"


def _claim_of(site: Site, draft: int) -> str | None:
    with transaction(site.pipeline.sessions) as s:
        row = s.get(DraftRow, draft)
        assert row is not None
        if row.claimed_until is None or row.claimed_until <= dt.datetime.now(dt.UTC):
            return None
        return row.claimed_by


def _session_of(site: Site, username: str) -> WebSessionRow:
    with transaction(site.pipeline.sessions) as s:
        uid = s.scalars(select(UserRow.id).where(UserRow.username == username)).one()
        row = s.scalars(select(WebSessionRow).where(WebSessionRow.user_id == uid)).one()
        s.expunge(row)
        return row


def _set_last_seen(site: Site, username: str, ago: dt.timedelta) -> dt.datetime:
    when = dt.datetime.now(dt.UTC) - ago
    with transaction(site.pipeline.sessions) as s:
        uid = s.scalars(select(UserRow.id).where(UserRow.username == username)).one()
        s.execute(
            update(WebSessionRow).where(WebSessionRow.user_id == uid).values(last_seen_at=when)
        )
    return when


# --- 1. bidi ---------------------------------------------------------------------------


def test_direction_controls_in_a_handle_or_name_are_shown_and_isolated(site: Site) -> None:
    draft = site.drafts["bag"]
    with transaction(site.pipeline.sessions) as s:
        s.execute(
            update(MentionRow)
            .where(MentionRow.id == site.mention_ids["bag"])
            .values(author_handle=SPOOF_HANDLE, author_name=SPOOF_NAME)
        )
    c = site.login("ana")
    for page in (c.get("/inbox").text, c.get(f"/drafts/{draft}").text):
        # No raw override reaches the page: it would reverse what follows it.
        assert "\u202e" not in page
        assert "\u202c" not in page
        assert re.search(r'<bdi class="handle"[^>]*>@rtl\[U\+202E\]nimda\[U\+202C\]</bdi>', page)
        assert "@rtladmin" not in page
    page = c.get(f"/drafts/{draft}").text
    assert '<bdi class="name">[U+202E]troppuS laiciffO ocliveE[U+202C]</bdi>' in page
    # The "to @... on X" line of the editor too.
    assert 'to <bdi class="handle">@rtl[U+202E]nimda[U+202C]</bdi> on' in page


# --- 2. the idle timeout ---------------------------------------------------------------


def test_the_queue_refresh_does_not_keep_an_idle_session_alive(site: Site) -> None:
    c = site.login("ana")
    hx = {"HX-Request": "true", "HX-Current-URL": "https://testserver/inbox?lane=pending"}
    seen = _set_last_seen(site, "ana", dt.timedelta(minutes=30))
    assert c.get("/inbox/rows", headers=hx).status_code == 200
    assert abs(_session_of(site, "ana").last_seen_at - seen) < dt.timedelta(seconds=1)
    # Past the idle timeout (60 min by default) the refresh itself signs the desk out,
    # and the login brings the agent back to the page, not to the fragment.
    _set_last_seen(site, "ana", dt.timedelta(minutes=61))
    r = c.get("/inbox/rows", headers=hx, follow_redirects=False)
    assert r.status_code == 401
    assert r.headers["HX-Redirect"] == "/login?next=%2Finbox%3Flane%3Dpending"
    # A person at the desk (a page load) does count as activity.
    d = site.login("ben")
    seen = _set_last_seen(site, "ben", dt.timedelta(minutes=30))
    assert d.get("/inbox").status_code == 200
    assert _session_of(site, "ben").last_seen_at - seen > dt.timedelta(minutes=29)


# --- 3. an expired session during an approve -------------------------------------------


def test_an_approve_after_the_session_ended_returns_to_the_draft_and_sends_nothing(
    site: Site,
) -> None:
    c = site.login("ana")
    draft = site.drafts["bag"]
    token = csrf(c, f"/drafts/{draft}")
    _set_last_seen(site, "ana", dt.timedelta(hours=2))  # idle past the timeout
    r = c.post(
        f"/drafts/{draft}/approve",
        data={"csrf_token": token, "text": "Typed before lunch"},
        headers={"Referer": f"https://testserver/drafts/{draft}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fdrafts%2F{draft}"
    # Without a Referer the draft's page is still where it goes.
    r = c.post(f"/drafts/{draft}/approve", data={"csrf_token": token}, follow_redirects=False)
    assert r.headers["location"] == f"/login?next=%2Fdrafts%2F{draft}"
    # An old link to the action URL lands on the draft, never a GET on the action (405).
    form = c.get(f"/login?next=/drafts/{draft}/approve").text
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert login_token
    r = c.post(
        "/login",
        data={
            "username": "ana",
            "password": "correct horse battery",
            "csrf_token": login_token.group(1),
            "next": f"/drafts/{draft}/approve",
        },
    )
    assert r.status_code == 200
    assert r.url.path == f"/drafts/{draft}"
    assert site.sent == []
    assert site.draft_state(draft) == "pending"


# --- 4. /api/docs ------------------------------------------------------------------------


def test_the_api_docs_are_served_from_here_without_inline_scripts(site: Site) -> None:
    c = site.client()
    page = c.get("/api/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts
    assert all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert "cdn" not in page.text.lower()
    for asset in re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', page.text):
        got = c.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 10_000, asset
    spec = c.get("/api/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["token"].items()
    assert {"token": []} in spec["paths"]["/api/v1/drafts/{draft_id}/approve"]["post"]["security"]


# --- 6. release ------------------------------------------------------------------------


def test_releasing_someone_elses_claim_is_refused_and_says_so(site: Site) -> None:
    ana, ben = site.login("ana"), site.login("ben")
    draft = site.drafts["bag"]
    ana.post(f"/drafts/{draft}/claim", data={"csrf_token": csrf(ana)})
    assert _claim_of(site, draft) == "ana"
    r = ben.post(f"/drafts/{draft}/release", data={"csrf_token": csrf(ben)})
    assert r.status_code == 409
    assert "not released: ana holds this draft" in r.text
    assert "Released: another agent can take it" not in r.text
    assert _claim_of(site, draft) == "ana"
    # Releasing a draft nobody holds says there was nothing to release.
    other = site.drafts["bag2"]
    r = ben.post(f"/drafts/{other}/release", data={"csrf_token": csrf(ben)})
    assert "Nothing to release" in r.text
    # The holder's own release works, and is reported.
    r = ana.post(f"/drafts/{draft}/release", data={"csrf_token": csrf(ana)})
    assert "Released: another agent can take it" in r.text
    assert _claim_of(site, draft) is None


# --- 7. "Next" -------------------------------------------------------------------------


def test_two_agents_finishing_at_once_are_sent_to_different_drafts_each_held(site: Site) -> None:
    ana, ben = site.login("ana"), site.login("ben")
    a_token, b_token = csrf(ana), csrf(ben)
    # Both act before either follows the redirect: the moment the bug needed.
    a = ana.post(
        f"/drafts/{site.drafts['bag']}/reject",
        data={"csrf_token": a_token, "reason": "dup"},
        follow_redirects=False,
    )
    b = ben.post(
        f"/drafts/{site.drafts['bag2']}/reject",
        data={"csrf_token": b_token, "reason": "dup"},
        follow_redirects=False,
    )
    a_next = int(re.findall(r"/drafts/(\d+)", a.headers["location"])[0])
    b_next = int(re.findall(r"/drafts/(\d+)", b.headers["location"])[0])
    assert a_next != b_next
    assert _claim_of(site, a_next) == "ana"
    assert _claim_of(site, b_next) == "ben"
    # "Next draft" skips both held drafts for a third agent's request, and claims.
    ana.post(f"/drafts/{a_next}/release", data={"csrf_token": a_token})
    r = ben.post("/drafts/next", data={"csrf_token": b_token, "after": b_next})
    assert r.url.path == f"/drafts/{a_next}"
    assert _claim_of(site, a_next) == "ben"


# --- 8. claims on intent -----------------------------------------------------------------


def test_reading_a_draft_claims_nothing_taking_it_does(site: Site) -> None:
    draft = site.drafts["bag"]
    ana, root, mia = site.login("ana"), site.login("root"), site.login("mia")
    for who in (ana, root, mia):
        assert who.get(f"/drafts/{draft}").status_code == 200
    assert _claim_of(site, draft) is None
    # A viewer who cannot approve cannot claim.
    assert mia.post(f"/drafts/{draft}/claim", data={"csrf_token": csrf(mia)}).status_code == 403
    # The page's script claims when the agent starts editing: 204, then 409 for a second.
    ajax = {"X-Requested-With": "fetch"}
    r = ana.post(
        f"/drafts/{draft}/claim", headers=ajax | {"X-CSRF-Token": csrf(ana)}, follow_redirects=False
    )
    assert r.status_code == 204
    assert _claim_of(site, draft) == "ana"
    r = root.post(
        f"/drafts/{draft}/claim",
        headers=ajax | {"X-CSRF-Token": csrf(root)},
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert "ana took this draft" in r.text
    page = root.get(f"/drafts/{draft}").text
    assert "Held by <b><bdi>ana</bdi></b>" in page
    assert 'id="approve"' not in page
    # Saving an edit holds the draft too (no script needed).
    other = site.drafts["bag2"]
    root.post(f"/drafts/{other}/save", data={"csrf_token": csrf(root), "text": "Sorry! DM us"})
    assert _claim_of(site, other) == "root"


# --- design: ties, held rows, the skipped lane --------------------------------------------


def test_a_visible_tie_in_urgency_is_broken_by_reach_and_held_drafts_sink(site: Site) -> None:
    bag, bag2 = site.drafts["bag"], site.drafts["bag2"]
    with transaction(site.pipeline.sessions) as s:
        s.execute(update(ScoreRow).values(urgency=0.5))
        s.execute(
            update(ScoreRow)
            .where(ScoreRow.mention_id == site.mention_ids["bag"])
            .values(urgency=0.999)
        )
        s.execute(
            update(ScoreRow)
            .where(ScoreRow.mention_id == site.mention_ids["bag2"])
            .values(urgency=0.996)
        )
        s.execute(
            update(MentionRow)
            .where(MentionRow.id == site.mention_ids["bag"])
            .values(author_followers=48)
        )
        s.execute(
            update(MentionRow)
            .where(MentionRow.id == site.mention_ids["bag2"])
            .values(author_followers=145)
        )
    ana, ben = site.login("ana"), site.login("ben")
    order = [int(i) for i in re.findall(r'data-draft="(\d+)"', ana.get("/inbox").text)]
    assert order[:2] == [bag2, bag]  # both show "1.00": 145 followers before 48
    ben.post(f"/drafts/{bag2}/claim", data={"csrf_token": csrf(ben)})
    page = ana.get("/inbox").text
    order = [int(i) for i in re.findall(r'data-draft="(\d+)"', page)]
    assert order[0] == bag
    assert order[-1] == bag2
    assert re.search(rf'class="row held-other" data-href="/drafts/{bag2}"', page)
    skipped = ana.get("/inbox", params={"lane": "skipped"}).text
    assert "SLA" not in skipped  # no reply is intended there


# --- 10. the small things ----------------------------------------------------------------


def test_head_and_options_on_pages(site: Site) -> None:
    c = site.login("ana")
    head = c.head("/inbox")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"].startswith("text/html")
    options = c.options("/inbox")
    assert options.status_code == 204
    assert set(options.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    allow = c.options(f"/drafts/{site.drafts['bag']}/approve").headers["allow"]
    assert set(allow.split(", ")) == {"POST", "OPTIONS"}
    assert c.options("/no/such/page").status_code == 404


def test_a_malformed_draft_path_is_an_html_404_not_json(site: Site) -> None:
    c = site.login("ana")
    r = c.get("/drafts/abc")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Back to the inbox" in r.text
    api = c.get("/api/v1/drafts/abc", headers={"Authorization": "Bearer nope"})
    assert api.headers["content-type"].startswith("application/json")


def test_the_admin_tables_say_brand_and_status_and_disabling_needs_a_confirmation(
    site: Site,
) -> None:
    root = site.login("root")
    with transaction(site.pipeline.sessions) as s:
        brand = s.scalars(select(BrandRow.name)).first()
        assert s.scalars(select(QueryRow)).first() is not None
    page = root.get("/admin").text
    assert "<th>Brand</th>" in page
    assert f"<td><bdi>{brand}</bdi></td>" in page
    assert "<th>Status</th>" in page
    assert "<td>active</td>" in page
    assert "<summary>Disable…</summary>" in page
    # One click (no confirmation) disables nobody.
    r = root.post("/admin/users/ben/disable", data={"csrf_token": csrf(root), "disabled": "true"})
    assert r.status_code == 422
    r = root.post(
        "/admin/users/ben/disable",
        data={"csrf_token": csrf(root), "disabled": "true", "confirm": "ben"},
    )
    assert "User disabled" in r.text
    assert "Settings saved." not in r.text
    assert '<span class="status-disabled">disabled</span>' in r.text
    r = root.post("/admin/users/ben/disable", data={"csrf_token": csrf(root), "disabled": "false"})
    assert "User enabled" in r.text


def test_a_correction_can_be_undone_by_its_author(site: Site) -> None:
    ana, ben = site.login("ana"), site.login("ben")
    mention, draft = site.mention_ids["clown"], site.drafts["clown"]
    r = ana.post(
        f"/mentions/{mention}/correct",
        data={"csrf_token": csrf(ana), "field": "troll", "value": "false", "draft_id": draft},
    )
    undo = re.search(rf'action="(/mentions/{mention}/corrections/(\d+)/undo)"', r.text)
    assert undo, "no Undo after a correction"
    assert 'action="/mentions' not in ben.get(f"/drafts/{draft}").text.split("Corrected:")[1]
    refused = ben.post(undo.group(1), data={"csrf_token": csrf(ben), "draft_id": draft})
    assert refused.status_code == 409
    r = ana.post(undo.group(1), data={"csrf_token": csrf(ana), "draft_id": draft})
    assert "Correction undone" in r.text
    with transaction(site.pipeline.sessions) as s:
        assert s.scalars(select(CorrectionRow)).all() == []
        assert s.scalars(select(EventRow).where(EventRow.action == "label.correction_undone")).one()


def test_the_audit_log_shows_times_for_people(site: Site) -> None:
    c = site.login("ana")
    draft = site.drafts["bag"]
    c.post(f"/drafts/{draft}/claim", data={"csrf_token": csrf(c)})
    c.post(f"/drafts/{draft}/save", data={"csrf_token": csrf(c), "text": "Sorry! DM us."})
    audit = c.get(f"/drafts/{draft}").text.split("Audit log")[1]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", audit.split("<time")[0]) is None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", audit, re.S)
    text = re.sub(r"<[^>]+>", "", " ".join(cells))
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), text
    assert re.search(r"\d\d \w{3} \d\d:\d\d:\d\d UTC", text)


def test_the_digest_page_leads_back_to_the_inbox(site: Site) -> None:
    c = site.login("mia")
    with transaction(site.pipeline.sessions) as s:
        slug = s.scalars(select(BrandRow.slug)).first()
    r = c.get("/digest", params={"brand": slug, "period": "day"})
    assert r.status_code == 200
    assert '<a href="/inbox">&larr; Back to the inbox</a>' in r.text
