"""table versions and list indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 23:38:02.464306
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "table_versions",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_table_versions")),
    )
    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_charges_integration_id_created_at_id"),
            ["integration_id", "created_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_payments_integration_id_created_at_id"),
            ["integration_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id_created_at_id"))

    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id_created_at_id"))

    op.drop_table("table_versions")
