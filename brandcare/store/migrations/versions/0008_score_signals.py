"""Scores keep the care signals the model found, its abuse probability and the language.

Drafting reads the stored signals (the model's, with the words they rest on) instead of
re-deriving them from word lists, and the inbox filters by language so a speaker can
take a post the model cannot read.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score") as batch:
        batch.add_column(sa.Column("signals", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("abusive_prob", sa.Float(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
        batch.create_index(op.f("ix_score_language"), ["language"])


def downgrade() -> None:
    with op.batch_alter_table("score") as batch:
        batch.drop_index(op.f("ix_score_language"))
        batch.drop_column("language")
        batch.drop_column("abusive_prob")
        batch.drop_column("signals")
