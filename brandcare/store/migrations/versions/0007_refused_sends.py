"""A reply attempt the platform refused before posting (a rate limit): reply state ``refused``.

Such an attempt published nothing, so its retry posts as soon as the limit resets instead
of waiting out the settle window that an unclear attempt needs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("sending", "posted", "unknown")
_NEW = (*_OLD, "refused")


def _states(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("reply") as batch:
        batch.drop_constraint(op.f("ck_reply_state"), type_="check")
        batch.create_check_constraint(op.f("ck_reply_state"), sa.column("state").in_(values))


def upgrade() -> None:
    _states(_NEW)


def downgrade() -> None:
    # A refused attempt published nothing; "unknown" makes the retry look first, which
    # is what the older code does with any unsettled attempt.
    reply = sa.table("reply", sa.column("state", sa.String(16)))
    op.execute(reply.update().where(reply.c.state == "refused").values(state="unknown"))
    _states(_OLD)
