"""sync checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 23:30:55.307942
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import propbridge.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_checkpoints",
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("fetched_from", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_checkpoints_integration_id_integrations"),
        ),
        sa.PrimaryKeyConstraint("integration_id", "feed", name=op.f("pk_sync_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("sync_checkpoints")
