"""Score rows keep the mention's vector from the pass that scored it; reply memory is
indexed by (brand, id).

Drafting compared each mention with reply memory by running the encoder a second time:
a third of a worker's CPU at volume. The score stage now stores the vector it already
had, for the mentions the policy answers; rows scored before stay without one and are
embedded at drafting as before. Drafting reads a brand's memory rows past the last one
it saw, which without the index read all of the brand's rows each batch.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score") as batch:
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("encoder", sa.String(64), nullable=True))
    op.create_index("ix_reply_memory_brand_id_id", "reply_memory", ["brand_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_reply_memory_brand_id_id", table_name="reply_memory")
    with op.batch_alter_table("score") as batch:
        batch.drop_column("encoder")
        batch.drop_column("embedding")
