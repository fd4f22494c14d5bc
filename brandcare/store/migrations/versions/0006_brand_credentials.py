"""Per-brand platform credentials: the name of the profile a brand reads and posts with.

Nullable: existing brands keep the deployment-wide credentials they used so far.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("brand") as batch:
        batch.add_column(sa.Column("credentials", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("brand") as batch:
        batch.drop_column("credentials")
