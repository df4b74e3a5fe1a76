"""Counting uses per fixed time window, in the database, so that every process shares the count.

Storage plumbing for API-key rate limits and per-integration PMS request budgets.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base
from propbridge.db.engine import Database


class UsageWindow(Base):
    """How many times `subject` (`key:<id>`, `pms:<integration id>`) was used in one window."""

    __tablename__ = "usage_windows"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


async def count_use(database: Database, subject: str, window: int) -> int:
    """Add one use to `subject`'s `window` and return that window's count (its own transaction).

    The first use of a window clears the subject's older windows."""
    insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
    statement = (
        insert(UsageWindow)
        .values(subject=subject, window=window, count=1)
        .on_conflict_do_update(
            index_elements=["subject", "window"], set_={"count": UsageWindow.count + 1}
        )
        .returning(UsageWindow.count)
    )
    async with database.write_connection() as connection:
        count = int((await connection.execute(statement)).scalar_one())
        if count == 1:
            await connection.execute(
                delete(UsageWindow).where(
                    UsageWindow.subject == subject, UsageWindow.window < window
                )
            )
    return count
