"""The inbox's activity lanes read drafts by state, newest activity first.

Without this index the sent lane sorted every sent draft on each refresh (0.75 s at a
quarter of a million drafts; 0.01 s with it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_draft_state_updated_at", "draft", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_draft_state_updated_at", table_name="draft")
