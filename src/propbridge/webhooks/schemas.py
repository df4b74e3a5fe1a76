"""Bodies of the webhook routes, validated strictly. Validation only."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

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


Url = Annotated[StrictStr, Field(max_length=2000), AfterValidator(_http_url)]
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
