"""Bodies of the Billing and Payments writes, validated strictly like Propexo's (Zod) schemas.

Validation only: whether the ids exist is the service's business.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from propbridge.api.parameters import EXTENSION

DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)


# Characters XML 1.0 cannot carry (ResMan's documents are XML 1.0): refused here, by field,
# rather than failing in the worker.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Transaction dates propbridge sends: ResMan's limits are not public, so a plausible span.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2099


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    bad = NOT_XML.search(value)
    if bad is not None:
        raise ValueError(
            f"contains a character ResMan's XML cannot carry (U+{ord(bad.group()):04X})"
        )
    return value


# Characters that show as nothing, or as a blank, wherever a reference is read: Unicode's
# Default_Ignorable_Code_Point (variation selectors, Hangul fillers, the Mongolian and Khmer
# ones, joiners, bidi marks…) and the braille blank. Control, format, private-use and surrogate
# characters, and spaces other than U+0020, are refused by category.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})


def _hidden(character: str) -> bool:
    category = unicodedata.category(character)
    return (
        category in REFUSED_CATEGORIES
        or (category == "Zs" and character != " ")
        or INVISIBLE.match(character) is not None
    )


def _reference(value: str) -> str:
    """A reference names one transaction of the PMS account (`rules.normalized_reference`
    compares them without case): one that differs from another only by characters a person
    cannot see, or by outer spaces, would look the same in the PMS and be another, so it is
    refused."""
    if value != value.strip():
        raise ValueError("must not begin or end with whitespace")
    hidden = next((c for c in value if _hidden(c)), None)
    if hidden is not None:
        raise ValueError(f"contains an invisible, blank or control character (U+{ord(hidden):04X})")
    return value


def _date_time(value: str) -> str:
    if not DATE_TIME.match(value):
        raise ValueError("must be an ISO-8601 date-time, e.g. 2024-06-01T10:00:00Z")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError("is not a valid date-time") from error
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"must be a date between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def local_date(value: str) -> str:
    """The calendar date of a date-time as the client wrote it (in its own offset)."""
    return value[:10]


Text = Annotated[StrictStr, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
Reference = Annotated[Identifier, AfterValidator(_reference)]
# What `_date_time` takes, for the document (a JavaScript-compatible pattern, years 1900-2099).
DATE_TIME_DOCUMENTED = (
    r"^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
DateTimeText = Annotated[
    StrictStr,
    AfterValidator(_date_time),
    Field(
        json_schema_extra={"pattern": DATE_TIME_DOCUMENTED, "examples": ["2026-06-01T10:00:00Z"]}
    ),
]
# The largest amount one transaction may carry: $999,999,999.99. Past 2^31 cents, so money
# columns are 64-bit on both engines; ResMan gets it as dollars with two places, exactly.
MAX_AMOUNT_IN_CENTS = 99_999_999_999
Cents = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_IN_CENTS)]


class BatchCharge(BaseModel):
    """One charge of a batch: a single charge's fields without `integration_id`."""

    model_config = ConfigDict(extra="forbid")

    resident_id: Identifier
    charge_code_id: Identifier
    batch_id: Identifier
    transaction_date: DateTimeText
    description: Text
    notes: Text
    amount_in_cents: Cents
    reference_number: Reference


class ResidentChargeCreate(BatchCharge):
    """`POST /v1/resident-charges/resman/`: every field required and non-empty."""

    integration_id: Identifier


PaymentType = Literal[
    "ACH", "Cash", "Cashiers Check", "Check", "Credit Card", "Debit Card", "eCheck", "Money Order"
]


class ResidentPaymentCreate(BaseModel):
    """`POST /v1/resident-payments/resman/`: as a charge, with `payment_type` for the code."""

    model_config = ConfigDict(extra="forbid")

    integration_id: Identifier
    resident_id: Identifier
    payment_type: PaymentType
    batch_id: Identifier
    transaction_date: DateTimeText
    description: Text
    notes: Text
    amount_in_cents: Cents
    reference_number: Reference


MAX_BATCH_CHARGES = 1000
Body = TypeVar("Body", bound=BaseModel)


class ResidentChargeBatchCreate(BaseModel):
    """`POST /v1/resident-charges/batch/resman/`: 1 to 1,000 charges of one property."""

    model_config = ConfigDict(extra="forbid")

    integration_id: Identifier
    charges: Annotated[list[BatchCharge], Field(min_length=1, max_length=MAX_BATCH_CHARGES)]


# Responses (documentation only: the routes and `presenters.py` build these objects).


class JobRef(BaseModel):
    """The job that will carry a write to the PMS."""

    model_config = ConfigDict(extra="forbid")
    job_id: str


class Accepted(BaseModel, Generic[Body]):
    """A write accepted by a vendor route: its job, and the write as it will be sent."""

    model_config = ConfigDict(extra="forbid")
    meta: JobRef
    result: Body


class GenericAccepted(BaseModel, Generic[Body]):
    """A write accepted by a vendor-agnostic route (Propexo's `{"job_id", "data"}`)."""

    model_config = ConfigDict(extra="forbid")
    job_id: str
    data: Body


class ChargeAccepted(Accepted[ResidentChargeCreate]):
    """A charge accepted."""


class PaymentAccepted(Accepted[ResidentPaymentCreate]):
    """A payment accepted."""


class BatchAccepted(Accepted[ResidentChargeBatchCreate]):
    """A batch accepted: one job for every charge."""


class GenericChargeAccepted(GenericAccepted[ResidentChargeCreate]):
    """The vendor-agnostic charge route's answer."""


class GenericPaymentAccepted(GenericAccepted[ResidentPaymentCreate]):
    """The vendor-agnostic payment route's answer."""


ItemStatus = Literal["PENDING", "ACCEPTED", "POSTED", "UNCONFIRMED", "REJECTED", "OUTCOME_UNKNOWN"]


class WriteItemStatus(BaseModel):
    """One charge or payment of a write: what the PMS did with it, and since when.

    `ACCEPTED`: waiting in the PMS's approval queue since `accepted_at`. `POSTED`: found in the
    ledger as `record_id` at `posted_at`. `UNCONFIRMED`: accepted, but the syncs for
    PROPBRIDGE_UNCONFIRMED_AFTER_DAYS after it did not find it (most likely a manager rejected
    it; it can still become `POSTED`). `REJECTED`: the PMS refused it. `OUTCOME_UNKNOWN`: sent
    with no answer. `held_by_job_id`: another write of the PMS account holds its reference."""

    model_config = ConfigDict(extra="forbid")
    index: int
    reference_number: str
    status: ItemStatus
    record_id: str | None
    error: str | None
    accepted_at: datetime | None
    posted_at: datetime | None
    unconfirmed_at: datetime | None
    held_by_job_id: str | None


class WriteStatus(BaseModel):
    """What became of a write."""

    model_config = ConfigDict(extra="forbid")
    write_status: Literal["PENDING", "SUCCESS", "FAILURE", "PARTIAL_SUCCESS"]
    errors: list[str]
    created_record_id: str | None
    operation: str = Field(json_schema_extra={EXTENSION: True})
    integration_id: str = Field(json_schema_extra={EXTENSION: True})
    retried_by: str | None = Field(json_schema_extra={EXTENSION: True})
    items: list[WriteItemStatus] = Field(json_schema_extra={EXTENSION: True})


class Retried(BaseModel):
    """The job of a retry (or of the retry already pending or done)."""

    model_config = ConfigDict(extra="forbid")
    success: Literal[True]
    job_id: str


class WriteLog(BaseModel):
    """A finished write, with the body it was sent with."""

    model_config = ConfigDict(extra="forbid")
    id: str
    created_at: datetime
    job_id: str
    job_log_id: str
    status: Literal["SUCCESS", "FAILURE"]
    integration_id: str
    job_type: str
    parameters: dict[str, Any]
    error: str | None
    name: str
    vendor: str = Field(json_schema_extra={EXTENSION: True})
    retry_of: str | None = Field(json_schema_extra={EXTENSION: True})
    retried_by: str | None = Field(json_schema_extra={EXTENSION: True})
    item_statuses: dict[ItemStatus, int] = Field(
        json_schema_extra={EXTENSION: True},
        description="How many of its items are in each state: what the write became since.",
    )


class WriteLogs(BaseModel):
    """The logs of a page of writes."""

    model_config = ConfigDict(extra="forbid")
    logs: list[WriteLog]


class WriteLogMeta(BaseModel):
    """Where the page sits (write logs are not ordered by choice)."""

    model_config = ConfigDict(extra="forbid")
    offset: int
    limit: int
    total: int
    hasMore: bool


class WriteLogPage(BaseModel):
    """`GET /v1/admin/logs/writes/`."""

    model_config = ConfigDict(extra="forbid")
    results: WriteLogs
    meta: WriteLogMeta = Field(json_schema_extra={EXTENSION: True})
