"""Response shapes of the API-key admin endpoints (documentation: `service.present_api_key`
builds the objects)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from propbridge.api.openapi import Page, Result


class ApiKeyObject(BaseModel):
    """An API key as the admin API and the CLI show it: never its token."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    token_prefix: str
    scopes: list[Literal["read", "write", "admin"]]
    integration_ids: list[str] | None
    rate_limit: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyList(Page[ApiKeyObject]):
    """A page of API keys."""


class ApiKeyRevoked(Result[ApiKeyObject]):
    """The key revoked."""
