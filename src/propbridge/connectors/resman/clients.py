"""HTTP clients for ResMan: v1 (form POST, XML envelope) and v2 (JSON GET, Basic auth).

Transport and failure classification only. Retryable means ResMan provably did not act;
outcome-unknown means it may have (SPEC §4): a read timeout or a dropped connection after
the document was sent is never retried automatically.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from propbridge import clock
from propbridge.connectors.base import (
    AuthenticationError,
    IntegrationAccess,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)
from propbridge.connectors.resman.envelope import Envelope, parse_envelope
from propbridge.connectors.resman.xml_safety import UnsafeXmlError
from propbridge.outbound import OutboundRefusedError

PRODUCTION_V1 = "https://api.myresman.com"
PRODUCTION_V2 = "https://partners-api.myresman.com"
# A read that fails in transport is sent again at once this many times (reads are safe to
# repeat; a kept-alive connection the server has just closed is the usual cause) before the
# job is retried later. ResMan's maintained v2 client also retries reads on network errors.
READ_ATTEMPTS = 3


# What ResMan answers for credentials it does not take (v2 always; v1 in some deployments,
# others answer 200 with Status=Error, which tells a refused key from a refused document by
# its free text only, so that is not read as a credentials failure).
AUTH_REFUSED = frozenset({401, 403})


def _refused_credentials(status: int, description: str | None) -> AuthenticationError:
    detail = f": {description}" if description else ""
    return AuthenticationError(f"ResMan refused the credentials (HTTP {status}){detail}")


# A PMS's Retry-After is followed up to this long; a larger one (or an absurd date) would park
# a job for days on the PMS's word.
MAX_RETRY_AFTER_SECONDS = 900.0


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (a number or an HTTP date), at most `MAX_RETRY_AFTER_SECONDS`."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - clock.now()).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))


def _base_urls(access: IntegrationAccess) -> tuple[str, str]:
    """ResMan's two hosts; a configured `base_url` (the sandbox) serves both surfaces."""
    if access.base_url:
        base = access.base_url.rstrip("/")
        return base, base
    return PRODUCTION_V1, PRODUCTION_V2


class ResManV1Client:
    """`POST {base}/{Area}/{Method}` with the auth form fields, answered by a `<ResMan>` envelope."""

    def __init__(self, http: httpx.AsyncClient, access: IntegrationAccess) -> None:
        self._http = http
        self._budget = access.budget
        self._base = _base_urls(access)[0]
        creds = access.credentials
        self._auth = {
            "IntegrationPartnerID": creds["integrationPartnerId"],
            "ApiKey": creds["apiKey"],
            "AccountID": creds["accountId"],
        }

    async def post_document(self, method: str, fields: dict[str, str]) -> Envelope:
        """Send a write; classify every failure by whether ResMan could have acted on it."""
        url = f"{self._base}/{method}"
        if self._budget is not None:
            await self._budget()
        try:
            response = await self._http.post(
                url, data={**self._auth, **fields}, headers={"Accept": "application/xml"}
            )
        except OutboundRefusedError as error:
            raise RejectedError(
                f"ResMan's address is not an allowed destination: {error}"
            ) from error
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise RetryableError(f"could not connect to ResMan: {type(error).__name__}") from error
        except httpx.TimeoutException as error:
            raise OutcomeUnknownError(
                f"ResMan did not answer in time after the document was sent ({type(error).__name__})"
            ) from error
        except httpx.TransportError as error:
            raise OutcomeUnknownError(
                f"the connection to ResMan dropped after the document was sent ({type(error).__name__})"
            ) from error
        return self._classify(response)

    async def read_document(self, method: str, fields: dict[str, str]) -> Envelope:
        """A read: safe to repeat, so every transient failure is retryable."""
        response = await read_with_retries(
            self._budget,
            method,
            lambda: self._http.post(
                f"{self._base}/{method}",
                data={**self._auth, **fields},
                headers={"Accept": "application/xml"},
            ),
        )
        if response.status_code in (429, 500, 502, 503, 504):
            raise RetryableError(
                f"ResMan read {method} answered HTTP {response.status_code}",
                retry_after_seconds(response),
            )
        if response.status_code in AUTH_REFUSED:
            try:
                description = parse_envelope(response.content).error_description
            except UnsafeXmlError:
                description = None
            raise _refused_credentials(response.status_code, description)
        try:
            envelope = parse_envelope(response.content)
        except UnsafeXmlError as error:
            # A read is safe to repeat: a garbled or hostile answer is retried, never parsed.
            raise RetryableError(
                f"ResMan read {method} returned unreadable XML: {error}"
            ) from error
        if not envelope.succeeded:
            raise RejectedError(envelope.error_description or f"ResMan read {method} failed")
        return envelope

    def _classify(self, response: httpx.Response) -> Envelope:
        if response.status_code in (429, 503):
            raise RetryableError(
                f"ResMan answered HTTP {response.status_code} before processing",
                retry_after_seconds(response),
            )
        try:
            envelope = parse_envelope(response.content)
        except UnsafeXmlError as error:
            if response.status_code in AUTH_REFUSED:
                raise _refused_credentials(response.status_code, None) from error
            raise OutcomeUnknownError(
                f"ResMan's answer (HTTP {response.status_code}) could not be read: {error}"
            ) from error
        if not envelope.succeeded:
            if response.status_code in AUTH_REFUSED:
                raise _refused_credentials(response.status_code, envelope.error_description)
            raise RejectedError(
                envelope.error_description or f"ResMan answered Status={envelope.status}"
            )
        if response.status_code != 200:
            raise OutcomeUnknownError(
                f"ResMan answered HTTP {response.status_code} with Status=Success"
            )
        return envelope


class ResManV2Client:
    """GETs on the partner API; reads are safe to repeat, so every transient failure is retryable."""

    def __init__(self, http: httpx.AsyncClient, access: IntegrationAccess) -> None:
        self._http = http
        self._budget = access.budget
        self._base = _base_urls(access)[1]
        creds = access.credentials
        self._auth = httpx.BasicAuth(creds["integrationPartnerId"], creds["apiKey"])
        self._headers = {"ResMan-Account-Id": creds["accountId"], "Accept": "application/json"}

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """One JSON resource; amounts parsed as Decimal."""
        response = await read_with_retries(
            self._budget,
            path,
            lambda: self._http.get(
                f"{self._base}{path}", params=params, auth=self._auth, headers=self._headers
            ),
        )
        if response.status_code in (429, 500, 502, 503, 504):
            raise RetryableError(
                f"ResMan read {path} answered HTTP {response.status_code}",
                retry_after_seconds(response),
            )
        if response.status_code != 200:
            kind = AuthenticationError if response.status_code in AUTH_REFUSED else RejectedError
            raise kind(
                f"ResMan read {path} answered HTTP {response.status_code}: {_v2_message(response)}"
            )
        try:
            data = json.loads(response.content, parse_float=Decimal)
        except ValueError as error:
            raise RetryableError(f"ResMan read {path} returned invalid JSON") from error
        if not isinstance(data, dict):
            raise RetryableError(f"ResMan read {path} returned an unexpected shape")
        return data


async def read_with_retries(
    budget: Callable[[], Awaitable[object]] | None,
    what: str,
    send: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response:
    """Send a read, again at once on a transport failure (up to `READ_ATTEMPTS` in all), each
    attempt taken from the request budget; then a RetryableError."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        if budget is not None:
            await budget()
        try:
            return await send()
        except OutboundRefusedError as error:
            raise RejectedError(
                f"ResMan's address is not an allowed destination: {error}"
            ) from error
        except httpx.TransportError as error:
            if attempt == READ_ATTEMPTS:
                raise RetryableError(
                    f"ResMan read {what} failed: {type(error).__name__}"
                ) from error
    raise AssertionError("unreachable")


def _v2_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]
