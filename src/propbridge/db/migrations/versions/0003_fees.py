"""fees

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 23:28:54.225823
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import propbridge.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fees",
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("charge_code_id", sa.String(length=36), nullable=True),
        sa.Column("x_charge_code_id", sa.String(length=128), nullable=True),
        sa.Column("charge_code_code", sa.String(length=32), nullable=True),
        sa.Column("charge_code_name", sa.String(), nullable=True),
        sa.Column("x_floor_plan_id", sa.String(length=128), nullable=True),
        sa.Column("x_unit_id", sa.String(length=128), nullable=True),
        sa.Column("amount_in_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_raw", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("frequency", sa.String(), nullable=True),
        sa.Column("x_id", sa.String(length=128), nullable=False),
        sa.Column("x_property_id", sa.String(length=128), nullable=False),
        sa.Column("last_seen", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("custom_data", sa.JSON(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("integration_vendor", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_code_id"],
            ["charge_codes.id"],
            name=op.f("fk_fees_charge_code_id_charge_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_fees_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_fees_property_id_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fees")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_fees_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("fees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fees_charge_code_id"), ["charge_code_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fees_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fees_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fees_property_id"), ["property_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fees_x_floor_plan_id"), ["x_floor_plan_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fees_x_floor_plan_id"))
        batch_op.drop_index(batch_op.f("ix_fees_property_id"))
        batch_op.drop_index(batch_op.f("ix_fees_integration_id"))
        batch_op.drop_index(batch_op.f("ix_fees_created_at"))
        batch_op.drop_index(batch_op.f("ix_fees_charge_code_id"))

    op.drop_table("fees")
