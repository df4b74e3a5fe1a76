"""live ResMan shapes: charge-code category types, reversed transactions, lease dates and rent,
notice dates, unit types, floor-plan images

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose stored documents change shape: emptied, so that they are rendered from their
# columns until the next sync writes them again.
RESHAPED = ("charge_codes", "resident_charges", "resident_payments", "floor_plans", "units")


def upgrade() -> None:
    with op.batch_alter_table("charge_codes", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            new_column_name="category_type",
            existing_type=sa.String(),
            type_=sa.String(length=16),
            existing_nullable=True,
        )
    for table in ("resident_charges", "resident_payments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("reversed_date", sa.String(length=10), nullable=True))
            batch_op.drop_index(f"ix_{table}_integration_id_created_at_id")
            batch_op.create_index(
                f"ix_{table}_integration_id_reversed_date_created_at_id",
                ["integration_id", "reversed_date", "created_at", "id"],
                unique=False,
            )
    with op.batch_alter_table("leases", schema=None) as batch_op:
        for name in (
            "application_date",
            "signature_date",
            "scheduled_move_in_date",
            "scheduled_move_out_date",
        ):
            batch_op.add_column(sa.Column(name, sa.String(), nullable=True))
        batch_op.add_column(sa.Column("rent_amount_in_cents", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("residents_to_leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_date", sa.String(), nullable=True))
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("x_unit_type_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("is_listed", sa.Boolean(), nullable=True))
    with op.batch_alter_table("floor_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_urls", sa.JSON(), nullable=True))
    for table in RESHAPED:
        op.execute(sa.table(table, sa.column("document")).update().values(document=None))


def downgrade() -> None:
    with op.batch_alter_table("floor_plans", schema=None) as batch_op:
        batch_op.drop_column("image_urls")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("is_listed")
        batch_op.drop_column("x_unit_type_id")
    with op.batch_alter_table("residents_to_leases", schema=None) as batch_op:
        batch_op.drop_column("notice_date")
    with op.batch_alter_table("leases", schema=None) as batch_op:
        for name in (
            "rent_amount_in_cents",
            "scheduled_move_out_date",
            "scheduled_move_in_date",
            "signature_date",
            "application_date",
        ):
            batch_op.drop_column(name)
    for table in ("resident_payments", "resident_charges"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_integration_id_reversed_date_created_at_id")
            batch_op.create_index(
                f"ix_{table}_integration_id_created_at_id",
                ["integration_id", "created_at", "id"],
                unique=False,
            )
            batch_op.drop_column("reversed_date")
    with op.batch_alter_table("charge_codes", schema=None) as batch_op:
        batch_op.alter_column(
            "category_type",
            new_column_name="kind",
            existing_type=sa.String(length=16),
            type_=sa.String(),
            existing_nullable=True,
        )
    for table in RESHAPED:
        op.execute(sa.table(table, sa.column("document")).update().values(document=None))
