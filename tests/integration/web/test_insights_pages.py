"""The alerts page and the digest page, as marketing sees them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from brandcare.store import transaction
from brandcare.store.models import AlertRow, BrandRow
from tests.integration.web.conftest import Site


def test_marketing_reads_the_alerts_with_why_they_fired_escaped(site: Site) -> None:
    now = dt.datetime.now(dt.UTC)
    with transaction(site.pipeline.sessions) as s:
        brand_id = s.scalars(select(BrandRow.id)).one()
        s.add(AlertRow(
            brand_id=brand_id, issue="outage", window_start=now, window_end=now, observed=40,
            expected=4.0, state="open", severity="critical",
            detail={"why": {"terms": ["down", "app"], "examples": [
                {"author": "x", "followers": 10, "text": "<script>alert(1)</script> down",
                 "url": "javascript:alert(2)"}]}},
        ))  # fmt: skip
    page = site.login("mia").get("/alerts")
    assert page.status_code == 200
    assert "40 negative vs 4.0 expected" in page.text
    assert "down, app" in page.text
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text
    assert "javascript:alert(2)" not in page.text


def test_the_digest_page_renders_with_charts_and_no_script(site: Site) -> None:
    c = site.login("mia")
    page = c.get("/digest", params={"brand": "skyway", "period": "week"})
    assert page.status_code == 200
    assert "Skyway Air: week digest" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "<script" not in page.text
    assert c.get("/digest", params={"brand": "nope"}).status_code == 404


def test_an_admin_sets_a_brands_alert_noise_controls(site: Site) -> None:
    from tests.integration.web.conftest import csrf

    c = site.login("root")
    with transaction(site.pipeline.sessions) as s:
        brand_id = s.scalars(select(BrandRow.id)).one()
    form = {"csrf_token": csrf(c, "/admin"), "sla_minutes": "45", "alert_sensitivity": "low",
            "alert_cooldown_minutes": "60", "alert_quiet_hours": "22-07"}  # fmt: skip
    assert c.post(f"/admin/brands/{brand_id}", data=form).status_code == 200
    bad = c.post(f"/admin/brands/{brand_id}", data=form | {"alert_quiet_hours": "night"})
    assert bad.status_code == 422
    with transaction(site.pipeline.sessions) as s:
        brand = s.get(BrandRow, brand_id)
        assert brand is not None
        assert brand.sla_minutes == 45
        assert brand.alerting == {
            "sensitivity": "low",
            "cooldown_minutes": 60,
            "quiet_hours": "22-07",
        }
