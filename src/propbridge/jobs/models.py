"""Tables of the queue: jobs, their attempts, and recurring schedules.

Table definitions only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from propbridge.db.base import Base, IdMixin, TimestampMixin, utcnow

ACTIVE_STATES = ("queued", "running")


class Job(IdMixin, TimestampMixin, Base):
    """A unit of background work. At most one active job per `concurrency_key`."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claimable", "state", "run_after"),
        # Each claim counts the running jobs of the integrations it may take work from: with the
        # index on integration_id alone (which SQLite chose while `jobs` was small, and kept
        # choosing with the statistics of then) it read every job the integration ever had.
        Index("ix_jobs_state_integration_id", "state", "integration_id"),
        Index(
            "uq_jobs_active_concurrency_key",
            "concurrency_key",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running') AND concurrency_key IS NOT NULL"),
            postgresql_where=text("state IN ('queued', 'running') AND concurrency_key IS NOT NULL"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(64))
    integration_id: Mapped[str | None] = mapped_column(String(36), index=True)
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempt: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class JobAttempt(IdMixin, Base):
    """One run of a job by one worker, kept as a log."""

    __tablename__ = "job_attempts"

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("jobs.id"), index=True)
    attempt: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Schedule(IdMixin, TimestampMixin, Base):
    """A recurring job: the next run starts `interval_seconds` after the last one finished."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("integration_id", "kind"),)

    # None: a job of the whole deployment (housekeeping).
    integration_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("integrations.id"))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_seconds: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_job_id: Mapped[str | None] = mapped_column(String(36), default=None)
