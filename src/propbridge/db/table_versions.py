"""A version counter per table, bumped in the transaction that changes the table's rows.

Lets readers reuse what they computed from a table (an exact count) until it changes, in any
process. Storage plumbing only.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base


class TableVersion(Base):
    """How many times a table's rows were changed by syncs or admin actions."""

    __tablename__ = "table_versions"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


async def bump_table_versions(session: AsyncSession, tables: Iterable[str]) -> None:
    """Mark tables as changed, in the caller's transaction.

    One upsert: two transactions that both find a table's counter missing (two first syncs
    at once on PostgreSQL) would otherwise both insert it, and one would fail on the key. The
    names go in sorted, so concurrent bumps lock the counters in the same order."""
    names = sorted(set(tables))
    if not names:
        return
    dialect = (await session.connection()).dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(TableVersion)
        .values([{"table_name": name, "version": 1} for name in names])
        .on_conflict_do_update(
            index_elements=[TableVersion.table_name],
            set_={"version": TableVersion.version + 1},
        )
    )


async def table_versions(
    db: AsyncSession | AsyncConnection, tables: Iterable[str]
) -> tuple[int, ...]:
    """The current versions of some tables, in the order given (0 for never changed)."""
    names = list(tables)
    rows = dict(
        (
            await db.execute(
                select(TableVersion.table_name, TableVersion.version).where(
                    TableVersion.table_name.in_(names)
                )
            )
        ).all()
    )
    return tuple(int(rows.get(name, 0)) for name in names)
