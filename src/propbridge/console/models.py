"""The `console_sessions` table: each console sign-in, so that signing out ends it everywhere.

Table definition only; the cookie that names a session is `session.py`'s.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, utcnow


class ConsoleSessionRow(IdMixin, Base):
    """A signed-in console session: whose key, until when, and whether it was ended."""

    __tablename__ = "console_sessions"

    api_key_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
