"""API tokens carry scopes: the inbox, and scoring as a service (``POST /api/v1/score``).

Every existing token keeps exactly the access it had (``inbox``) and gains no scoring:
a deployment decides who may score by issuing tokens with ``--scope score``.
Downgrading revokes the tokens that lack the inbox scope: the older schema knows no
scopes, so a scoring-only token would otherwise start reading and acting on the inbox.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(
            sa.Column("api_token_scopes", sa.String(64), nullable=False, server_default="inbox")
        )


def downgrade() -> None:
    user = sa.table(
        "user", sa.column("api_token_hash", sa.String), sa.column("api_token_scopes", sa.String)
    )
    op.execute(
        user.update()
        .where(sa.not_(user.c.api_token_scopes.like("%inbox%")))
        .values(api_token_hash=None)
    )
    with op.batch_alter_table("user") as batch:
        batch.drop_column("api_token_scopes")
