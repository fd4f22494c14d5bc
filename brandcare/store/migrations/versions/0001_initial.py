"""Initial schema: brands, queries, cursors, usage, mentions, scores, drafts, replies,
events, alerts, users.

Written to match ``brandcare.store.models`` exactly (a test compares them on SQLite and
PostgreSQL). Self-contained on purpose: it must keep creating this schema after the
models move on, so it copies the types and value lists instead of importing them.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    """The storage type of ``models.UTCDateTime``."""
    return sa.DateTime(timezone=True)


def _check_in(name: str, column_name: str, values: Sequence[str]) -> sa.CheckConstraint:
    """A named CHECK limiting ``column_name`` to ``values``."""
    return sa.CheckConstraint(sa.column(column_name).in_(values), name=op.f(name))


def upgrade() -> None:
    """Create every table, constraint and index."""
    op.create_table(
        "brand",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("voice", sa.JSON(), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand")),
        sa.UniqueConstraint("slug", name=op.f("uq_brand_slug")),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    op.create_index("ix_event_at", "event", ["at"])
    op.create_index("ix_event_mention_id", "event", ["mention_id"])
    op.create_index("ix_event_draft_id", "event", ["draft_id"])
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("api_token_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _check_in("ck_user_role", "role", ("agent", "marketing", "admin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("api_token_hash", name=op.f("uq_user_api_token_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_user_username")),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("issue", sa.String(length=64), nullable=True),
        sa.Column("window_start", _utc(), nullable=False),
        sa.Column("window_end", _utc(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _check_in("ck_alert_state", "state", ("open", "resolved")),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_alert_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_index("ix_alert_brand_id_state", "alert", ["brand_id", "state"])
    op.create_table(
        "query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("daily_budget_usd", sa.Float(), nullable=True),
        sa.Column("monthly_budget_usd", sa.Float(), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        _check_in("ck_query_kind", "kind", ("search", "mentions", "subreddit", "inbox", "replay")),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_query_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query")),
        sa.UniqueConstraint(
            "brand_id",
            "platform",
            "kind",
            "terms",
            name=op.f("uq_query_brand_id_platform_kind_terms"),
        ),
    )
    op.create_table(
        "api_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("est_cost_usd", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brand.id"],
            name=op.f("fk_api_usage_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["query.id"],
            name=op.f("fk_api_usage_query_id_query"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_usage")),
    )
    query_set = sa.column("query_id").is_not(None)
    op.create_index(
        "uq_api_usage_query_platform_day",
        "api_usage",
        ["query_id", "platform", "day"],
        unique=True,
        sqlite_where=query_set,
        postgresql_where=query_set,
    )
    no_query = sa.column("query_id").is_(None)
    op.create_index(
        "uq_api_usage_brand_platform_day",
        "api_usage",
        ["brand_id", "platform", "day"],
        unique=True,
        sqlite_where=no_query,
        postgresql_where=no_query,
    )
    op.create_table(
        "cursor",
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"], ["query.id"], name=op.f("fk_cursor_query_id_query"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("query_id", name=op.f("pk_cursor")),
    )
    op.create_table(
        "mention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("author_id", sa.String(length=128), nullable=False),
        sa.Column("author_handle", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_followers", sa.BigInteger(), nullable=True),
        sa.Column("author_verified", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("fetched_at", _utc(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("in_reply_to_id", sa.String(length=128), nullable=True),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("edited_at", _utc(), nullable=True),
        sa.Column("deleted_at", _utc(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _check_in(
            "ck_mention_state",
            "state",
            ("new", "scored", "drafted", "skipped", "ignored", "error"),
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_mention_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["query_id"], ["query.id"], name=op.f("fk_mention_query_id_query"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention")),
        sa.UniqueConstraint(
            "platform", "external_id", name=op.f("uq_mention_platform_external_id")
        ),
    )
    op.create_index("ix_mention_brand_id_created_at", "mention", ["brand_id", "created_at"])
    op.create_index("ix_mention_conversation_id", "mention", ["conversation_id"])
    op.create_index("ix_mention_state", "mention", ["state"])
    op.create_table(
        "mention_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("seen_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_mention_revision_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention_revision")),
    )
    op.create_index("ix_mention_revision_mention_id", "mention_revision", ["mention_id"])
    op.create_table(
        "score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        sa.Column("prob_negative", sa.Float(), nullable=False),
        sa.Column("prob_neutral", sa.Float(), nullable=False),
        sa.Column("prob_positive", sa.Float(), nullable=False),
        sa.Column("urgency", sa.Float(), nullable=False),
        sa.Column("urgency_level", sa.String(length=16), nullable=False),
        sa.Column("needs_reply", sa.Boolean(), nullable=False),
        sa.Column("needs_reply_prob", sa.Float(), nullable=False),
        sa.Column("troll", sa.Boolean(), nullable=False),
        sa.Column("troll_prob", sa.Float(), nullable=False),
        sa.Column("offensive_prob", sa.Float(), nullable=True),
        sa.Column("issue", sa.String(length=64), nullable=False),
        sa.Column("issue_prob", sa.Float(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        _check_in("ck_score_sentiment", "sentiment", ("negative", "neutral", "positive")),
        _check_in("ck_score_urgency_level", "urgency_level", ("low", "medium", "high")),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_score_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score")),
        sa.UniqueConstraint(
            "mention_id", "model_version", name=op.f("uq_score_mention_id_model_version")
        ),
    )
    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", _utc(), nullable=True),
        sa.Column("edited_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _check_in(
            "ck_draft_state",
            "state",
            ("pending", "approved", "sending", "sent", "failed", "rejected", "skipped"),
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_draft_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
        sa.UniqueConstraint("mention_id", name=op.f("uq_draft_mention_id")),
    )
    op.create_index("ix_draft_state", "draft", ["state"])
    op.create_table(
        "reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("posted_at", _utc(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        _check_in("ck_reply_state", "state", ("sending", "posted", "unknown")),
        sa.ForeignKeyConstraint(["draft_id"], ["draft.id"], name=op.f("fk_reply_draft_id_draft")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply")),
        sa.UniqueConstraint("draft_id", name=op.f("uq_reply_draft_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_reply_idempotency_key")),
    )


def downgrade() -> None:
    """Drop everything, children first (indexes go with their tables)."""
    for table in (
        "reply",
        "draft",
        "score",
        "mention_revision",
        "mention",
        "cursor",
        "api_usage",
        "query",
        "alert",
        "user",
        "event",
        "brand",
    ):
        op.drop_table(table)
