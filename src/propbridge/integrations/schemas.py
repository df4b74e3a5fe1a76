"""Request and response shapes of the integration admin endpoints (Propexo's field names).

Validation only; no database access.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

Cadence = Literal["SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH"]
NonEmpty = Annotated[StrictStr, Field(min_length=1, max_length=500)]

CADENCE_SECONDS = {
    "SECOND": 1,
    "MINUTE": 60,
    "HOUR": 3600,
    "DAY": 86400,
    "WEEK": 604800,
    "MONTH": 2592000,
}


class ResManCredentials(BaseModel):
    """What ResMan issues: the partner's id and key, and the management company's account."""

    model_config = ConfigDict(extra="forbid")

    integrationPartnerId: NonEmpty
    accountId: NonEmpty
    apiKey: NonEmpty

    @field_validator("integrationPartnerId", "accountId", "apiKey")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


class IntegrationSettings(BaseModel):
    """Fields shared by create and update."""

    model_config = ConfigDict(extra="forbid")

    base_url: StrictStr | None = None
    active: StrictBool | None = None
    sync_frequency: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    sync_cadence: Cadence | None = None
    max_request_frequency: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    max_request_cadence: Cadence | None = None
    max_job_concurrency: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    new_properties_are_enabled: StrictBool | None = None
    # Accepted for compatibility with Propexo clients; propbridge has one system per deployment.
    system: Literal["PRODUCTION", "SANDBOX"] | None = None
    allow_manual_syncs: StrictBool | None = None

    @field_validator("base_url")
    @classmethod
    def url_shape(cls, value: str | None) -> str | None:
        return _check_url(value)


class IntegrationCreate(IntegrationSettings):
    """`POST /v1/admin/integrations/`."""

    integration_vendor: StrictStr
    name: NonEmpty
    credentials: ResManCredentials


class IntegrationUpdate(IntegrationSettings):
    """`PUT /v1/admin/integrations/{id}/`: every field optional."""

    name: NonEmpty | None = None
    credentials: ResManCredentials | None = None


class ManualSyncRequest(BaseModel):
    """`POST …/manual-sync`."""

    model_config = ConfigDict(extra="forbid")

    models_to_sync: list[StrictStr] | None = None
    sync_config_id: StrictStr | None = None
