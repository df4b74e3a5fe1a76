"""Failure classes of ResMan calls: retry only what ResMan provably did not act on (SPEC §4).

ResMan is outside the product, so here its transport is replaced by httpx's MockTransport.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from propbridge.connectors.base import (
    IntegrationAccess,
    OutcomeUnknownError,
    RejectedError,
    RetryableError,
)
from propbridge.connectors.resman.clients import ResManV1Client, ResManV2Client

ACCESS = IntegrationAccess(
    "i", "http://resman.test", {"integrationPartnerId": "1000", "accountId": "400", "apiKey": "k"}
)
OK = (
    b"<ResMan><MethodName>PostResidentTransactions2_0</MethodName><Status>Success</Status></ResMan>"
)
ERROR = b"<ResMan><Status>Error</Status><ErrorDescription>CustomerID x not found</ErrorDescription></ResMan>"


def _raise(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


async def _post(handler: Callable[[httpx.Request], httpx.Response]) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await ResManV1Client(http, ACCESS).post_document(
            "MITS/PostResidentTransactions2_0", {"PropertyID": "p", "Xml": "<x/>"}
        )


async def test_success_sends_the_auth_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=OK)

    await _post(handler)
    body = seen[0].content.decode()
    assert "IntegrationPartnerID=1000" in body and "AccountID=400" in body and "Xml=" in body
    assert str(seen[0].url) == "http://resman.test/MITS/PostResidentTransactions2_0"


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")])
async def test_connection_failures_are_retryable(error: Exception) -> None:
    with pytest.raises(RetryableError):
        await _post(_raise(error))


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("drop"),
        httpx.ReadError("reset"),
        httpx.WriteTimeout("slow"),
    ],
)
async def test_failures_after_sending_are_outcome_unknown(error: Exception) -> None:
    with pytest.raises(OutcomeUnknownError):
        await _post(_raise(error))


@pytest.mark.parametrize("status", [429, 503])
async def test_busy_answers_are_retryable_with_retry_after(status: int) -> None:
    with pytest.raises(RetryableError) as caught:
        await _post(lambda r: httpx.Response(status, headers={"Retry-After": "7"}))
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("status", [200, 400, 500])
async def test_status_error_in_the_envelope_is_a_rejection(status: int) -> None:
    with pytest.raises(RejectedError, match="CustomerID x not found"):
        await _post(lambda r: httpx.Response(status, content=ERROR))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, content=b"Internal Server Error"),
        httpx.Response(200, content=b"<html>proxy</html"),
        httpx.Response(502, content=b""),
    ],
)
async def test_unreadable_answers_are_outcome_unknown(response: httpx.Response) -> None:
    with pytest.raises(OutcomeUnknownError):
        await _post(lambda r: response)


async def test_v2_sends_basic_auth_and_account_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"properties": [], "amount": 12.30})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        data = await ResManV2Client(http, ACCESS).get("/Properties")
    assert str(data["amount"]) == "12.3"
    assert seen[0].headers["ResMan-Account-Id"] == "400"
    assert seen[0].headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    "status,error", [(401, RejectedError), (500, RetryableError), (429, RetryableError)]
)
async def test_v2_failures_are_classified(status: int, error: type[Exception]) -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(status, json={"message": "no"}))
    ) as http:
        with pytest.raises(error):
            await ResManV2Client(http, ACCESS).get("/Properties")
