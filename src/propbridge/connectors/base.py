"""What a PMS connector is: what it can sync, what it can write, and how its failures are classed.

An interface and plain data only. The API and the queue depend on this module, never on a
particular PMS; a second PMS is a new package beside `resman/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class ConnectorError(Exception):
    """A PMS call failed. Subclasses say whether the PMS could have acted on it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableError(ConnectorError):
    """The PMS provably did not act on the request; it may be sent again after `retry_after`."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(ConnectorError):
    """The PMS answered and refused the request; sending it again would fail the same way."""

    def __init__(self, message: str, item_errors: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.item_errors = item_errors or {}


class AuthenticationError(RejectedError):
    """The PMS refused the integration's credentials (HTTP 401 or 403): nothing was acted on,
    and nothing will be until the credentials change."""


class OutcomeUnknownError(ConnectorError):
    """The request may have reached the PMS and been acted on; it must not be re-sent blindly."""


@dataclass(frozen=True)
class IntegrationAccess:
    """What a connector needs to reach one customer's PMS; `budget` is awaited before every
    request (the integration's request budget; None: unlimited)."""

    integration_id: str
    base_url: str | None
    credentials: dict[str, str]
    budget: Callable[[], Awaitable[object]] | None = None


@dataclass
class RecordData:
    """One record as the PMS describes it, mapped to our model's columns.

    `links` names related records by their PMS ids; the sync engine turns them into our ids.
    """

    model: str
    x_id: str
    x_property_id: str
    fields: dict[str, Any]
    raw: dict[str, Any]
    links: dict[str, Any] = field(default_factory=dict)


@dataclass
class TransactionToPost:
    """One resident charge or payment, resolved to the PMS's own identifiers."""

    kind: str  # "charge" | "payment"
    reference_number: str
    batch_id: str
    transaction_date: str  # YYYY-MM-DD
    description: str
    notes: str
    amount_in_cents: int
    upstream: dict[str, Any]


class Connector(Protocol):
    """A PMS plugin."""

    vendor: str
    sync_models: tuple[str, ...]
    write_operations: frozenset[str]

    @staticmethod
    def pms_account(base_url: str | None, credentials: dict[str, str]) -> str:
        """Which account of the PMS these credentials act on, as text equal for every
        integration that reaches the same account (whose ledger, and so whose references,
        they share)."""
        ...

    def fetch(self, model: str, since: datetime | None) -> AsyncIterator[list[RecordData]]:
        """Pages of records of one model changed since a moment (None: the widest window)."""
        ...

    async def post_transactions(
        self, x_property_id: str, transactions: list[TransactionToPost]
    ) -> None:
        """Send charges/payments as one document; raises a ConnectorError subclass on failure."""
        ...
