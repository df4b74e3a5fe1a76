"""write references: each (integration, batch_id, reference_number) held by the write that
first used it, whatever its route

Dedupe keys were per operation and per batch, so the same reference could reach ResMan again
as a one-item batch, through the generic route or as a payment. Existing writes claim their
references here (retries excepted: a chain's first write holds them), so an upgraded deployment
refuses reuse of references it already sent, and a retry of another chain with them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key was the three parts joined by U+001F (0010 claims references per PMS account instead). Where older writes shared
# a reference, the claim goes to the first one ResMan did not reject (it may hold that one),
# else to the first.
BACKFILL = """
INSERT INTO write_references (reference_key, job_id)
SELECT reference_key, job_id FROM (
  SELECT r.integration_id || '{sep}' || i.batch_id || '{sep}' || i.reference_number
           AS reference_key,
         r.job_id,
         ROW_NUMBER() OVER (
           PARTITION BY r.integration_id, i.batch_id, i.reference_number
           ORDER BY CASE WHEN i.status = 'REJECTED' THEN 1 ELSE 0 END, r.created_at, r.job_id
         ) AS n
  FROM write_items i JOIN write_requests r ON r.id = i.write_request_id
  WHERE r.retry_of IS NULL
) ranked
WHERE n = 1
"""


def upgrade() -> None:
    op.create_table(
        "write_references",
        sa.Column("reference_key", sa.String(length=600), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("reference_key"),
    )
    op.execute(BACKFILL.format(sep="\x1f"))


def downgrade() -> None:
    op.drop_table("write_references")
