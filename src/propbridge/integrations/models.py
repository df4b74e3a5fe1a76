"""The `integrations` table. Credentials are stored only as AES-256-GCM ciphertext.

Table definition only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, TimestampMixin

# A new integration syncs twice a day; the service applies these before the row is flushed, since
# the minimum sync interval is checked on them.
DEFAULT_SYNC_FREQUENCY = 12
DEFAULT_SYNC_CADENCE = "HOUR"


class Integration(IdMixin, TimestampMixin, Base):
    """One customer's connection to one PMS."""

    __tablename__ = "integrations"

    name: Mapped[str] = mapped_column(String(200))
    vendor: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str | None] = mapped_column(String(500))
    credentials_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # The PMS account its credentials act on (`connectors.registry.account_key`): integrations
    # that share one share a ledger, so a reference is claimed per account, not per integration.
    account_key: Mapped[str] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(default=False)
    sync_frequency: Mapped[int] = mapped_column(default=DEFAULT_SYNC_FREQUENCY)
    sync_cadence: Mapped[str] = mapped_column(String(16), default=DEFAULT_SYNC_CADENCE)
    max_request_frequency: Mapped[int] = mapped_column(default=10)
    max_request_cadence: Mapped[str] = mapped_column(String(16), default="SECOND")
    max_job_concurrency: Mapped[int] = mapped_column(default=4)
    new_properties_are_enabled: Mapped[bool] = mapped_column(default=True)
    last_completed_sync: Mapped[datetime | None] = mapped_column(default=None)
    # Whether the PMS took the credentials at the last call that could tell (None: no call
    # yet since they were set). `last_auth_at` is when that answer was first given: it is
    # rewritten only when the answer changes, so a busy integration's row is not updated by
    # every sync and write.
    last_auth_ok: Mapped[bool | None] = mapped_column(default=None)
    last_auth_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
