"""The ResMan sandbox behaves like ResMan: auth, envelopes, validation, pending, approval, page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html

from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from propbridge.sandbox.resman.xml_io import parse_untrusted
from tests.sandbox.conftest import AUTH, CLOCK, V2, current_lease

XML = {"Accept": "application/xml"}
JSON = {"Accept": "application/json"}


def _property(client: TestClient) -> str:
    return str(client.get("/Properties", headers=V2).json()["properties"][0]["propertyId"])


def _status(response: httpx.Response) -> tuple[str, str | None]:
    root = parse_untrusted(response.content)
    error = root.find("ErrorDescription")
    return root.findtext("Status"), None if error is None else error.text


def _post(
    client: TestClient, pid: str, detail: str, kind: str = "Charge", attrs: str = ""
) -> httpx.Response:
    xml = (
        f"<ResidentTransactions><Property><RT_Customer><RTServiceTransactions><Transactions>"
        f"<{kind}{attrs}><Detail>{detail}</Detail></{kind}></Transactions></RTServiceTransactions>"
        "</RT_Customer></Property></ResidentTransactions>"
    )
    return client.post(
        "/MITS/PostResidentTransactions2_0", data={**AUTH, "PropertyID": pid, "Xml": xml}
    )


def _detail(lease: dict[str, Any], **over: str) -> str:
    values = {
        "TransactionID": "R1",
        "BatchID": "B1",
        "TransactionDate": "2026-11-02",
        "ChargeCode": "PETF",
        "Description": "Pet",
        "Comment": "c",
        "CustomerID": lease["leaseId"],
        "UnitID": lease["unitNumber"],
        "Amount": "75.00",
    }
    values.update(over)
    return "".join(f"<{k}>{v}</{k}>" for k, v in values.items() if v != "-")


def test_seed_is_deterministic() -> None:
    stores = [SandboxStore(), SandboxStore()]
    day = datetime(2026, 11, 15, tzinfo=UTC).date()
    for store in stores:
        seed_store(store, SeedSize(properties=1, units=5, months=2), day)
    rows = [
        [tuple(r) for r in s.query("SELECT * FROM transactions ORDER BY transaction_id")]
        for s in stores
    ]
    assert rows[0] == rows[1] and rows[0]


@pytest.mark.parametrize(
    "fields",
    [
        {**AUTH, "ApiKey": "wrong"},
        {**AUTH, "IntegrationPartnerID": "9"},
        {**AUTH, "AccountID": "401"},
        {},
    ],
)
def test_v1_bad_credentials_are_status_error(client: TestClient, fields: dict[str, str]) -> None:
    response = client.post("/Account/GetProperties", data=fields, headers=XML)
    assert response.status_code == 200
    assert _status(response)[0] == "Error"
    json_reply = client.post("/Account/GetProperties", data=fields).json()
    assert json_reply["Status"] == "Failed" and json_reply["ErrorDescription"]
    mits = client.post("/MITS/GetResidentTransactions2_0", data=fields, headers=JSON)
    assert _status(mits)[0] == "Error"


def test_v1_json_unless_xml_is_asked_mits_always_xml(client: TestClient) -> None:
    data = client.post("/Account/GetProperties", data=AUTH)
    assert data.json()["Status"] == "Success" and len(data.json()["Properties"]) == 2
    assert _status(client.post("/Account/GetProperties", data=AUTH, headers=XML))[0] == "Success"
    pid = _property(client)
    mits = client.post("/MITS/GetMarketing4_0", data={**AUTH, "PropertyID": pid}, headers=JSON)
    assert _status(mits)[0] == "Success"
    assert client.post("/account/getproperties", data=AUTH).json()["Status"] == "Success"
    assert client.post("/Nope/Method", data=AUTH).status_code == 404


def test_unknown_routes_are_404(client: TestClient) -> None:
    for response in (
        client.get("/BankAccounts", headers=V2),
        client.get("/Nope"),
        client.put("/Properties", headers=V2),
    ):
        assert response.status_code in (404, 405)
        assert response.status_code == 405 or response.json()["status"] == 404


def test_v2_requires_basic_auth_and_account(client: TestClient) -> None:
    assert client.get("/Properties").status_code == 401
    assert client.get("/Properties", headers={**V2, "ResMan-Account-Id": "1"}).status_code == 401
    assert client.get("/Properties", headers=V2).status_code == 200


@pytest.mark.parametrize(
    "moment,ok",
    [
        (lambda now: format_datetime(now - timedelta(days=10), usegmt=True), True),
        (lambda now: (now - timedelta(days=363)).isoformat(), True),
        (lambda now: (now - timedelta(days=366)).isoformat(), False),
        (lambda now: (now + timedelta(days=1)).isoformat(), False),
        (lambda now: "yesterday", False),
    ],
)
def test_v2_modified_since_window(client: TestClient, moment: Any, ok: bool) -> None:
    response = client.get(
        "/Leasing/Leases",
        headers=V2,
        params={"propertyId": _property(client), "modifiedSince": moment(CLOCK.now())},
    )
    assert response.status_code == (200 if ok else 400), response.text
    if not ok:
        assert response.json()["message"]


def test_v2_leases_need_modified_since(client: TestClient) -> None:
    response = client.get("/Leasing/Leases", headers=V2, params={"propertyId": _property(client)})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "override,message",
    [
        ({"CustomerID": "00000000-0000-0000-0000-000000000000"}, "was not found in property"),
        ({"ChargeCode": "NOPE"}, "ChargeCode NOPE was not found"),
        ({"ChargeCode": "-"}, "ChargeCode is required"),
        ({"Amount": "75.0"}, "two decimals"),
        ({"Amount": "-5.00"}, "two decimals"),
        ({"Amount": "0.00"}, "greater than zero"),
        ({"TransactionDate": "2026-02-30"}, "not a valid date"),
        ({"UnitID": "999"}, "does not match the unit"),
    ],
)
def test_invalid_transactions_reject_the_document(
    client: TestClient, override: dict[str, str], message: str
) -> None:
    pid = _property(client)
    response = _post(client, pid, _detail(current_lease(client, pid), **override))
    status, error = _status(response)
    assert status == "Error" and error is not None and message in error
    assert client.get("/_sandbox/partner-transactions").json()["results"] == []


def test_malformed_and_hostile_xml_is_refused(client: TestClient) -> None:
    pid = _property(client)
    for xml in (
        "<ResidentTransactions>",
        "<!DOCTYPE a [<!ENTITY b 'c'>]><ResidentTransactions/>",
        "<Other/>",
        "",
    ):
        response = client.post(
            "/MITS/PostResidentTransactions2_0", data={**AUTH, "PropertyID": pid, "Xml": xml}
        )
        assert _status(response)[0] == "Error"


def test_pending_is_invisible_until_approved(client: TestClient) -> None:
    pid = _property(client)
    lease = current_lease(client, pid)
    assert _status(_post(client, pid, _detail(lease)))[0] == "Success"
    [item] = client.get("/_sandbox/partner-transactions?status=pending").json()["results"]
    since = format_datetime(CLOCK.now() - timedelta(minutes=5), usegmt=True)
    ledger = client.get(
        "/Transactions/Ledger",
        headers=V2,
        params={
            "propertyId": pid,
            "billingAccountId": lease["billingAccountId"],
            "postedSince": since,
        },
    )
    assert ledger.json()["transactions"] == []
    approved = client.post(f"/_sandbox/partner-transactions/{item['id']}/approve").json()
    assert approved["status"] == "posted" and approved["posting_date"] == "2026-11-02"
    ledger = client.get(
        "/Transactions/Ledger",
        headers=V2,
        params={
            "propertyId": pid,
            "billingAccountId": lease["billingAccountId"],
            "postedSince": since,
        },
    )
    [posted] = ledger.json()["transactions"]
    assert posted["transactionId"] == approved["transaction_id"] and posted["amount"] == 75.0
    accounts = client.get(
        "/BillingAccounts",
        headers=V2,
        params={"propertyId": pid, "modifiedSince": since, "includeTransactions": "true"},
    ).json()
    [account] = [a for a in accounts["billingAccounts"] if a["leaseID"] == lease["leaseId"]]
    assert [t["reference"] for t in account["transactions"]] == ["R1"]
    assert "transactionCategoryId" in account["transactions"][0]


def test_payments_are_accepted_with_a_known_type(client: TestClient) -> None:
    pid = _property(client)
    lease = current_lease(client, pid)
    good = _detail(lease, ChargeCode="-", TransactionID="-", DocumentNumber="P1")
    assert _status(_post(client, pid, good, "Payment", ' Type="Credit Card"'))[0] == "Success"
    assert _status(_post(client, pid, good, "Payment", ' Type="Bitcoin"'))[0] == "Error"


def test_page_lists_pending_and_its_buttons_work(client: TestClient) -> None:
    pid = _property(client)
    lease = current_lease(client, pid)
    _post(client, pid, _detail(lease, TransactionID="PAGE-1"))
    _post(client, pid, _detail(lease, TransactionID="PAGE-2"))
    page = lxml_html.fromstring(client.get("/partner-transactions").text)
    assert "PAGE-1" in page.text_content() and "PAGE-2" in page.text_content()
    approve = [f for f in page.forms if f.action.endswith("/approve") and "/files/" not in f.action]
    reject = [f for f in page.forms if f.action.endswith("/reject") and "/files/" not in f.action]
    response = client.post(
        approve[0].action,
        data={**dict(approve[0].fields), "posting_date": "2026-11-05"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    client.post(reject[1].action, data=dict(reject[1].fields))
    states = {
        i["reference"]: (i["status"], i["posting_date"])
        for i in client.get("/_sandbox/partner-transactions").json()["results"]
    }
    assert states == {"PAGE-1": ("posted", "2026-11-05"), "PAGE-2": ("rejected", None)}


def test_mits_reply_contains_posted_transactions_only(client: TestClient) -> None:
    pid = _property(client)
    _post(client, pid, _detail(current_lease(client, pid), Description="UNAPPROVED"))
    response = client.post("/MITS/GetResidentTransactions2_0", data={**AUTH, "PropertyID": pid})
    assert _status(response)[0] == "Success"
    assert b"UNAPPROVED" not in response.content and b"RT_Customer" in response.content


def _leases(client: TestClient, **params: str) -> list[dict[str, Any]]:
    since = (CLOCK.now() - timedelta(days=360)).isoformat()
    response = client.get(
        "/Leasing/Leases",
        headers=V2,
        params={"propertyId": _property(client), "modifiedSince": since, **params},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["leases"])


def test_every_lease_filter_is_honoured(client: TestClient) -> None:
    every = _leases(client)
    statuses = sorted({lease["leaseStatus"] for lease in every})
    assert len(statuses) > 1
    chosen = _leases(client, leaseStatuses=",".join(statuses[:2]))
    assert {x["leaseStatus"] for x in chosen} == set(statuses[:2])
    assert len(chosen) == sum(x["leaseStatus"] in statuses[:2] for x in every)
    one = every[0]
    assert [x["leaseId"] for x in _leases(client, billingAccountId=one["billingAccountId"])] == [
        one["leaseId"]
    ]
    assert {x["unitId"] for x in _leases(client, unitId=one["unitId"])} == {one["unitId"]}
    assert {x["unitNumber"] for x in _leases(client, unitNumber=one["unitNumber"])} == {
        one["unitNumber"]
    }
    moved_out = _leases(client, isMovedOut="true")
    assert moved_out and all(x["moveOutDate"] for x in moved_out)
    assert all(x["moveOutDate"] is None for x in _leases(client, isMovedOut="false"))
    day = sorted(x["leaseStartDate"] for x in every)[len(every) // 2]
    late = _leases(client, moveInDateFrom=day)
    assert late and all(x["moveInDate"] and x["moveInDate"] >= day for x in late)
    early = _leases(client, moveInDateTo=day)
    assert all(x["moveInDate"] and x["moveInDate"] <= day for x in early)
    assert len(late) + len(early) >= len([x for x in every if x["moveInDate"]])
    assert "history" in _leases(client, includeLeaseHistory="true")[0]
    assert "history" not in every[0]


@pytest.mark.parametrize(
    "params",
    [
        {"noticeToVacateGivenDateFrom": "2026-01-01"},
        {"leaseStatuses": "Current,Sleeping"},
        {"isMovedOut": "maybe"},
        {"moveInDateFrom": "yesterday"},
    ],
)
def test_a_filter_the_sandbox_cannot_honour_is_an_error(
    client: TestClient, params: dict[str, str]
) -> None:
    since = (CLOCK.now() - timedelta(days=30)).isoformat()
    response = client.get(
        "/Leasing/Leases",
        headers=V2,
        params={"propertyId": _property(client), "modifiedSince": since, **params},
    )
    assert response.status_code == 400 and response.json()["message"]


def test_billing_account_filters(client: TestClient) -> None:
    pid = _property(client)
    since = (CLOCK.now() - timedelta(days=360)).isoformat()

    def accounts(**params: str) -> list[dict[str, Any]]:
        response = client.get(
            "/BillingAccounts",
            headers=V2,
            params={"propertyId": pid, "modifiedSince": since, **params},
        )
        assert response.status_code == 200, response.text
        return list(response.json()["billingAccounts"])

    every = accounts()
    assert {a["accountType"] for a in every} == {"Lease", "Non-Resident"}
    assert all(a["transactions"] == [] for a in every)
    others = accounts(accountTypes="Non-Resident")
    assert others and all(a["leaseID"] is None for a in others)
    one = every[0]
    assert [a["billingAccountId"] for a in accounts(billingAccountId=one["billingAccountId"])] == [
        one["billingAccountId"]
    ]
    assert one["billingAccountId"] in {
        a["billingAccountId"] for a in accounts(personId=one["personId"])
    }
    bad = client.get(
        "/BillingAccounts",
        headers=V2,
        params={"propertyId": pid, "modifiedSince": since, "accountTypes": "Tenant"},
    )
    assert bad.status_code == 400


def test_a_payment_reversed_by_staff_is_marked_and_undone(client: TestClient) -> None:
    pid = _property(client)
    lease = current_lease(client, pid)
    since = format_datetime(CLOCK.now() - timedelta(days=360), usegmt=True)
    params = {
        "propertyId": pid,
        "billingAccountId": lease["billingAccountId"],
        "postedSince": since,
    }
    rows = client.get("/Transactions/Ledger", headers=V2, params=params).json()["transactions"]
    payment = next(r for r in rows if r["type"] == "Payment" and "dateReversed" not in r)
    done = client.post(
        f"/_sandbox/ledger/transactions/{payment['transactionId']}/reverse",
        json={"reason": "NSF"},
    )
    assert done.status_code == 200, done.text
    again = client.post(f"/_sandbox/ledger/transactions/{payment['transactionId']}/reverse")
    assert again.status_code == 409
    rows = client.get("/Transactions/Ledger", headers=V2, params=params).json()["transactions"]
    [marked] = [r for r in rows if r["transactionId"] == payment["transactionId"]]
    assert marked["dateReversed"] == CLOCK.today().isoformat()
    [undo] = [r for r in rows if r["transactionId"] == done.json()["reversal_id"]]
    assert undo["category"] is None and undo["amount"] == -payment["amount"]


def test_the_page_refuses_cross_site_posts_and_framing(client: TestClient) -> None:
    pid = _property(client)
    _post(client, pid, _detail(current_lease(client, pid), TransactionID="CSRF-1"))
    page = client.get("/partner-transactions")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    form = next(f for f in lxml_html.fromstring(page.text).forms if f.action.endswith("/approve"))
    forged = client.post(form.action, data={"posting_date": "2026-11-05"})
    assert forged.status_code == 403
    elsewhere = client.post(
        form.action, data=dict(form.fields), headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    [item] = client.get("/_sandbox/partner-transactions?status=pending").json()["results"]
    cross_site = client.post(
        f"/_sandbox/partner-transactions/{item['id']}/approve",
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    # DNS rebinding: a site's own name pointed here, Origin and Host agreeing.
    rebound = client.post(
        f"/_sandbox/partner-transactions/{item['id']}/approve",
        headers={"Origin": "http://rebind.example", "Host": "rebind.example"},
    )
    assert rebound.status_code == 403
    assert client.get("/partner-transactions", headers={"Host": "rebind.example"}).status_code == (
        403
    )
    for number in (b"NaN", b"Infinity", b"1e308", b"true", b"99999999999999999999999"):
        faults = client.post(
            "/_sandbox/faults",
            content=b'{"latency_ms": ' + number + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert faults.status_code == 400, faults.text
    assert client.get("/_sandbox/partner-transactions?status=pending").json()["results"]


def test_the_control_plane_refuses_a_cross_site_fetch_metadata_header(client: TestClient) -> None:
    """`Sec-Fetch-Site: cross-site` is refused as a cross-site `Origin` is; without it (tests,
    propbridge, curl) or from the same origin, the control plane answers."""
    pid = _property(client)
    _post(client, pid, _detail(current_lease(client, pid), TransactionID="SFS-1"))
    [item] = client.get("/_sandbox/partner-transactions?status=pending").json()["results"]
    approve = f"/_sandbox/partner-transactions/{item['id']}/approve"
    for mode in ("cors", "no-cors", "navigate"):
        headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": mode}
        assert client.post(approve, headers=headers).status_code == 403
        assert client.post("/_sandbox/faults", json={}, headers=headers).status_code == 403
    assert client.get("/_sandbox/info", headers={"Sec-Fetch-Site": "cross-site"}).status_code == (
        403
    )
    assert client.get("/_sandbox/partner-transactions?status=pending").json()["results"]
    assert client.get("/_sandbox/info", headers={"Sec-Fetch-Site": "none"}).status_code == 200
    own = client.post(approve, headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"})
    assert own.status_code == 200 and own.json()["status"] == "posted"
