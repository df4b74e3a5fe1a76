"""Bodies of the webhook routes, validated strictly. Validation only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from propbridge.api.openapi import One, Page, Result

Trigger = Literal[
    "DATA_UPDATE",
    "DATA_NEW",
    "JOB_FAILURE",
    "JOB_SUCCESS",
    "SYNC_COMPLETE",
    "FIRST_SYNC_COMPLETE",
    "WRITE_OPERATION_FAILURE",
    "WRITE_OPERATION_SUCCESS",
    "WRITE_RECONCILED",
    "WRITE_UNCONFIRMED",
]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http or https URL")
    return value


# Headers a webhook's own `headers` may not set: the signatures, the framing, where it goes.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-authorization",
        "proxy-connection",
        "propexo-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def _own_header(name: str) -> str:
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"{name} is set by propbridge and cannot be overridden")
    return name


class Header(BaseModel):
    """An extra header sent with every delivery (its value is kept encrypted)."""

    model_config = ConfigDict(extra="forbid")

    header: Annotated[
        StrictStr,
        Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9-]+$"),
        AfterValidator(_own_header),
    ]
    # Printable ASCII (and tab): what every HTTP stack sends as it is.
    value: Annotated[StrictStr, Field(max_length=2000, pattern=r"^[\t\x20-\x7E]*$")]


Url = Annotated[
    StrictStr,
    Field(
        max_length=2000,
        # What `_http_url` takes (a scheme is matched without regard to case).
        json_schema_extra={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+"},
    ),
    AfterValidator(_http_url),
]
Secret = Annotated[StrictStr, Field(min_length=10, max_length=500)]
# A synced model name: checked against the registry by the service (the schema cannot know it).
Model = StrictStr


class WebhookCreate(BaseModel):
    """`POST /v1/webhooks/`."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    triggers: Annotated[list[Trigger], Field(min_length=1)]
    headers: Annotated[list[Header], Field(max_length=20)] | None = None
    active: StrictBool = False
    secret: Secret | None = None
    model: Model | None = None


class WebhookUpdate(BaseModel):
    """`PUT /v1/webhooks/{webhook_id}`: any of the fields."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    triggers: Annotated[list[Trigger], Field(min_length=1)] | None = None
    headers: Annotated[list[Header], Field(max_length=20)] | None = None
    active: StrictBool | None = None
    secret: Secret | None = None
    model: Model | None = None


# Responses (documentation only: `presenters.py` builds these objects).


class SentHeader(BaseModel):
    """An extra header sent with every delivery."""

    model_config = ConfigDict(extra="forbid")
    header: str
    value: str


class WebhookTrigger(BaseModel):
    """One trigger of a webhook, with the model it is limited to (if any)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    trigger: Trigger
    model: str | None


class WebhookObject(BaseModel):
    """A webhook, its secret included (admin scope only)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    created_at: datetime
    updated_at: datetime
    url: str
    headers: list[SentHeader]
    active: bool
    secret: str
    system: Literal["PRODUCTION"]
    triggers: list[WebhookTrigger]


class WebhookResult(Result[WebhookObject]):
    """A webhook just created or changed."""


class WebhookList(Page[WebhookObject]):
    """A page of webhooks."""


class WebhookById(One[WebhookObject]):
    """One webhook, in the list envelope."""


class DeletedId(BaseModel):
    """What was deleted."""

    model_config = ConfigDict(extra="forbid")
    id: str


class WebhookDeleted(Result[DeletedId]):
    """A webhook deleted."""


class Attempt(BaseModel):
    """One try at a delivery."""

    model_config = ConfigDict(extra="forbid")
    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None


class Delivery(BaseModel):
    """An event sent (or to be sent) to a webhook, with every attempt."""

    model_config = ConfigDict(extra="forbid")
    id: str
    event_id: str
    trigger: Trigger
    state: Literal["pending", "delivered", "dead", "cancelled"]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any]
    attempt_log: list[Attempt]


class DeliveryList(Page[Delivery]):
    """A page of a webhook's deliveries."""


class DeliveryResult(Result[Delivery]):
    """A delivery queued again."""
