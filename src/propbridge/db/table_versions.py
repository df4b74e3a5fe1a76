"""A version counter per table, bumped in the transaction that changes the table's rows.

Lets readers reuse what they computed from a table (an exact count) until it changes, in any
process. Storage plumbing only.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base


class TableVersion(Base):
    """How many times a table's rows were changed by syncs or admin actions."""

    __tablename__ = "table_versions"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


async def bump_table_versions(session: AsyncSession, tables: Iterable[str]) -> None:
    """Mark tables as changed, in the caller's transaction."""
    names = set(tables)
    if not names:
        return
    await session.execute(
        update(TableVersion)
        .where(TableVersion.table_name.in_(names))
        .values(version=TableVersion.version + 1)
    )
    known = set(
        (
            await session.execute(
                select(TableVersion.table_name).where(TableVersion.table_name.in_(names))
            )
        ).scalars()
    )
    if names - known:
        await session.execute(
            insert(TableVersion),
            [{"table_name": name, "version": 1} for name in sorted(names - known)],
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
