"""What agents do in the inbox: read safely, act once, hold drafts, four eyes, correct labels."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select, update
from typer.testing import CliRunner

from brandcare.agents import users
from brandcare.cli import app as cli
from brandcare.store import transaction
from brandcare.store.models import BrandRow, CorrectionRow, DraftRow, EventRow
from tests.integration.web.conftest import Site, csrf


def _error(page: str) -> str:
    found = re.search(r'id="error">([^<]+)<', page)
    return found.group(1) if found else ""


def test_the_queue_is_escaped_text_and_untrusted_links_are_not_links(site: Site) -> None:
    c = site.login("ana")
    for page in (c.get("/inbox").text, c.get(f"/drafts/{site.drafts['xss']}").text):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page
        assert "onerror=alert(2)&gt;" in page
        assert "<b>evil</b>" not in page
        assert "&lt;b&gt;evil&lt;/b&gt;" in page
        assert "javascript:alert(3)" not in page


def test_the_queue_puts_the_most_urgent_first_and_filters(site: Site) -> None:
    c = site.login("ana")
    page = c.get("/inbox").text
    order = [int(i) for i in re.findall(r'data-draft="(\d+)"', page)]
    assert sorted(order) == sorted(d for k, d in site.drafts.items() if k != "clown")
    urgencies = [
        float(u) for u in re.findall(r'class="pill urg urg-\w+".*?</span> \w+ ([0-9.]+)<', page)
    ]
    assert len(urgencies) == len(order)
    assert urgencies == sorted(urgencies, reverse=True)
    found = c.get("/inbox", params={"q": "100%"}).text  # % is text, not a wildcard
    assert re.findall(r'data-draft="(\d+)"', found) == [str(site.drafts["xss"])]
    skipped = c.get("/inbox", params={"lane": "skipped"}).text
    assert re.findall(r'data-draft="(\d+)"', skipped) == [str(site.drafts["clown"])]
    assert "insult" in skipped or "troll" in skipped  # the reason is shown in the lane


def test_approve_queues_one_send_and_a_double_click_sends_nothing_more(site: Site) -> None:
    c = site.login("ana")
    draft = site.drafts["bag"]
    token = csrf(c, f"/drafts/{draft}")
    first = c.post(f"/drafts/{draft}/approve", data={"csrf_token": token})
    again = c.post(f"/drafts/{draft}/approve", data={"csrf_token": token})
    assert first.status_code == 200
    assert "done=approved" in str(first.url)
    assert again.status_code == 409
    assert "cannot approve a draft that is approved" in _error(again.text)
    assert site.sent == [draft]
    assert site.draft_state(draft) == "approved"


def test_an_edit_past_the_limit_is_refused_with_the_count_and_kept_in_the_form(site: Site) -> None:
    c = site.login("ana")
    draft = site.drafts["bag"]
    token = csrf(c, f"/drafts/{draft}")
    long_text = "We are so sorry. " * 20
    r = c.post(f"/drafts/{draft}/approve", data={"csrf_token": token, "text": long_text})
    assert r.status_code == 409
    assert "the limit is 280" in _error(r.text)
    assert long_text.strip() in r.text
    count = c.post(f"/drafts/{draft}/count", data={"text": long_text},
                   headers={"X-CSRF-Token": token})  # fmt: skip
    assert "over the limit" in count.text
    assert 'data-limit="280"' in count.text
    assert site.sent == []
    assert site.draft_state(draft) == "pending"


def test_an_edited_approval_stores_the_agents_words(site: Site) -> None:
    c = site.login("ana")
    draft = site.drafts["bag"]
    token = csrf(c, f"/drafts/{draft}")
    c.post(f"/drafts/{draft}/approve", data={"csrf_token": token, "text": "So sorry! DM us."})
    with transaction(site.pipeline.sessions) as s:
        row = s.get(DraftRow, draft)
        assert row is not None
        assert (row.text, row.edited_by, row.approved_by) == ("So sorry! DM us.", "ana", "ana")
        assert row.original_text != row.text


def test_a_taken_draft_is_held_so_a_second_agent_cannot_act_on_it(site: Site) -> None:
    ana, ben = site.login("ana"), site.login("ben")
    draft = site.drafts["bag"]
    ana.post(f"/drafts/{draft}/claim", data={"csrf_token": csrf(ana)})  # "Take it", or typing
    page = ben.get(f"/drafts/{draft}").text
    assert "Held by <b><bdi>ana</bdi></b>" in page
    assert 'id="approve"' not in page
    r = ben.post(f"/drafts/{draft}/approve", data={"csrf_token": csrf(ben)})
    assert r.status_code == 409
    assert "held by ana" in _error(r.text)
    # The claim expires by itself.
    with transaction(site.pipeline.sessions) as s:
        s.execute(update(DraftRow).values(claimed_until=dt.datetime.now(dt.UTC)))
    r = ben.post(f"/drafts/{draft}/approve", data={"csrf_token": csrf(ben)})
    assert r.status_code == 200
    assert site.sent == [draft]


def test_a_risky_draft_needs_a_second_approver_who_is_not_the_editor(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        s.execute(update(BrandRow).values(second_approval_min_followers=10_000))
    draft = site.drafts["big"]  # 50k followers
    ana, ben = site.login("ana"), site.login("ben")
    r = ana.post(
        f"/drafts/{draft}/approve", data={"csrf_token": csrf(ana), "text": "Sorry! DM us."}
    )
    assert "done=first_approval" in str(r.url)
    assert site.draft_state(draft) == "pending"
    assert "a second agent (not the editor) must approve" in r.text
    ana.post(f"/drafts/{draft}/release", data={"csrf_token": csrf(ana)})
    again = ana.post(f"/drafts/{draft}/approve", data={"csrf_token": csrf(ana)})
    assert again.status_code == 409
    assert "another agent must approve" in _error(again.text)
    assert site.sent == []
    ok = ben.post(f"/drafts/{draft}/approve", data={"csrf_token": csrf(ben)})
    assert ok.status_code == 200
    assert site.sent == [draft]
    assert site.draft_state(draft) == "approved"
    with transaction(site.pipeline.sessions) as s:
        row = s.get(DraftRow, draft)
        assert row is not None
        assert (row.first_approved_by, row.approved_by) == ("ana", "ben")


def test_the_page_warns_when_the_conversation_already_got_a_reply(site: Site) -> None:
    c = site.login("ana")
    assert 'id="replied"' not in c.get(f"/drafts/{site.drafts['bag2']}").text
    c.post(f"/drafts/{site.drafts['bag']}/approve", data={"csrf_token": csrf(c)})
    page = c.get(f"/drafts/{site.drafts['bag2']}").text
    assert 'id="replied"' in page
    assert f"draft #{site.drafts['bag']}" in page
    assert "@ana_customer" in page  # the thread shows the earlier post in the conversation


def test_unskip_puts_a_misjudged_mention_back_with_its_reason_in_the_audit_log(site: Site) -> None:
    c = site.login("ana")
    draft = site.drafts["clown"]
    refused = c.post(f"/drafts/{draft}/unskip", data={"csrf_token": csrf(c), "reason": " "})
    assert refused.status_code == 409
    assert site.draft_state(draft) == "skipped"
    c.post(f"/drafts/{draft}/unskip", data={"csrf_token": csrf(c), "reason": "real customer"})
    assert site.draft_state(draft) == "pending"
    page = c.get(f"/drafts/{draft}").text
    assert "draft.unskip_reason" in page
    assert "real customer" in page


def test_reject_needs_a_reason_and_sends_nothing(site: Site) -> None:
    c = site.login("ana")
    draft = site.drafts["bag"]
    assert c.post(f"/drafts/{draft}/reject", data={"csrf_token": csrf(c)}).status_code == 409
    c.post(f"/drafts/{draft}/reject", data={"csrf_token": csrf(c), "reason": "answered by phone"})
    assert site.draft_state(draft) == "rejected"
    assert site.sent == []
    lane = c.get("/inbox", params={"lane": "rejected"}).text
    assert "answered by phone" in lane


def test_a_correction_is_stored_audited_and_exported(site: Site, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = site.login("ana")
    mention, draft = site.mention_ids["clown"], site.drafts["clown"]
    form = {"field": "troll", "draft_id": draft}
    r = c.post(
        f"/mentions/{mention}/correct", data=form | {"csrf_token": csrf(c), "value": "false"}
    )
    assert r.status_code == 200
    assert "Label corrected" in r.text
    bad = c.post(
        f"/mentions/{mention}/correct", data=form | {"csrf_token": csrf(c), "value": "maybe"}
    )
    assert bad.status_code == 422
    with transaction(site.pipeline.sessions) as s:
        row = s.scalars(select(CorrectionRow)).one()
        assert (row.field, row.value, row.previous, row.actor) == ("troll", "false", "true", "ana")
        assert s.scalars(select(EventRow).where(EventRow.action == "label.corrected")).one()
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", site.settings.database_url)
    out = tmp_path / "feedback.jsonl"
    result = CliRunner().invoke(cli, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["label"] is False
    assert record["model_said"] == "true"
    assert record["text"] == "@SkywayAir you are a clown"
    assert record["corrected_by"] == "ana"


def test_the_users_command_creates_the_first_admin_and_tokens(site: Site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", site.settings.database_url)
    runner = CliRunner()
    weak = runner.invoke(cli, ["users", "add", "boss", "--role", "admin"], input="short\n")
    assert weak.exit_code == 1
    assert "too short" in weak.output
    ok = runner.invoke(
        cli, ["users", "add", "boss", "--role", "admin"], input="a long passphrase\n"
    )
    assert ok.exit_code == 0, ok.output
    site.login("boss", "a long passphrase")
    token = runner.invoke(cli, ["users", "token", "boss"]).output.strip().splitlines()[-1]
    me = site.client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "admin"
    with transaction(site.pipeline.sessions) as s:
        assert users.user_for_token(s, token) is not None
    # The admin page says what each token may do, not merely that there is one.
    boss = site.login("boss", "a long passphrase")
    row = r"<bdi>boss</bdi></td>(?:(?!</tr>).)*<td>{}</td>"
    assert re.search(row.format("inbox"), boss.get("/admin").text, re.S)
    both = runner.invoke(cli, ["users", "token", "boss", "--scope", "inbox", "--scope", "score"])
    assert both.exit_code == 0, both.output
    assert re.search(row.format("inbox score"), boss.get("/admin").text, re.S)


def test_the_json_api_works_the_same_queue(site: Site) -> None:
    with transaction(site.pipeline.sessions) as s:
        token = users.issue_token(s, "ana")
    c = site.client()
    auth = {"Authorization": f"Bearer {token}"}
    queue = c.get("/api/v1/drafts", headers=auth).json()
    assert next(d["id"] for d in queue) == int(
        re.findall(r'data-draft="(\d+)"', site.login("ben").get("/inbox").text)[0]
    )
    xss = c.get(f"/api/v1/drafts/{site.drafts['xss']}", headers=auth).json()
    assert xss["mention"]["url"] is None
    assert "<script>" in xss["mention"]["text"]
    draft = site.drafts["bag"]
    approved = c.post(
        f"/api/v1/drafts/{draft}/approve", json={"text": "Sorry! DM us."}, headers=auth
    )
    assert approved.json()["state"] == "approved"
    assert site.sent == [draft]
    twice = c.post(f"/api/v1/drafts/{draft}/approve", json={}, headers=auth)
    assert twice.status_code == 409
    assert site.sent == [draft]
    detail = c.get(f"/api/v1/drafts/{draft}", headers=auth).json()
    assert [e["action"] for e in detail["audit"]][-1] == "draft.approved"
    spec = c.get("/api/openapi.json").json()
    assert "/api/v1/drafts/{draft_id}/approve" in spec["paths"]
    assert not any(p.startswith("/drafts") for p in spec["paths"])  # pages stay out of it
