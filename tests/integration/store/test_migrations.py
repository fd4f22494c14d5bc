"""The packaged migrations build exactly the schema the models describe."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from brandcare.store import make_engine, transaction
from brandcare.store.drafts import NewDraft, create_drafts
from brandcare.store.mentions import upsert_mentions
from brandcare.store.migrate import current, downgrade, head, upgrade
from brandcare.store.models import REPLY_STATES, Base
from brandcare.store.replies import finish_reply, reply_state, start_reply
from tests.integration.store.helpers import mention


def _schema_diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _check_constraint_names(engine: Engine) -> set[str]:
    inspector = inspect(engine)
    return {
        str(ck["name"])
        for table in inspector.get_table_names()
        for ck in inspector.get_check_constraints(table)
    }


def test_migrations_create_exactly_the_models_schema(engine: Engine) -> None:
    assert _schema_diffs(engine) == []
    # Autogenerate does not compare CHECK constraints; their names must match too.
    expected = {
        str(c.name)
        for table in Base.metadata.tables.values()
        for c in table.constraints
        if c.__class__.__name__ == "CheckConstraint"
    }
    assert expected
    assert _check_constraint_names(engine) == expected


def test_an_upgraded_database_reports_the_head_revision(db_url: str) -> None:
    assert current(db_url) == head()
    upgrade(db_url)  # already at head: nothing to do, nothing breaks
    assert current(db_url) == head()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_downgrade_to_base_drops_everything_and_upgrade_rebuilds_it(
    backend: str, fresh_url: Callable[[str], str]
) -> None:
    url = fresh_url(backend)
    assert current(url) is None
    upgrade(url)
    assert current(url) == head()
    downgrade(url, "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(url)
        assert _schema_diffs(engine) == []
    finally:
        engine.dispose()


def test_reply_states_admit_exactly_the_models_values(
    factory: sessionmaker[Session], brand_query: tuple[int, int]
) -> None:
    """CHECK constraints are compared by name above; here by behaviour, for the one a
    migration rewrote (0007: reply state ``refused``)."""
    brand_id, query_id = brand_query
    with transaction(factory) as s:
        [mention_id] = upsert_mentions(s, brand_id, query_id, [mention("1")])
        draft_id = create_drafts(s, [NewDraft(mention_id, "Hi")])[mention_id]
        assert start_reply(s, draft_id, "twitter")
    for state in REPLY_STATES:
        with transaction(factory) as s:
            finish_reply(s, draft_id, state=state)  # type: ignore[arg-type]
        with transaction(factory) as s:
            assert reply_state(s, draft_id) == state
    with pytest.raises(IntegrityError), transaction(factory) as s:
        finish_reply(s, draft_id, state="nonsense")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_downgrading_0007_turns_refused_replies_into_unknown_ones(
    backend: str, fresh_url: Callable[[str], str]
) -> None:
    from sqlalchemy import select

    from brandcare.store import session_factory
    from brandcare.store.models import BrandRow, QueryRow, ReplyRow

    url = fresh_url(backend)
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as s:
            brand = BrandRow(slug="acme-air", name="Acme Air")
            s.add(brand)
            s.flush()
            query = QueryRow(brand_id=brand.id, platform="twitter", kind="search", terms="x")
            s.add(query)
            s.flush()
            [mention_id] = upsert_mentions(s, brand.id, query.id, [mention("1")])
            draft_id = create_drafts(s, [NewDraft(mention_id, "Hi")])[mention_id]
            start_reply(s, draft_id, "twitter")
            finish_reply(s, draft_id, state="refused")
        engine.dispose()
        downgrade(url, "0006")
        with engine.connect() as conn:
            # An older release looks before it retries an "unknown" attempt: still safe.
            assert conn.execute(select(ReplyRow.state)).scalars().all() == ["unknown"]
        upgrade(url)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0010_tokens_issued_before_scopes_keep_the_inbox_and_never_score(
    backend: str, fresh_url: Callable[[str], str]
) -> None:
    """Down to 0009 (no scopes) a scoring-only token is revoked rather than let into the
    inbox; back up, every surviving token has the inbox scope alone, as before 0010."""
    from brandcare.agents import users
    from brandcare.store import session_factory

    url = fresh_url(backend)
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as s:
            for name in ("old", "svc", "both"):
                users.add_user(s, name, "correct horse battery", "agent")
            tokens = {
                "old": users.issue_token(s, "old"),
                "svc": users.issue_token(s, "svc", ["score"]),
                "both": users.issue_token(s, "both", ["score", "inbox"]),
            }
        with transaction(sessions) as s:
            both = users.token_for(s, tokens["both"])
        assert both is not None
        assert (both.user.username, both.scopes) == ("both", frozenset({"inbox", "score"}))
        engine.dispose()
        downgrade(url, "0009")
        upgrade(url)
        with transaction(sessions) as s:
            scopes = {name: users.token_for(s, token) for name, token in tokens.items()}
        assert scopes["svc"] is None
        assert scopes["old"] is not None
        assert scopes["old"].scopes == frozenset({"inbox"})
        assert scopes["both"] is not None
        assert scopes["both"].scopes == frozenset({"inbox"})
    finally:
        engine.dispose()
