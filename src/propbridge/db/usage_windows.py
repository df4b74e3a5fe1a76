"""Counting uses per fixed time window, in the database, so that every process shares the count.

Storage plumbing for API-key rate limits and per-integration PMS request budgets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, bindparam, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base
from propbridge.db.engine import Database, Executor


class UsageWindow(Base):
    """How many times `subject` (`key:<id>`, `pms:<integration id>`) was used in one window."""

    __tablename__ = "usage_windows"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


def _add_uses(insert: Any) -> Any:
    """`uses` more for a subject's window, returning the window's new count (built once per
    dialect: the request budget runs it for every group of PMS calls)."""
    return (
        insert(UsageWindow)
        .values(
            subject=bindparam("b_subject"), window=bindparam("b_window"), count=bindparam("b_uses")
        )
        .on_conflict_do_update(
            index_elements=["subject", "window"],
            set_={"count": UsageWindow.count + bindparam("b_uses")},
        )
        .returning(UsageWindow.count)
    )


ADD_USES = {"postgresql": _add_uses(pg_insert), "sqlite": _add_uses(sqlite_insert)}
FORGET_OLDER = delete(UsageWindow).where(
    UsageWindow.subject == bindparam("b_subject"), UsageWindow.window < bindparam("b_window")
)


async def count_use(database: Database, subject: str, window: int) -> int:
    """Add one use to `subject`'s `window` and return that window's count (its own transaction).

    The first use of a window clears the subject's older windows."""
    async with database.write_connection() as connection:
        return await count_uses(connection, subject, window, 1)


async def count_uses(db: Executor, subject: str, window: int, uses: int) -> int:
    """Add `uses` to `subject`'s `window` in the caller's transaction and return the window's
    count after them. The first uses of a window clear the subject's older windows."""
    connection = await db.connection() if isinstance(db, AsyncSession) else db
    parameters = {"b_subject": subject, "b_window": window, "b_uses": uses}
    count = int((await db.execute(ADD_USES[connection.dialect.name], parameters)).scalar_one())
    if count == uses:
        await db.execute(FORGET_OLDER, {"b_subject": subject, "b_window": window})
    return count
