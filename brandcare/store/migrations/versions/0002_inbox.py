"""The social care inbox: web sessions, label corrections, claims, the four-eyes rule.

Self-contained like 0001: it copies types and value lists instead of importing models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the inbox's tables and columns; existing rows keep working (all nullable)."""
    op.add_column("brand", sa.Column("second_approval_urgency", sa.String(16), nullable=True))
    op.add_column(
        "brand", sa.Column("second_approval_min_followers", sa.BigInteger(), nullable=True)
    )
    op.add_column("draft", sa.Column("first_approved_by", sa.String(100), nullable=True))
    op.add_column("draft", sa.Column("first_approved_at", _utc(), nullable=True))
    op.add_column("draft", sa.Column("claimed_by", sa.String(100), nullable=True))
    op.add_column("draft", sa.Column("claimed_until", _utc(), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_web_session_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"])
    op.create_table(
        "correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("value", sa.String(16), nullable=False),
        sa.Column("previous", sa.String(16), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.CheckConstraint(
            sa.column("field").in_(("sentiment", "urgency_level", "troll")),
            name=op.f("ck_correction_field"),
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mention.id"],
            name=op.f("fk_correction_mention_id_mention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction")),
    )
    op.create_index(op.f("ix_correction_mention_id"), "correction", ["mention_id"])


def downgrade() -> None:
    """Drop what upgrade added (batch mode: SQLite cannot drop columns in place)."""
    op.drop_table("correction")
    op.drop_table("web_session")
    with op.batch_alter_table("draft") as batch:
        for name in ("claimed_until", "claimed_by", "first_approved_at", "first_approved_by"):
            batch.drop_column(name)
    with op.batch_alter_table("brand") as batch:
        batch.drop_column("second_approval_min_followers")
        batch.drop_column("second_approval_urgency")
