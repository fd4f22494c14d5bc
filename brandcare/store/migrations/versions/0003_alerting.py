"""Spike alerts: per-brand noise controls and the alert's severity.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns (nullable or defaulted, so existing rows stay valid)."""
    op.add_column(
        "brand", sa.Column("alerting", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column("alert", sa.Column("severity", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("severity")
    with op.batch_alter_table("brand") as batch:
        batch.drop_column("alerting")
