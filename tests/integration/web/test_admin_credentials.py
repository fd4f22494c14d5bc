"""The admin page shows which credentials profile a brand posts with, and cannot change it.

Which account a brand's replies go out from is deployment configuration (the brands file
and the environment), not a form field: a stolen admin session must not be able to
point one brand's replies at another brand's account.
"""

from __future__ import annotations

from sqlalchemy import select

from brandcare.store import transaction
from brandcare.store.models import BrandRow
from tests.integration.web.conftest import Site, csrf


def test_the_admin_page_shows_the_profile_and_saving_a_brand_keeps_it(site: Site) -> None:
    c = site.login("root")
    page = c.get("/admin")
    assert "the deployment-wide credentials" in page.text
    with transaction(site.pipeline.sessions) as s:
        brand = s.scalars(select(BrandRow)).one()
        brand.credentials = "skyway_eu"
        brand_id = brand.id
    page = c.get("/admin")
    assert "credentials profile <code>skyway_eu</code>" in page.text
    assert 'name="credentials"' not in page.text
    form = {"csrf_token": csrf(c, "/admin"), "sla_minutes": "45", "credentials": "other"}
    assert c.post(f"/admin/brands/{brand_id}", data=form).status_code == 200
    with transaction(site.pipeline.sessions) as s:
        saved = s.get(BrandRow, brand_id)
        assert saved is not None
        assert saved.sla_minutes == 45
        assert saved.credentials == "skyway_eu"
