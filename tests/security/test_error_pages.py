"""Error pages never show a secret or a traceback: 500s, 404s, 405s and 422s alike.

The app runs with every secret setting filled in (platform tokens, passwords, the
metrics token). Failures are forced two ways: the database goes away (its URL carries a
password), and a query raises an exception whose message holds the secrets, as a
driver error quoting a connection string would. Whatever an agent's browser or an API
client receives must hold none of them, nor a Python traceback.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from brandcare.agents import users
from brandcare.store import inbox as inbox_queries
from brandcare.store import make_engine, session_factory, transaction
from tests.integration.web.conftest import PASSWORD, Site, csrf
from tests.integration.web.test_access import _routes

DB_PASSWORD = "db-PASSWORD-4f9a1c"
DB_URL = f"postgresql+psycopg://brandcare:{DB_PASSWORD}@127.0.0.1:9/brandcare"
SECRETS = {
    "x_bearer_token": "x-BEARER-7d2e90",
    "x_api_key": "x-APIKEY-31aa0b",
    "x_api_secret": "x-APISECRET-88c1d4",
    "x_access_token": "x-ACCESS-5be6f7",
    "x_access_secret": "x-ACCESSSECRET-0c9d2e",
    "reddit_client_id": "reddit-ID-6a7b8c",
    "reddit_client_secret": "reddit-SECRET-1f2e3d",
    "reddit_password": "reddit-PASSWORD-9e8d7c",
    "smtp_password": "smtp-PASSWORD-4b5c6d",
    "metrics_token": "metrics-TOKEN-2a3b4c",
}
NEVER_SHOWN = [DB_PASSWORD, DB_URL, "postgresql+psycopg://", *SECRETS.values()]
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


def assert_clean(body: str, where: object) -> None:
    for secret in NEVER_SHOWN:
        assert secret not in body, (where, secret)
    assert not _TRACEBACK.search(body), (where, body[:500])
    assert "sqlalchemy" not in body.lower(), (where, body[:500])


@pytest.fixture
def secret_site(site: Site) -> Site:
    """The site with every secret setting filled in, as in production."""
    secrets = {name: SecretStr(value) for name, value in SECRETS.items()}
    site.app.state.settings = site.settings.model_copy(update=secrets)
    return site


def client(site: Site, username: str | None = None) -> TestClient:
    """A browser that gets the 500 page a user would, instead of the test raising."""
    c = TestClient(site.app, base_url="https://testserver", raise_server_exceptions=False)
    if username is not None:
        form = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        c.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": token.group(1)})  # fmt: skip
    return c


def test_a_query_failing_with_secrets_in_its_message_shows_none_of_them(
    secret_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def leaky(*args: object, **kwargs: object) -> object:
        message = f"could not connect to {DB_URL} using token {SECRETS['x_bearer_token']}"
        statement, params = "SELECT draft.text FROM draft", {"secret": DB_PASSWORD}
        raise OperationalError(statement, params, Exception(message))

    with transaction(secret_site.pipeline.sessions) as s:
        token = users.issue_token(s, "ana")
    browser = client(secret_site, "ana")
    monkeypatch.setattr(inbox_queries, "lane_items", leaky)
    monkeypatch.setattr(inbox_queries, "item", leaky)
    api = {"Authorization": f"Bearer {token}"}
    for where, response in {
        "inbox page": browser.get("/inbox"),
        "inbox rows": browser.get("/inbox/rows", headers={"HX-Request": "true"}),
        "draft page": browser.get(f"/drafts/{secret_site.drafts['bag']}"),
        "API drafts": browser.get("/api/v1/drafts", headers=api),
        "API draft": browser.get(f"/api/v1/drafts/{secret_site.drafts['bag']}", headers=api),
    }.items():
        assert response.status_code == 500, (where, response.status_code)
        assert_clean(response.text, where)


def test_with_the_database_gone_every_route_fails_without_secrets(secret_site: Site) -> None:
    browser = client(secret_site, "root")
    token = csrf(browser)
    engine = make_engine(DB_URL)
    secret_site.app.state.sessions = session_factory(engine)
    form = {"csrf_token": token, "text": "x", "reason": "x", "username": "ana"}
    scraper = {"Authorization": f"Bearer {SECRETS['metrics_token']}"}
    routes = [("POST", "/login"), ("GET", "/healthz"), *_routes(secret_site)]
    try:
        statuses = {}
        for method, path in routes:
            r = browser.request(method, path, data=form, follow_redirects=False)
            statuses[(method, path)] = r.status_code
            assert_clean(r.text, (method, path))
            assert_clean(" ".join(f"{k}: {v}" for k, v in r.headers.items()), (method, path))
        scrape = browser.get("/metrics", headers=scraper)
        assert_clean(scrape.text, "/metrics")
    finally:
        engine.dispose()
    assert statuses[("GET", "/inbox")] == 500  # the failure did reach the handlers


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/drafts/999999", 404),
        ("GET", "/no/such/page", 404),
        ("GET", "/api/v1/drafts/999999", 404),
        ("DELETE", "/inbox", 405),
        ("PUT", "/api/v1/drafts/1/approve", 405),
        ("GET", "/drafts/not-a-number", 404),  # a page that does not exist, as HTML
        ("GET", "/api/v1/drafts?limit=lots", 422),
        ("POST", "/api/v1/drafts/1/approve", 422),
    ],
)
def test_client_errors_show_no_secrets_nor_traceback(
    secret_site: Site, method: str, path: str, status: int
) -> None:
    with transaction(secret_site.pipeline.sessions) as s:
        token = users.issue_token(s, "root")
    browser = client(secret_site, "root")
    body = "{not json" if method == "POST" else None
    r = browser.request(method, path, content=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    assert_clean(r.text, path)
