"""What only the console reads: how many records each integration holds, model by model.

Read-only; every other figure a console page shows comes from its domain's own service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from propbridge.db.engine import Executor


async def record_counts(db: Executor, table: Any, integration_ids: Sequence[str]) -> dict[str, int]:
    """How many records of one synced table each of these integrations holds."""
    rows = await db.execute(
        select(table.c.integration_id, func.count())
        .where(table.c.integration_id.in_(integration_ids))
        .group_by(table.c.integration_id)
    )
    return {str(integration_id): int(count) for integration_id, count in rows}
