"""hardening: write retry chains, key expiry and last use, deployment-wide schedules, delivery
attempts without timings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 23:30:00
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
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_root", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_write_requests_retry_of"), ["retry_of"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_write_requests_retry_root"), ["retry_root"], unique=False
        )
    # Retries recorded before chains existed: each is the first retry of the write it re-sends.
    requests = sa.table("write_requests", sa.column("retry_of"), sa.column("retry_root"))
    op.execute(
        requests.update()
        .where(requests.c.retry_of.is_not(None))
        .values(retry_root=requests.c.retry_of)
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        for name in ("expires_at", "last_used_at"):
            batch_op.add_column(
                sa.Column(name, propbridge.db.base.UTCDateTime(timezone=True), nullable=True)
            )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.alter_column("integration_id", existing_type=sa.String(length=36), nullable=True)
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.alter_column("latency_ms", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.alter_column("latency_ms", existing_type=sa.Float(), nullable=False)
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.alter_column("integration_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("write_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_write_requests_retry_root"))
        batch_op.drop_index(batch_op.f("ix_write_requests_retry_of"))
        batch_op.drop_column("retry_root")
