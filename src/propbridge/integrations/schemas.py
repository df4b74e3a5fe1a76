"""Request and response shapes of the integration admin endpoints (Propexo's field names).

Validation only; no database access.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from propbridge.api.openapi import One, Page, Result
from propbridge.api.parameters import EXTENSION

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

    base_url: (
        Annotated[
            StrictStr,
            # What `url_shape` takes (documented; the validator says why a URL is refused).
            Field(json_schema_extra={"pattern": r"^https?://.{3,}"}),
        ]
        | None
    ) = None
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

    # Checked against the connectors in the service (400 naming the supported ones).
    integration_vendor: StrictStr = Field(json_schema_extra={"enum": ["RESMAN"]})
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


# Responses (documentation only: the routes build these objects in `service.present`).


class ModelSetting(BaseModel):
    """Whether a model is synced, and from which interfaces (ResMan has one)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool
    from_interfaces: list[str] = Field(max_length=0)


class IntegrationObject(BaseModel):
    """An integration as Propexo shows one: its settings and state, never its credentials."""

    model_config = ConfigDict(extra="forbid")
    id: str
    created_at: datetime
    updated_at: datetime
    name: str
    vendor: Literal["RESMAN"]
    integration_vendor: Literal["RESMAN"] = Field(json_schema_extra={EXTENSION: True})
    active: bool
    system: Literal["PRODUCTION"]
    sync_frequency: int
    sync_cadence: Cadence
    max_job_concurrency: int
    max_request_frequency: int
    max_request_cadence: Cadence
    base_url: str | None = Field(description="Null: ResMan's production hosts.")
    customer_id: str = Field(json_schema_extra={EXTENSION: True})
    is_archived: bool
    last_completed_sync: datetime | None
    last_completed_back_sync: None
    new_properties_are_enabled: bool
    integration_interfaces: list[str] = Field(max_length=0)
    models: dict[str, ModelSetting]
    can_authenticate: bool = Field(
        description="Whether the PMS accepted the credentials at the last attempt to use them."
    )
    last_data_access_check: None
    allow_manual_syncs: bool
    configuration_meta_data: list[str] = Field(max_length=0)
    is_running_sync: bool
    is_running_data_access_check: bool
    ping_results: dict[str, str] = Field(max_length=0, json_schema_extra={EXTENSION: True})
    use_custom_sync_schedule: bool = Field(json_schema_extra={EXTENSION: True})


class IntegrationResult(Result[IntegrationObject]):
    """An integration just created or changed."""


class IntegrationList(Page[IntegrationObject]):
    """A page of integrations."""


class IntegrationById(One[IntegrationObject]):
    """One integration, in the list envelope."""


class Deleted(BaseModel):
    """An integration archived."""

    model_config = ConfigDict(extra="forbid")
    success: Literal[True]


class SyncQueued(BaseModel):
    """The sync job queued (or the one already queued or running)."""

    model_config = ConfigDict(extra="forbid")
    success: Literal[True]
    job_id: str = Field(json_schema_extra={EXTENSION: True})


class ManualSyncResult(Result[SyncQueued]):
    """`POST …/manual-sync`'s answer."""
