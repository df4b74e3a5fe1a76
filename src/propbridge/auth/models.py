"""The `api_keys` table: tokens are stored only as SHA-256 hashes.

Table definition only; issuing and checking keys lives in `service.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, utcnow


class ApiKey(IdMixin, Base):
    """A bearer token's hash, its scopes and its optional integration allow-list."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(200))
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    integration_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Requests per minute for this key; None: the deployment's setting (off by default).
    rate_limit: Mapped[int | None] = mapped_column(default=None)
    # After this instant the key no longer authenticates (None: never expires).
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Roughly when the key was last used (written at most once a minute per process).
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
