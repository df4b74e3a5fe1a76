"""ledger listing index: ordered by the integration's creation order, reversed_date last

PostgreSQL does not take `reversed_date IS NULL` as an equality when it orders by an index, so
an index that put reversed_date before created_at could not serve a list's order there (every
page sorted the whole integration). With reversed_date last, both engines walk the index in
order and filter reversed rows from the index alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("resident_charges", "resident_payments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_integration_id_reversed_date_created_at_id")
            batch_op.create_index(
                f"ix_{table}_integration_id_created_at_id_reversed_date",
                ["integration_id", "created_at", "id", "reversed_date"],
                unique=False,
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_integration_id_created_at_id_reversed_date")
            batch_op.create_index(
                f"ix_{table}_integration_id_reversed_date_created_at_id",
                ["integration_id", "reversed_date", "created_at", "id"],
                unique=False,
            )
