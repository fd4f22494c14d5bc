"""The inbox's "Send again" on a failed draft: reviewers only, CSRF, one send per click.

The site's scripted platform refused nothing, so the failure is written the way the
sender writes one (approved, sending, failed with the platform's reason); the check
before the requeue then asks the scripted platform, which counts every post.
"""

from __future__ import annotations

import re

from brandcare.agents import users
from brandcare.pipeline.send import send_target
from brandcare.store import transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.models import DraftRow
from brandcare.store.replies import start_reply
from brandcare.web.pages import NOTICES
from tests.integration.web.conftest import Site, csrf

REASON = "403: replies are limited in this thread"


def _fail(site: Site, name: str = "bag") -> int:
    draft_id = site.drafts[name]
    with transaction(site.pipeline.sessions) as s:
        for old, new, fields in (
            ("pending", "approved", {"approved_by": "ben"}),
            ("approved", "sending", {}),
            ("sending", "failed", {"failure_reason": REASON}),
        ):
            assert transition_draft(s, draft_id, [old], new, "system", **fields)
        start_reply(s, draft_id, "scripted")
    return draft_id


def _error(page: str) -> str:
    found = re.search(r'id="error">([^<]+)<', page)
    return found.group(1) if found else ""


def test_send_again_is_offered_to_reviewers_on_failed_drafts_only(site: Site) -> None:
    draft = _fail(site)
    ana = site.login("ana")
    assert 'id="requeue"' in ana.get(f"/drafts/{draft}").text
    assert 'id="requeue"' not in ana.get(f"/drafts/{site.drafts['big']}").text  # pending
    assert 'id="requeue"' not in site.login("mia").get(f"/drafts/{draft}").text


def test_send_again_needs_the_security_token_and_a_reviewer(site: Site) -> None:
    draft = _fail(site)
    ana = site.login("ana")
    forged = ana.post(f"/drafts/{draft}/requeue", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert "security token" in forged.text
    mia = site.login("mia")
    refused = mia.post(f"/drafts/{draft}/requeue", data={"csrf_token": csrf(mia)})
    assert refused.status_code == 403
    assert site.draft_state(draft) == "failed"
    assert site.sent == []


def test_send_again_queues_one_send_and_a_double_click_sends_nothing_more(site: Site) -> None:
    draft = _fail(site)
    c = site.login("ana")
    token = csrf(c, f"/drafts/{draft}")
    first = c.post(f"/drafts/{draft}/requeue", data={"csrf_token": token})
    again = c.post(f"/drafts/{draft}/requeue", data={"csrf_token": token})
    assert first.status_code == 200
    assert str(first.url).endswith(f"/drafts/{draft}?done=requeued")
    assert NOTICES["requeued"] in first.text
    assert "draft.requeue" in first.text  # in the page's audit log
    assert again.status_code == 409
    assert "is approved, not failed" in _error(again.text)
    assert site.sent == [draft]
    assert site.draft_state(draft) == "approved"


def test_send_again_records_a_reply_already_there_as_sent(site: Site) -> None:
    draft = _fail(site)
    with transaction(site.pipeline.sessions) as s:
        row = s.get(DraftRow, draft)
        assert row is not None
        target = send_target(s, row)
    posted = site.pipeline.sources(target.platform, target.use).post_reply(
        target.mention, target.text
    )  # an agent posted it by hand
    c = site.login("ana")
    r = c.post(f"/drafts/{draft}/requeue", data={"csrf_token": csrf(c, f"/drafts/{draft}")})
    assert r.status_code == 200
    assert str(r.url).endswith("?done=found_sent")
    assert NOTICES["found_sent"] in r.text
    assert posted.url in r.text  # the reply link on the page
    assert site.sent == []
    assert site.draft_state(draft) == "sent"


def test_the_json_api_sends_a_failed_draft_again_once(site: Site) -> None:
    draft = _fail(site)
    with transaction(site.pipeline.sessions) as s:
        agent = users.issue_token(s, "ana")
        marketing = users.issue_token(s, "mia")
    c = site.client()
    url = f"/api/v1/drafts/{draft}/requeue"
    refused = c.post(url, headers={"Authorization": f"Bearer {marketing}"})
    assert refused.status_code == 403
    assert site.draft_state(draft) == "failed"
    first = c.post(url, headers={"Authorization": f"Bearer {agent}"})
    again = c.post(url, headers={"Authorization": f"Bearer {agent}"})
    assert first.status_code == 200
    assert first.json()["state"] == "approved"
    assert again.status_code == 409
    assert "is approved, not failed" in again.json()["detail"]
    assert site.sent == [draft]
