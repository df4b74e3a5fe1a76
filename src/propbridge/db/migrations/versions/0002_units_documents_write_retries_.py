"""units, documents, write retries, idempotency, webhooks, usage windows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:30:48.554923
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
        "idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("owner", "key", name=op.f("uq_idempotency_keys_owner_key")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "usage_windows",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "window", name=op.f("pk_usage_windows")),
    )
    op.create_table(
        "webhook_events",
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("integration_id", sa.String(length=36), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.String(length=36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    op.create_table(
        "webhooks",
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("integration_ids", sa.JSON(), nullable=True),
        sa.Column("deleted_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_attempt_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name=op.f("fk_webhook_deliveries_event_id_webhook_events"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "webhook_id", "event_id", name=op.f("uq_webhook_deliveries_webhook_id_event_id")
        ),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_webhook_id_state_created_at_id"),
            ["webhook_id", "state", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "floor_plans",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("bedrooms", sa.Integer(), nullable=True),
        sa.Column("bathrooms", sa.String(length=16), nullable=True),
        sa.Column("rentable_square_feet", sa.Integer(), nullable=True),
        sa.Column("rent_minimum_in_cents", sa.BigInteger(), nullable=True),
        sa.Column("rent_maximum_in_cents", sa.BigInteger(), nullable=True),
        sa.Column("unit_count", sa.Integer(), nullable=True),
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("x_id", sa.String(length=128), nullable=False),
        sa.Column("x_property_id", sa.String(length=128), nullable=False),
        sa.Column("last_seen", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("custom_data", sa.JSON(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("integration_vendor", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_floor_plans_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_floor_plans_property_id_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floor_plans")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_floor_plans_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("floor_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_floor_plans_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_floor_plans_property_id"), ["property_id"], unique=False
        )

    op.create_table(
        "units",
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("x_floor_plan_id", sa.String(length=128), nullable=True),
        sa.Column("floor_plan_id", sa.String(length=36), nullable=True),
        sa.Column("floor_plan_code", sa.String(length=64), nullable=True),
        sa.Column("floor_plan_name", sa.String(), nullable=True),
        sa.Column("bedrooms", sa.String(length=16), nullable=True),
        sa.Column("bathrooms", sa.String(length=16), nullable=True),
        sa.Column("building_name", sa.String(), nullable=True),
        sa.Column("floor", sa.String(length=32), nullable=True),
        sa.Column("street_address_1", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("zip", sa.String(), nullable=True),
        sa.Column("square_feet", sa.Integer(), nullable=True),
        sa.Column("rent_amount_market_in_cents", sa.BigInteger(), nullable=True),
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("x_id", sa.String(length=128), nullable=False),
        sa.Column("x_property_id", sa.String(length=128), nullable=False),
        sa.Column("last_seen", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("custom_data", sa.JSON(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("integration_vendor", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_units_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_units_property_id_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_units_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_floor_plan_id"), ["floor_plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_property_id"), ["property_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_units_property_id_number"), ["property_id", "number"], unique=False
        )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("attempted_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit", sa.Integer(), nullable=True))

    with op.batch_alter_table("charge_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_charge_codes_integration_id"))

    with op.batch_alter_table("fees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor_plan_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_fees_integration_id"))
        batch_op.create_index(batch_op.f("ix_fees_floor_plan_id"), ["floor_plan_id"], unique=False)

    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_leases_integration_id"))
        batch_op.create_index(batch_op.f("ix_leases_unit_id"), ["unit_id"], unique=False)

    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_properties_integration_id"))

    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_resident_charges_lease_id_leases"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_resident_charges_resident_id_residents"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_resident_charges_charge_code_id_charge_codes"), type_="foreignkey"
        )

    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_resident_payments_resident_id_residents"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_resident_payments_charge_code_id_charge_codes"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_resident_payments_lease_id_leases"), type_="foreignkey"
        )

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_residents_integration_id"))

    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_of", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.drop_column("retry_of")

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_residents_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")

    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_payments_lease_id_leases"), "leases", ["lease_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_payments_charge_code_id_charge_codes"),
            "charge_codes",
            ["charge_code_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_payments_resident_id_residents"),
            "residents",
            ["resident_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_resident_payments_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")
        batch_op.drop_column("unit_id")

    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_charges_charge_code_id_charge_codes"),
            "charge_codes",
            ["charge_code_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_charges_resident_id_residents"),
            "residents",
            ["resident_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_resident_charges_lease_id_leases"), "leases", ["lease_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_resident_charges_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")
        batch_op.drop_column("unit_id")

    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_properties_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")

    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leases_unit_id"))
        batch_op.create_index(
            batch_op.f("ix_leases_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")
        batch_op.drop_column("unit_id")

    with op.batch_alter_table("fees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fees_floor_plan_id"))
        batch_op.create_index(
            batch_op.f("ix_fees_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")
        batch_op.drop_column("floor_plan_id")

    with op.batch_alter_table("charge_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charge_codes_integration_id"), ["integration_id"], unique=False
        )
        batch_op.drop_column("document")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("rate_limit")

    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_property_id_number"))
        batch_op.drop_index(batch_op.f("ix_units_property_id"))
        batch_op.drop_index(batch_op.f("ix_units_floor_plan_id"))
        batch_op.drop_index(batch_op.f("ix_units_created_at"))

    op.drop_table("units")
    with op.batch_alter_table("floor_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_floor_plans_property_id"))
        batch_op.drop_index(batch_op.f("ix_floor_plans_created_at"))

    op.drop_table("floor_plans")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_webhook_id_state_created_at_id"))

    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("webhook_events")
    op.drop_table("usage_windows")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
