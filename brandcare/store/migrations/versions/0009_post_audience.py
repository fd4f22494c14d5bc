"""Mentions keep who may see them, their content warning and their server's reply limit.

Mastodon posts carry a visibility (public, unlisted, private, direct) that a reply must
keep, and a content warning agents must see; a Mastodon instance sets its own length
limit. All three are nullable: X, Reddit and Bluesky posts have none of them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.add_column(sa.Column("visibility", sa.String(16), nullable=True))
        batch.add_column(sa.Column("content_warning", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reply_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mention") as batch:
        batch.drop_column("reply_limit")
        batch.drop_column("content_warning")
        batch.drop_column("visibility")
