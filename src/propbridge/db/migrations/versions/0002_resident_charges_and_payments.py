"""resident charges and payments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:25:18.781729
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import propbridge.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident_charges",
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("lease_id", sa.String(length=36), nullable=True),
        sa.Column("resident_id", sa.String(length=36), nullable=True),
        sa.Column("charge_code_id", sa.String(length=36), nullable=True),
        sa.Column("x_lease_id", sa.String(length=128), nullable=True),
        sa.Column("x_resident_id", sa.String(length=128), nullable=True),
        sa.Column("x_unit_id", sa.String(length=128), nullable=True),
        sa.Column("x_charge_code_id", sa.String(length=128), nullable=True),
        sa.Column("x_billing_account_id", sa.String(length=128), nullable=True),
        sa.Column("amount_in_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_raw", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("reference_number", sa.String(), nullable=True),
        sa.Column("transaction_date", sa.String(), nullable=True),
        sa.Column("post_month", sa.String(), nullable=True),
        sa.Column("transaction_type", sa.String(length=32), nullable=True),
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
            name=op.f("fk_resident_charges_charge_code_id_charge_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_resident_charges_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_resident_charges_lease_id_leases")
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_resident_charges_property_id_properties"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_charges_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_charges")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_resident_charges_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_charges_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_charges_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_charges_integration_id_transaction_date"),
            ["integration_id", "transaction_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_resident_charges_lease_id"), ["lease_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_charges_property_id"), ["property_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_charges_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "resident_payments",
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("lease_id", sa.String(length=36), nullable=True),
        sa.Column("resident_id", sa.String(length=36), nullable=True),
        sa.Column("charge_code_id", sa.String(length=36), nullable=True),
        sa.Column("payment_method_raw", sa.String(), nullable=True),
        sa.Column("payment_method_normalized", sa.String(), nullable=True),
        sa.Column("x_lease_id", sa.String(length=128), nullable=True),
        sa.Column("x_resident_id", sa.String(length=128), nullable=True),
        sa.Column("x_unit_id", sa.String(length=128), nullable=True),
        sa.Column("x_charge_code_id", sa.String(length=128), nullable=True),
        sa.Column("x_billing_account_id", sa.String(length=128), nullable=True),
        sa.Column("amount_in_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_raw", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("reference_number", sa.String(), nullable=True),
        sa.Column("transaction_date", sa.String(), nullable=True),
        sa.Column("post_month", sa.String(), nullable=True),
        sa.Column("transaction_type", sa.String(length=32), nullable=True),
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
            name=op.f("fk_resident_payments_charge_code_id_charge_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_resident_payments_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_resident_payments_lease_id_leases")
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_resident_payments_property_id_properties"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_payments_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_payments")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_resident_payments_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_payments_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_payments_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_payments_integration_id_transaction_date"),
            ["integration_id", "transaction_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_resident_payments_lease_id"), ["lease_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_payments_property_id"), ["property_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_payments_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_payments_resident_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_property_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_lease_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id_transaction_date"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_created_at"))

    op.drop_table("resident_payments")
    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_charges_resident_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_property_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_lease_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id_transaction_date"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_created_at"))

    op.drop_table("resident_charges")
