"""The sandbox and the connector held to the evidence about live ResMan, each on its own.

The sandbox's every v2 answer has exactly the keys, types and enum values live ResMan's has; its
v1 answers the documented keys and the real MITS paths. The connector reads only keys live
ResMan sends, from where it sends them. A change that made both agree on a shape the evidence
contradicts (say, both spelling `trasactionCategoryId`) fails here twice.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from propbridge.clock import Clock
from propbridge.connectors.base import IntegrationAccess
from propbridge.connectors.resman.connector import ResManConnector
from propbridge.connectors.resman.mapping import (
    map_account_transactions,
    map_charge_code,
    map_floor_plans,
    map_lease,
    map_property,
    map_residents,
    map_unit,
)
from propbridge.sandbox.resman.app import SandboxConfig, create_sandbox_app
from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from tests.contracts.evidence import V1, V2, Shape, declared, mits_paths_covered, types_under
from tests.support import DEFAULT_NOW

CLOCK = Clock.starting_at(DEFAULT_NOW)
CONFIG = SandboxConfig(clock=CLOCK.now)
V2_HEADERS = {
    "Authorization": "Basic "
    + base64.b64encode(f"{CONFIG.partner_id}:{CONFIG.api_key}".encode()).decode(),
    "ResMan-Account-Id": CONFIG.account_id,
}
V1_AUTH = {
    "IntegrationPartnerID": CONFIG.partner_id,
    "ApiKey": CONFIG.api_key,
    "AccountID": CONFIG.account_id,
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    store = SandboxStore()
    seed_store(store, SeedSize(properties=2, units=40, months=11), CLOCK.today())
    with TestClient(create_sandbox_app(store, CONFIG), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _since() -> str:
    return format_datetime(CLOCK.now() - timedelta(days=360), usegmt=True)


def v2_answers(client: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(endpoint, query label, answer) for every v2 endpoint, with every optional part asked
    for; the first property's ledgers include a reversed payment."""
    get = client.get
    properties = get("/Properties", headers=V2_HEADERS).json()
    yield "/Properties", "", properties
    for category_type in V2["enums"]["TransactionCategoryType"]:
        answer = get(
            "/TransactionCategories", headers=V2_HEADERS, params={"types": category_type}
        ).json()
        yield "/TransactionCategories", category_type, answer
    for prop in properties["properties"]:
        pid = prop["propertyId"]
        for history in ("true", "false"):
            params = {"propertyId": pid, "modifiedSince": _since(), "includeLeaseHistory": history}
            yield (
                "/Leasing/Leases",
                history,
                get("/Leasing/Leases", headers=V2_HEADERS, params=params).json(),
            )
        yield (
            "/Leasing/RecurringCharges",
            "",
            get("/Leasing/RecurringCharges", headers=V2_HEADERS, params={"propertyId": pid}).json(),
        )
        accounts = get(
            "/BillingAccounts",
            headers=V2_HEADERS,
            params={"propertyId": pid, "modifiedSince": _since(), "includeTransactions": "true"},
        ).json()
        yield "/BillingAccounts", "", accounts
        for account in accounts["billingAccounts"]:
            ledger = get(
                "/Transactions/Ledger",
                headers=V2_HEADERS,
                params={
                    "propertyId": pid,
                    "billingAccountId": account["billingAccountId"],
                    "postedSince": _since(),
                },
            ).json()
            yield "/Transactions/Ledger", account["billingAccountId"], ledger
        yield "/Units", "", get("/Units", headers=V2_HEADERS, params={"propertyId": pid}).json()


def test_every_v2_answer_has_exactly_the_live_shape(client: TestClient) -> None:
    shape = Shape()
    for endpoint, label, answer in v2_answers(client):
        spec = V2["endpoints"][endpoint]
        assert list(answer) == [spec["envelope"]], f"{endpoint}: envelope {list(answer)}"
        for index, item in enumerate(answer[spec["envelope"]]):
            shape.check(spec["item"], item, f"{endpoint}({label})[{index}]")
    assert not shape.problems, "\n".join(shape.problems[:20])
    for endpoint, spec in V2["endpoints"].items():
        seen, total = shape.coverage(types_under(spec["item"]))
        assert seen == total, f"{endpoint}: {seen} of {total} live keys ever returned"


def test_reversals_look_as_live_ledgers_show_them(client: TestClient) -> None:
    rows = [
        row
        for endpoint, _label, answer in v2_answers(client)
        if endpoint == "/Transactions/Ledger"
        for row in answer["transactions"]
    ]
    reversed_rows = [row for row in rows if "dateReversed" in row]
    assert reversed_rows, "the seed has bounced payments"
    assert all(row["type"] == "Payment" for row in reversed_rows)
    reversals = [row for row in rows if row["category"] is None]
    assert len(reversals) == len(reversed_rows)
    assert all("reference" in row and "method" in row for row in rows if row["type"] == "Payment")
    assert not any(
        "reference" in row or "method" in row for row in rows if row["type"] != "Payment"
    )


def test_categories_come_one_type_per_call(client: TestClient) -> None:
    joined = client.get(
        "/TransactionCategories", headers=V2_HEADERS, params={"types": "Charge,Credit"}
    )
    assert joined.status_code == 200 and joined.json() == {"transactionCategories": []}
    assert client.get("/TransactionCategories", headers=V2_HEADERS).status_code == 400
    one = client.get("/TransactionCategories", headers=V2_HEADERS, params={"types": "Credit"})
    assert {c["type"] for c in one.json()["transactionCategories"]} == {"Credit"}


def test_v1_answers_documented_keys_as_json_unless_xml_is_asked(client: TestClient) -> None:
    pid = client.get("/Properties", headers=V2_HEADERS).json()["properties"][0]["propertyId"]
    envelope = V1["json_envelope"]
    for method, spec in V1["methods"].items():
        reply = client.post(f"/{method}", data={**V1_AUTH, "PropertyID": pid})
        assert reply.headers["content-type"].startswith("application/json"), method
        body = reply.json()
        assert set(body) - {spec["payload"]} <= set(envelope["keys"]) | set(envelope["optional"])
        assert set(envelope["keys"]) <= set(body)
        for item in body[spec["payload"]]:
            assert set(spec["keys"]) <= set(item) <= set(spec["keys"]) | set(spec["optional"])
        xml = client.post(
            f"/{method}", data={**V1_AUTH, "PropertyID": pid}, headers={"Accept": "application/xml"}
        )
        assert etree.fromstring(xml.content).findtext("Status") == "Success"


def test_v1_form_fields_in_any_spelling(client: TestClient) -> None:
    spelled = {
        "integrationpartnerid": CONFIG.partner_id,
        "APIKey": CONFIG.api_key,
        "accountID": "400",
    }
    assert client.post("/Account/GetProperties", data=spelled).json()["Status"] == "Success"


def test_marketing_document_has_the_observed_floor_plan_paths(client: TestClient) -> None:
    from tests.contracts.evidence import element_paths

    pid = client.get("/Properties", headers=V2_HEADERS).json()["properties"][0]["propertyId"]
    reply = client.post("/MITS/GetMarketing4_0", data={**V1_AUTH, "PropertyID": pid})
    missing = set(V1["GetMarketing4_0"]["observed_paths"]) - element_paths(
        etree.fromstring(reply.content)
    )
    assert not missing, sorted(missing)


def test_resident_transactions_reply_has_the_real_mits_paths(client: TestClient) -> None:
    pid = client.get("/Properties", headers=V2_HEADERS).json()["properties"][0]["propertyId"]
    reply = client.post("/MITS/GetResidentTransactions2_0", data={**V1_AUTH, "PropertyID": pid})
    covered, missing = mits_paths_covered(reply.content)
    assert len(covered) / (len(covered) + len(missing)) >= 0.95, sorted(missing)


# ----------------------------------------------------------------------------- the connector
class Recorded(dict[str, Any]):
    """A payload of one live type that notes each key the code under test reads."""

    def __init__(self, type_name: str, data: dict[str, Any], reads: set[tuple[str, str]]) -> None:
        super().__init__(data)
        self.type_name, self.reads = type_name, reads

    def __getitem__(self, key: str) -> Any:
        self.reads.add((self.type_name, key))
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.reads.add((self.type_name, key))
        return super().get(key, default)


def sample(type_name: str, reads: set[tuple[str, str]], **values: Any) -> Recorded:
    """An item of a live type with every declared key, built from the evidence alone."""
    data: dict[str, Any] = {}
    for key, (spec, _optional) in declared(type_name).items():
        base = spec.removesuffix("|null")
        if key in values:
            data[key] = values[key]
        elif base == "string":
            data[key] = (
                "2026-05-03"
                if "date" in key.lower() or key in ("lastModified", "dateCreated")
                else f"{type_name}-{key}"
            )
        elif base == "number":
            data[key] = 1234.56
        elif base == "boolean":
            data[key] = True
        elif base.startswith("enum:"):
            data[key] = V2["enums"][base[5:]][0]
        elif base.endswith("[]"):
            data[key] = [sample(base[:-2], reads)]
        else:
            data[key] = sample(base, reads)
    return Recorded(type_name, data, reads)


def _undeclared(reads: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((t, k) for t, k in reads if k not in declared(t))


def test_connector_reads_only_keys_live_resman_sends() -> None:
    reads: set[tuple[str, str]] = set()
    transaction = sample("BillingAccountTransaction", reads, type="Payment", amount=250.0)
    account = sample("BillingAccount", reads, transactions=[transaction])
    line = sample(
        "LedgerRow", reads, transactionId=transaction["id"], type="Payment", method="Check"
    )
    line["dateReversed"] = "2026-05-09"
    [payment] = map_account_transactions(account, "p", [line])
    assert payment.fields["x_charge_code_id"] == transaction["transactionCategoryId"].lower()
    assert payment.fields["x_lease_id"] == account["leaseID"].lower()
    assert payment.fields["payment_method_raw"] == "Check"
    assert payment.fields["reversed_date"] == "2026-05-09"
    lease = sample("Lease", reads, leaseStatus="Current")
    lease["history"][0]["leaseId"] = lease["leaseId"]
    mapped = map_lease(lease)
    assert mapped.fields["rent_amount_in_cents"] == 123456
    assert mapped.fields["signature_date"] == "2026-05-03"
    [resident] = map_residents([lease])
    assert resident.fields["middle_name"] == "LeasePerson-middleName"
    assert resident.links["leases"][0]["x_resident_type"] == "LeasePerson-householdStatus"
    assert resident.links["leases"][0]["resident_type_normalized"] == "GUARANTOR"
    code = map_charge_code(sample("TransactionCategory", reads), "p")
    assert code.fields["category_type"] == "Credit"
    manager = sample("ManagementTeamMember", reads, role="Property Manager")
    prop = map_property(sample("Property", reads, manager=None, managementTeam=[manager]))
    assert prop.fields["type_normalized"] == "MULTI_FAMILY"
    assert (
        prop.fields["manager_name"]
        == "ManagementTeamMember-firstName ManagementTeamMember-lastName"
    )
    unit = map_unit(sample("Unit", reads))
    assert unit.fields["x_unit_type_id"] == "Unit-unitTypeId"
    assert unit.links["floor_plan"] == "Unit-unitType"
    assert not _undeclared(reads), _undeclared(reads)


def test_connector_reads_floor_plans_from_the_observed_paths_only() -> None:
    observed = "".join(
        [
            "<ResMan><Status>Success</Status><Response><PhysicalProperty><Property>",
            '<Floorplan IDValue="B1"><UnitsAvailable>2</UnitsAvailable>',
            '<Room RoomType="Bedroom"><Count>2</Count></Room>',
            '<Room RoomType="Bathroom"><Count>1.50</Count></Room>',
            '<SquareFeet Avg="981"/><EffectiveRent Min="1200.00" Max="1350.00"/>',
            "<File><Src>https://img/b1.jpg</Src></File></Floorplan>",
            "</Property></PhysicalProperty></Response></ResMan>",
        ]
    )
    [plan] = map_floor_plans(etree.fromstring(observed), "p")
    assert plan.fields["bedrooms"] == 2 and plan.fields["bathrooms"] == "1.50"
    assert plan.fields["rentable_square_feet"] == 981
    assert plan.fields["rent_minimum_in_cents"] == 120000
    assert plan.fields["rent_maximum_in_cents"] == 135000
    assert plan.fields["image_urls"] == ["https://img/b1.jpg"]


def _live_resman(calls: list[httpx.Request]) -> httpx.MockTransport:
    """ResMan as the evidence says it answers categories: one `types` value or nothing."""

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path == "/Properties":
            return httpx.Response(200, json={"properties": [{"propertyId": "P1"}]})
        wanted = request.url.params.get("types", "")
        items = [
            {**sample("TransactionCategory", set()), "transactionCategoryId": f"c-{t}", "type": t}
            for t in V2["enums"]["TransactionCategoryType"]
            if t == wanted
        ]
        return httpx.Response(200, json={"transactionCategories": items})

    return httpx.MockTransport(answer)


async def test_connector_asks_for_one_category_type_per_call() -> None:
    calls: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=_live_resman(calls)) as http:
        connector = ResManConnector(
            IntegrationAccess(
                "i",
                "https://resman.test",
                {"integrationPartnerId": "1", "apiKey": "k", "accountId": "4"},
            ),
            http,
        )
        pages = [page async for page in connector.fetch("charge_codes", None)]
    types = [c.url.params["types"] for c in calls if c.url.path == "/TransactionCategories"]
    assert sorted(types) == sorted(V2["enums"]["TransactionCategoryType"])
    assert {r.fields["category_type"] for r in pages[0]} == set(types)
