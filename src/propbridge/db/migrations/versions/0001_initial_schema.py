"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:58:56.265239
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import propbridge.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("integration_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    op.create_table(
        "integrations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("credentials_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sync_frequency", sa.Integer(), nullable=False),
        sa.Column("sync_cadence", sa.String(length=16), nullable=False),
        sa.Column("max_request_frequency", sa.Integer(), nullable=False),
        sa.Column("max_request_cadence", sa.String(length=16), nullable=False),
        sa.Column("max_job_concurrency", sa.Integer(), nullable=False),
        sa.Column("new_properties_are_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "last_completed_sync", propbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("deleted_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
    )
    op.create_table(
        "jobs",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.String(length=36), nullable=True),
        sa.Column("concurrency_key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("finished_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claimable", ["state", "run_after"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_jobs_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(
            "uq_jobs_active_concurrency_key",
            ["concurrency_key"],
            unique=True,
            sqlite_where=sa.text("state IN ('queued', 'running') AND concurrency_key IS NOT NULL"),
            postgresql_where=sa.text(
                "state IN ('queued', 'running') AND concurrency_key IS NOT NULL"
            ),
        )

    op.create_table(
        "table_versions",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_table_versions")),
    )
    op.create_table(
        "job_attempts",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("started_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_attempts_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_attempts")),
    )
    with op.batch_alter_table("job_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_attempts_job_id"), ["job_id"], unique=False)

    op.create_table(
        "properties",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("code", sa.String(), nullable=True),
        sa.Column("address_1", sa.String(), nullable=True),
        sa.Column("address_2", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("zip", sa.String(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=True),
        sa.Column("manager_name", sa.String(), nullable=True),
        sa.Column("manager_email", sa.String(), nullable=True),
        sa.Column("manager_phone_1", sa.String(), nullable=True),
        sa.Column("type_raw", sa.String(), nullable=True),
        sa.Column("type_normalized", sa.String(), nullable=True),
        sa.Column("number_of_units", sa.Integer(), nullable=True),
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
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_properties_integration_id_integrations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_properties")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_properties_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_properties_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_properties_integration_id"), ["integration_id"], unique=False
        )

    op.create_table(
        "schedules",
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_job_id", sa.String(length=36), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_schedules_integration_id_integrations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint(
            "integration_id", "kind", name=op.f("uq_schedules_integration_id_kind")
        ),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_next_run_at"), ["next_run_at"], unique=False)

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
    op.create_table(
        "sync_runs",
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_runs_integration_id_integrations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_runs_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sync_runs_job_id"), ["job_id"], unique=False)

    op.create_table(
        "write_requests",
        sa.Column("integration_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("request_body", sa.JSON(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("dispatched_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_write_requests_integration_id_integrations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_requests")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_write_requests_dedupe_key")),
        sa.UniqueConstraint("job_id", name=op.f("uq_write_requests_job_id")),
    )
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_write_requests_integration_id"), ["integration_id"], unique=False
        )

    op.create_table(
        "charge_codes",
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("debit_gl_account", sa.String(), nullable=True),
        sa.Column("credit_gl_account", sa.String(), nullable=True),
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
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_charge_codes_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_charge_codes_property_id_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_codes")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_charge_codes_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("charge_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charge_codes_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_charge_codes_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_charge_codes_property_id"), ["property_id"], unique=False
        )

    op.create_table(
        "leases",
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("x_unit_id", sa.String(), nullable=True),
        sa.Column("x_billing_account_id", sa.String(), nullable=True),
        sa.Column("unit_number", sa.String(), nullable=True),
        sa.Column("start_date", sa.String(), nullable=True),
        sa.Column("end_date", sa.String(), nullable=True),
        sa.Column("realized_move_in_date", sa.String(), nullable=True),
        sa.Column("realized_move_out_date", sa.String(), nullable=True),
        sa.Column("status_raw", sa.String(), nullable=True),
        sa.Column("status_normalized", sa.String(), nullable=True),
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
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_leases_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_leases_property_id_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leases")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_leases_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leases_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_leases_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_leases_property_id"), ["property_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_leases_status_normalized"), ["status_normalized"], unique=False
        )

    op.create_table(
        "residents",
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("x_lease_id", sa.String(), nullable=True),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("middle_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("email_1", sa.String(), nullable=True),
        sa.Column("phone_1", sa.String(), nullable=True),
        sa.Column("phone_1_type", sa.String(), nullable=True),
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
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_residents_integration_id_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_residents_property_id_properties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
        sa.UniqueConstraint(
            "integration_id",
            "x_property_id",
            "x_id",
            name=op.f("uq_residents_integration_id_x_property_id_x_id"),
        ),
    )
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residents_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_residents_email_1"), ["email_1"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_residents_integration_id"), ["integration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_residents_phone_1"), ["phone_1"], unique=False)
        batch_op.create_index(batch_op.f("ix_residents_property_id"), ["property_id"], unique=False)

    op.create_table(
        "write_items",
        sa.Column("write_request_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reference_number", sa.String(length=200), nullable=False),
        sa.Column("batch_id", sa.String(length=200), nullable=False),
        sa.Column("amount_in_cents", sa.Integer(), nullable=False),
        sa.Column("x_property_id", sa.String(length=128), nullable=False),
        sa.Column("x_lease_id", sa.String(length=128), nullable=False),
        sa.Column("upstream", sa.JSON(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["write_request_id"],
            ["write_requests.id"],
            name=op.f("fk_write_items_write_request_id_write_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_items")),
        sa.UniqueConstraint(
            "write_request_id", "position", name=op.f("uq_write_items_write_request_id_position")
        ),
    )
    with op.batch_alter_table("write_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_write_items_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_write_items_write_request_id"), ["write_request_id"], unique=False
        )

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
            batch_op.f("ix_resident_charges_integration_id_created_at_id"),
            ["integration_id", "created_at", "id"],
            unique=False,
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
            batch_op.f("ix_resident_payments_integration_id_created_at_id"),
            ["integration_id", "created_at", "id"],
            unique=False,
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

    op.create_table(
        "residents_to_leases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=36), nullable=False),
        sa.Column("lease_id", sa.String(length=36), nullable=False),
        sa.Column("x_resident_type", sa.String(), nullable=True),
        sa.Column("resident_type_normalized", sa.String(), nullable=True),
        sa.Column("move_in_date", sa.String(), nullable=True),
        sa.Column("move_out_date", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lease_id"], ["leases.id"], name=op.f("fk_residents_to_leases_lease_id_leases")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_residents_to_leases_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents_to_leases")),
        sa.UniqueConstraint(
            "resident_id", "lease_id", name=op.f("uq_residents_to_leases_resident_id_lease_id")
        ),
    )
    with op.batch_alter_table("residents_to_leases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_residents_to_leases_lease_id"), ["lease_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_residents_to_leases_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("residents_to_leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_to_leases_resident_id"))
        batch_op.drop_index(batch_op.f("ix_residents_to_leases_lease_id"))

    op.drop_table("residents_to_leases")
    with op.batch_alter_table("resident_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_payments_resident_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_property_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_lease_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id_transaction_date"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_integration_id"))
        batch_op.drop_index(batch_op.f("ix_resident_payments_created_at"))

    op.drop_table("resident_payments")
    with op.batch_alter_table("resident_charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_charges_resident_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_property_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_lease_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id_transaction_date"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_integration_id"))
        batch_op.drop_index(batch_op.f("ix_resident_charges_created_at"))

    op.drop_table("resident_charges")
    with op.batch_alter_table("fees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fees_x_floor_plan_id"))
        batch_op.drop_index(batch_op.f("ix_fees_property_id"))
        batch_op.drop_index(batch_op.f("ix_fees_integration_id"))
        batch_op.drop_index(batch_op.f("ix_fees_created_at"))
        batch_op.drop_index(batch_op.f("ix_fees_charge_code_id"))

    op.drop_table("fees")
    with op.batch_alter_table("write_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_write_items_write_request_id"))
        batch_op.drop_index(batch_op.f("ix_write_items_status"))

    op.drop_table("write_items")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_property_id"))
        batch_op.drop_index(batch_op.f("ix_residents_phone_1"))
        batch_op.drop_index(batch_op.f("ix_residents_integration_id"))
        batch_op.drop_index(batch_op.f("ix_residents_email_1"))
        batch_op.drop_index(batch_op.f("ix_residents_created_at"))

    op.drop_table("residents")
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leases_status_normalized"))
        batch_op.drop_index(batch_op.f("ix_leases_property_id"))
        batch_op.drop_index(batch_op.f("ix_leases_integration_id"))
        batch_op.drop_index(batch_op.f("ix_leases_created_at"))

    op.drop_table("leases")
    with op.batch_alter_table("charge_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_codes_property_id"))
        batch_op.drop_index(batch_op.f("ix_charge_codes_integration_id"))
        batch_op.drop_index(batch_op.f("ix_charge_codes_created_at"))

    op.drop_table("charge_codes")
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_write_requests_integration_id"))

    op.drop_table("write_requests")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_job_id"))
        batch_op.drop_index(batch_op.f("ix_sync_runs_integration_id"))

    op.drop_table("sync_runs")
    op.drop_table("sync_checkpoints")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_next_run_at"))

    op.drop_table("schedules")
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_properties_integration_id"))
        batch_op.drop_index(batch_op.f("ix_properties_created_at"))

    op.drop_table("properties")
    with op.batch_alter_table("job_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_attempts_job_id"))

    op.drop_table("job_attempts")
    op.drop_table("table_versions")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_active_concurrency_key",
            sqlite_where=sa.text("state IN ('queued', 'running') AND concurrency_key IS NOT NULL"),
            postgresql_where=sa.text(
                "state IN ('queued', 'running') AND concurrency_key IS NOT NULL"
            ),
        )
        batch_op.drop_index(batch_op.f("ix_jobs_integration_id"))
        batch_op.drop_index("ix_jobs_claimable")

    op.drop_table("jobs")
    op.drop_table("integrations")
    op.drop_table("api_keys")
