"""integration auth state: whether the PMS took the credentials at the last call that could
tell, and since when

Existing integrations start unknown (NULL): nothing recorded says how their credentials fared.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import propbridge.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_auth_ok", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("last_auth_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("last_auth_at")
        batch_op.drop_column("last_auth_ok")
