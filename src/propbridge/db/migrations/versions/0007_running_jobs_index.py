"""running jobs index: the running jobs of given integrations, read from the index alone

Every claim counts the running jobs of the integrations it may take work from. With only the
index on `integration_id`, that count read every job the integration ever had (a claim's cost
grew with the queue's history); SQLite kept choosing that index with statistics gathered while
the table was small.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_state_integration_id", ["state", "integration_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_state_integration_id")
