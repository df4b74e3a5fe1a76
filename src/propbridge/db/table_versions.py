"""A version counter per table, bumped in the transaction that changes the table's rows.

Lets readers reuse what they computed from a table (an exact count) until it changes, in any
process. Storage plumbing only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base
from propbridge.db.raw_reads import Rows, Statement

if TYPE_CHECKING:
    from propbridge.db.engine import Database


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


def versions_statement(tables: Sequence[str]) -> Statement:
    """The read of some tables' versions, for `RawReads.fetch` (so that a read can take them in
    the same hand-off as the rows they vouch for)."""
    marks = ", ".join("?" * len(tables))
    # Only `?` placeholders are formatted in; the names go as values.
    sql = f"SELECT table_name, version FROM table_versions WHERE table_name IN ({marks})"  # noqa: S608
    return sql, tables


def versions_from(rows: Rows, tables: Sequence[str]) -> tuple[int, ...]:
    """What `versions_statement` read, in the order of `tables` (0 for never changed)."""
    found = {name: int(version) for name, version in rows}
    return tuple(found.get(name, 0) for name in tables)


async def table_versions(database: Database, tables: Sequence[str]) -> tuple[int, ...]:
    """The current versions of some tables, in the order given (0 for never changed)."""
    [rows] = await database.raw.fetch([versions_statement(tables)])
    return versions_from(rows, tables)
