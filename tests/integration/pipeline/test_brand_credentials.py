"""Brands with credentials profiles of their own, through the real tweepy and praw clients.

Three brands on one deployment, against the fake X and Reddit servers: ``acme`` and
``beta`` with complete profiles, ``broken`` with only an X bearer token, and
deployment-wide keys of a fourth account that no brand here may use. Each brand's
reads must carry its own token, each reply must be posted with its own brand's keys
(and so appear as that brand's account), and the broken brand must fail alone, with
the missing variables named and no secret in the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from brandcare.brands.setup import BrandSpec, QuerySpec, apply_brands
from brandcare.brands.sources import Sources
from brandcare.config import Settings
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.drafts import NewDraft, create_drafts, transition_draft
from brandcare.store.mentions import upsert_mentions
from brandcare.store.models import DraftRow, MentionRow, QueryRow, ReplyRow
from listener.base import Author, Mention
from responders.sender import SendStatus
from sentiment.baseline import BaselineScorer
from tests.fakes.fake_api import FakeRedditApi, FakeTwitterApi, SeenRequest

ACCOUNTS = {
    "acme-access": {"id": "9001", "username": "AcmeCare", "name": "Acme Care"},
    "beta-access": {"id": "9002", "username": "BetaHelp", "name": "Beta Help"},
    "deploy-access": {"id": "9003", "username": "SomeoneElse", "name": "Deployment-wide"},
}


def _x(prefix: str, suffix: str) -> dict[str, str]:
    return {
        f"X_BEARER_TOKEN{suffix}": f"{prefix}-bearer-SECRET",
        f"X_API_KEY{suffix}": f"{prefix}-consumer",
        f"X_API_SECRET{suffix}": f"{prefix}-consumer-SECRET",
        f"X_ACCESS_TOKEN{suffix}": f"{prefix}-access",
        f"X_ACCESS_SECRET{suffix}": f"{prefix}-access-SECRET",
    }


def _reddit(prefix: str, suffix: str) -> dict[str, str]:
    return {
        f"REDDIT_CLIENT_ID{suffix}": f"{prefix}-app",
        f"REDDIT_CLIENT_SECRET{suffix}": f"{prefix}-app-SECRET",
        f"REDDIT_USERNAME{suffix}": f"{prefix}_care",
        f"REDDIT_PASSWORD{suffix}": f"{prefix}-password-SECRET",
    }


ENVIRONMENT = {
    **_x("deploy", ""),
    **_reddit("deploy", ""),
    **_x("acme", "__ACME"),
    **_reddit("acme", "__ACME"),
    **_x("beta", "__BETA"),
    **_reddit("beta", "__BETA"),
    "X_BEARER_TOKEN__BROKEN": "broken-bearer-SECRET",
}


@pytest.fixture
def x_api(shared_dir: Path) -> Iterator[FakeTwitterApi]:
    with FakeTwitterApi(shared_dir / "fixtures", accounts=ACCOUNTS) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def reddit_api(shared_dir: Path) -> Iterator[FakeRedditApi]:
    with FakeRedditApi(shared_dir / "fixtures", per_login_tokens=True) as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def pipeline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    x_api: FakeTwitterApi,
    reddit_api: FakeRedditApi,
) -> Iterator[Pipeline]:
    """Settings read from the environment (the real ``__PROFILE`` naming), three brands."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'brands.db'}"
    monkeypatch.setenv("BRANDCARE_X_API_URL", x_api.url)
    monkeypatch.setenv("BRANDCARE_REDDIT_OAUTH_URL", reddit_api.url)
    monkeypatch.setenv("BRANDCARE_REDDIT_URL", reddit_api.url)
    monkeypatch.setenv("BRANDCARE_PLATFORM_TIMEOUT_SECONDS", "3")
    settings = Settings(database_url=url)
    assert set(settings.credential_profiles) == {"acme", "beta", "broken"}
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    brands = [
        BrandSpec(slug="acme", name="Acme", credentials="acme", queries=[
            QuerySpec(platform="twitter", kind="mentions", terms="@AcmeCare"),
            QuerySpec(platform="reddit", kind="inbox", terms=""),
        ]),
        BrandSpec(slug="beta", name="Beta", credentials="beta", queries=[
            QuerySpec(platform="twitter", kind="search", terms="beta"),
            QuerySpec(platform="reddit", kind="subreddit", terms="all: beta"),
        ]),
        BrandSpec(slug="broken", name="Broken", credentials="broken", queries=[
            QuerySpec(platform="twitter", kind="search", terms="broken"),
            QuerySpec(platform="reddit", kind="subreddit", terms="all: broken"),
        ]),
    ]  # fmt: skip
    with transaction(sessions) as s:
        apply_brands(s, brands)
    yield Pipeline(sessions, Sources(settings), BaselineScorer)
    engine.dispose()


def _query_ids(pipeline: Pipeline) -> dict[tuple[str, str], int]:
    """(brand slug, platform) -> query id."""
    from brandcare.store.models import BrandRow

    with transaction(pipeline.sessions) as s:
        rows = s.execute(
            select(BrandRow.slug, QueryRow.platform, QueryRow.id).join(
                BrandRow, BrandRow.id == QueryRow.brand_id
            )
        ).all()
    return {(slug, platform): query_id for slug, platform, query_id in rows}


def _approve_one(pipeline: Pipeline, query_id: int) -> tuple[int, str]:
    """An approved draft for the oldest mention the query stored: (draft id, mention id)."""
    with transaction(pipeline.sessions) as s:
        mention = s.scalars(
            select(MentionRow).where(MentionRow.query_id == query_id).order_by(MentionRow.id)
        ).first()
        assert mention is not None, f"query {query_id} stored nothing"
        (draft_id,) = create_drafts(
            s, [NewDraft(mention.id, f"Sorry about that, {mention.id}: DM us")]
        ).values()
        assert transition_draft(s, draft_id, ["pending"], "approved", "ana")
        return draft_id, mention.external_id


def _bearers(requests: list[SeenRequest]) -> set[str | None]:
    return {r.bearer() for r in requests}


def test_each_brand_reads_and_replies_with_its_own_credentials_and_a_broken_one_fails_alone(
    pipeline: Pipeline, x_api: FakeTwitterApi, reddit_api: FakeRedditApi
) -> None:
    ids = _query_ids(pipeline)
    polled = {key: pipeline.poll(query_id) for key, query_id in sorted(ids.items())}

    # -- reads: each brand's token, never another's or the deployment-wide one ----------
    assert not polled["acme", "twitter"].paused
    assert polled["acme", "twitter"].new_ids
    assert not polled["beta", "twitter"].paused
    assert polled["beta", "twitter"].new_ids
    assert not polled["broken", "twitter"].paused  # its bearer token reads
    assert _bearers(x_api.seen(r"^/2/users/9001/mentions$")) == {"acme-bearer-SECRET"}
    assert _bearers(x_api.seen(r"^/2/users/by/username/AcmeCare$")) == {"acme-bearer-SECRET"}
    assert _bearers(x_api.seen(r"^/2/tweets/search/recent$")) == {
        "beta-bearer-SECRET",
        "broken-bearer-SECRET",
    }
    assert not polled["acme", "reddit"].paused
    assert polled["acme", "reddit"].new_ids
    assert not polled["beta", "reddit"].paused
    assert polled["beta", "reddit"].new_ids
    logins = {(r.basic(), r.form().get("username")) for r in reddit_api.seen(
        r"^/api/v1/access_token", method="POST")}  # fmt: skip
    assert logins == {
        (("acme-app", "acme-app-SECRET"), "acme_care"),
        (("beta-app", "beta-app-SECRET"), "beta_care"),
    }
    reader = {
        path: {reddit_api.tokens[r.bearer() or ""] for r in reddit_api.seen(path)}
        for path in (r"^/message/mentions", r"^/r/all/search")
    }
    assert reader == {
        r"^/message/mentions": {("acme-app", "acme_care")},
        r"^/r/all/search": {("beta-app", "beta_care")},
    }

    # -- the broken brand's Reddit query is paused, naming what to set -------------------
    paused = polled["broken", "reddit"].paused or ""
    assert "MissingCredentialsError" in paused
    assert "'broken'" in paused
    assert "REDDIT_CLIENT_ID__BROKEN" in paused
    with transaction(pipeline.sessions) as s:
        assert s.get(QueryRow, ids["broken", "reddit"]).paused_reason == paused  # type: ignore[union-attr]
        # and only that query
        reasons = {q.id: q.paused_reason for q in s.scalars(select(QueryRow))}
    assert {qid for qid, reason in reasons.items() if reason} == {ids["broken", "reddit"]}

    # -- replies: one per brand and platform, each posted with its own brand's keys ------
    drafts = {key: _approve_one(pipeline, ids[key]) for key in [
        ("acme", "twitter"), ("beta", "twitter"), ("acme", "reddit"), ("beta", "reddit"),
    ]}  # fmt: skip
    broken_draft = _broken_twitter_draft(pipeline, ids["broken", "twitter"])
    outcomes = {key: pipeline.send(draft_id) for key, (draft_id, _) in drafts.items()}
    broken_outcome = pipeline.send(broken_draft)
    assert {key: o.status if o else None for key, o in outcomes.items()} == dict.fromkeys(
        drafts, SendStatus.SENT
    )

    posts = x_api.seen(r"^/2/tweets$", method="POST")
    signed = {
        r.json()["reply"]["in_reply_to_tweet_id"]: (
            r.oauth1()["oauth_consumer_key"],
            r.oauth1()["oauth_token"],
        )
        for r in posts
    }
    assert signed == {
        drafts["acme", "twitter"][1]: ("acme-consumer", "acme-access"),
        drafts["beta", "twitter"][1]: ("beta-consumer", "beta-access"),
    }
    authors = {t["referenced_tweets"][0]["id"]: t["author_id"] for t in x_api.posted}
    assert authors == {drafts["acme", "twitter"][1]: "9001", drafts["beta", "twitter"][1]: "9002"}
    comments = {c["data"]["parent_id"]: c["data"]["author"] for c in reddit_api.posted}
    assert comments == {
        drafts["acme", "reddit"][1]: "acme_care",
        drafts["beta", "reddit"][1]: "beta_care",
    }
    with transaction(pipeline.sessions) as s:
        urls = {d: s.scalars(select(ReplyRow.url).where(ReplyRow.draft_id == d)).one()
                for d, _ in drafts.values()}  # fmt: skip
    assert "/AcmeCare/status/" in urls[drafts["acme", "twitter"][0]]
    assert "/BetaHelp/status/" in urls[drafts["beta", "twitter"][0]]

    # -- the broken brand's reply fails visibly, and nothing went out for it -------------
    assert broken_outcome is not None
    assert broken_outcome.status is SendStatus.AUTH_FAILED
    assert broken_outcome.post_attempts == 0
    with transaction(pipeline.sessions) as s:
        failed = s.get(DraftRow, broken_draft)
        assert failed is not None
        assert failed.state == "failed"
        reason = failed.failure_reason or ""
    for name in ("X_API_KEY__BROKEN", "X_API_SECRET__BROKEN", "X_ACCESS_TOKEN__BROKEN",
                 "X_ACCESS_SECRET__BROKEN"):  # fmt: skip
        assert name in reason
    assert "'broken'" in reason
    assert [v for v in ENVIRONMENT.values() if v in reason] == []  # names, never values
    assert len(posts) == 2

    # -- X's pay-per-use counts stay per brand and query ----------------------------------
    from brandcare.store.models import ApiUsageRow, BrandRow

    with transaction(pipeline.sessions) as s:
        usage = s.execute(
            select(BrandRow.slug, ApiUsageRow.query_id, ApiUsageRow.reads, ApiUsageRow.posts)
            .join(BrandRow, BrandRow.id == ApiUsageRow.brand_id)
            .where(ApiUsageRow.platform == "twitter")
        ).all()
    reads = {(slug, query): n for slug, query, n, _ in usage if query is not None}
    assert reads[("acme", ids["acme", "twitter"])] == len(x_api.mention_tweets)
    assert reads[("beta", ids["beta", "twitter"])] == len(x_api.search_tweets)
    posted_by = {slug: n for slug, query, _, n in usage if query is None}
    assert posted_by == {"acme": 1, "beta": 1}  # the broken brand posted nothing

    # -- no request anywhere carried the deployment-wide keys ----------------------------
    everything = [*x_api.requests, *reddit_api.requests]
    leaked = [r.path for r in everything if "deploy" in str(r.headers) + r.body.decode()]
    assert leaked == []


def _broken_twitter_draft(pipeline: Pipeline, query_id: int) -> int:
    """An approved draft for a mention the broken brand owns (its search found none new)."""
    mention = Mention(
        platform="twitter",
        external_id="1700000000000000001",
        text="@Broken my order never came",
        author=Author(id="77", handle="customer77"),
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        url="https://x.com/customer77/status/1700000000000000001",
    )
    with transaction(pipeline.sessions) as s:
        brand_id = s.get(QueryRow, query_id).brand_id  # type: ignore[union-attr]
        (mention_id,) = upsert_mentions(s, brand_id, query_id, [mention])
        (draft_id,) = create_drafts(
            s, [NewDraft(mention_id, "Sorry: DM us your order number")]
        ).values()
        assert transition_draft(s, draft_id, ["pending"], "approved", "ana")
    return draft_id


# -- the brands file, and the scheduler's Reddit allowance per app ----------------------------


def _profile_of(sessions, slug: str) -> str | None:  # type: ignore[no-untyped-def]
    from brandcare.store.models import BrandRow

    with transaction(sessions) as s:
        brand = s.scalars(select(BrandRow).where(BrandRow.slug == slug)).one()
        return brand.credentials


def test_the_brands_file_sets_a_profile_keeps_it_when_left_out_and_clears_it_with_null(
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    def apply(**fields: object) -> None:
        spec = BrandSpec.model_validate({"slug": "acme", "name": "Acme", **fields})
        with transaction(sessions) as s:
            apply_brands(s, [spec])

    apply()
    assert _profile_of(sessions, "acme") is None
    apply(credentials="acme_eu")
    assert _profile_of(sessions, "acme") == "acme_eu"
    apply()  # an older file without the key must not move the brand to the shared keys
    assert _profile_of(sessions, "acme") == "acme_eu"
    apply(credentials=None)
    assert _profile_of(sessions, "acme") is None


@pytest.mark.parametrize("name", ["Acme", "acme-eu", "acme__eu", "_acme", "a" * 33, ""])
def test_the_brands_file_refuses_a_profile_no_variable_could_name(name: str) -> None:
    with pytest.raises(ValueError, match="not a profile name"):
        BrandSpec.model_validate({"slug": "acme", "name": "Acme", "credentials": name})


def test_brands_on_one_reddit_app_share_its_allowance_and_an_app_of_its_own_has_its_own(
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    from brandcare.brands import credentials
    from brandcare.config.profile_env import PROFILE_FIELD
    from brandcare.pipeline.schedule import Enqueue, Scheduler

    settings = Settings(**{PROFILE_FIELD: {
        "acme": {"reddit_client_id": "shared-app"},
        "beta": {"reddit_client_id": "shared-app"},
        "gamma": {"reddit_client_id": "gamma-app"},
    }})  # fmt: skip
    specs = [
        BrandSpec(slug=slug, name=slug.title(), credentials=slug, queries=[
            QuerySpec(platform="reddit", kind="subreddit", terms=f"all: {slug}"),
        ])
        for slug in ("acme", "beta", "gamma")
    ]  # fmt: skip
    with transaction(sessions) as s:
        ids = apply_brands(s, specs)
        by_brand = {q.brand_id: q.id for q in s.scalars(select(QueryRow))}
    polled: list[int] = []
    now = dt.datetime(2026, 1, 5, 12, 0, 10, tzinfo=dt.UTC)
    scheduler = Scheduler(
        sessions,
        Enqueue(polled.append, print, print, print),
        reddit_requests_per_minute=2,  # one poll a minute per app
        reddit_app=lambda profile: credentials.reddit_app(settings, profile),
        clock=lambda: now,
    )
    scheduler.tick()
    # acme and beta share an app: one of them this minute; gamma's app has its own.
    assert by_brand[ids["gamma"]] in polled
    assert len(polled) == 2
    assert {by_brand[ids["acme"]], by_brand[ids["beta"]]} & set(polled)
    now += dt.timedelta(minutes=1)
    scheduler.tick()  # the next minute: the one that waited goes (gamma is not due yet)
    assert sorted(polled) == sorted(by_brand.values())


def test_setup_warns_about_a_profile_with_no_variable_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from brandcare.cli import app as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'setup.db'}")
    monkeypatch.setenv("X_BEARER_TOKEN__ACME", "acme-bearer-SECRET")
    migrate.upgrade(f"sqlite:///{tmp_path / 'setup.db'}")
    brands = tmp_path / "brands.json"
    brands.write_text(json.dumps({"brands": [
        {"slug": "acme", "name": "Acme", "credentials": "acme"},
        {"slug": "beta", "name": "Beta", "credentials": "beta_typo"},
        {"slug": "gamma", "name": "Gamma"},
    ]}))  # fmt: skip
    result = CliRunner().invoke(cli, ["setup", str(brands)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "'beta'" in warnings[0]
    assert "X_*__BETA_TYPO" in warnings[0]
