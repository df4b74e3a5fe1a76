"""Response shapes of the sync-run route (documentation: `service.list_runs` builds them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from propbridge.api.openapi import Page


class ModelCounts(BaseModel):
    """What a sync did to one model's records."""

    model_config = ConfigDict(extra="forbid")
    new: int
    updated: int
    unchanged: int


class SyncRun(BaseModel):
    """One sync of an integration: when, how it ended, counts per model."""

    model_config = ConfigDict(extra="forbid")
    id: str
    job_id: str | None
    state: Literal["running", "succeeded", "failed"]
    counts: dict[str, ModelCounts]
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class SyncRunList(Page[SyncRun]):
    """A page of sync runs, newest first by default."""
