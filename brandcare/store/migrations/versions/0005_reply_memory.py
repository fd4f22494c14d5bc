"""Reply memory: replies the team stood behind, for drafts that adapt them.

Self-contained like 0001: it copies types and value lists instead of importing models.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add ``reply_memory`` and ``draft.based_on`` (nullable: old drafts came from templates)."""
    op.create_table(
        "reply_memory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("author_handle", sa.String(200), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("mention_text", sa.Text(), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("mentioned_at", _utc(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("encoder", sa.String(64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint(
            sa.column("source").in_(("approved", "imported")), name=op.f("ck_reply_memory_source")
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_reply_memory_brand_id_brand"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mention.id"], name=op.f("fk_reply_memory_mention_id_mention"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_memory")),
        sa.UniqueConstraint(
            "brand_id", "source", "source_ref",
            name=op.f("uq_reply_memory_brand_id_source_source_ref"),
        ),
    )  # fmt: skip
    with op.batch_alter_table("draft") as batch:
        batch.add_column(sa.Column("based_on", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_draft_based_on_reply_memory"),
            "reply_memory",
            ["based_on"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Drop what upgrade added (batch mode: SQLite cannot drop columns in place)."""
    with op.batch_alter_table("draft") as batch:
        batch.drop_constraint(op.f("fk_draft_based_on_reply_memory"), type_="foreignkey")
        batch.drop_column("based_on")
    op.drop_table("reply_memory")
