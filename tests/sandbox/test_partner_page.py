"""The Partner Transactions page as a property manager uses it: pending files by property and
batch, names, totals, plurals, several approved or rejected at once, history, and its guards."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html

from propbridge.sandbox.resman.app import create_sandbox_app
from propbridge.sandbox.resman.page import (
    ERRORS,
    MAX_FORM_FIELDS,
    PageData,
    dollars,
    plural,
    render_page,
)
from propbridge.sandbox.resman.seed import SeedSize, seed_store
from propbridge.sandbox.resman.store import SandboxStore
from propbridge.sandbox.resman.xml_io import parse_untrusted
from tests.sandbox.conftest import AUTH, CLOCK, CONFIG, V2, current_lease

PAGE = "/partner-transactions"


def _properties(client: TestClient) -> list[tuple[str, str]]:
    """(id, name) of each property, from the control plane."""
    info = client.get("/_sandbox/info").json()
    return [(p["property_id"], p["name"]) for p in info["properties"]]


def _resident(client: TestClient, lease: dict[str, Any]) -> str:
    """The lease's billing account holder, as ResMan's API names them."""
    since = (CLOCK.now() - timedelta(days=300)).isoformat()
    accounts = client.get(
        "/BillingAccounts",
        headers=V2,
        params={"propertyId": lease["propertyId"], "modifiedSince": since},
    ).json()["billingAccounts"]
    [account] = [a for a in accounts if a["leaseID"] == lease["leaseId"]]
    return f"{account['firstName']} {account['lastName']}"


def _post(
    client: TestClient,
    lease: dict[str, Any],
    kind: str = "Charge",
    attrs: str = "",
    **over: str,
) -> None:
    """Post a real MITS document with one transaction; ResMan must take it."""
    values = {
        "TransactionID": "R1",
        "BatchID": "B1",
        "TransactionDate": "2026-11-02",
        "ChargeCode": "PETF",
        "Description": "Pet fee",
        "CustomerID": lease["leaseId"],
        "UnitID": lease["unitNumber"],
        "Amount": "75.00",
    }
    values.update(over)
    detail = "".join(f"<{k}>{v}</{k}>" for k, v in values.items() if v != "-")
    _post_transactions(client, lease, f"<{kind}{attrs}><Detail>{detail}</Detail></{kind}>")


def _post_transactions(client: TestClient, lease: dict[str, Any], transactions: str) -> None:
    """Post a real MITS document with these transactions; ResMan must take it."""
    xml = (
        f"<ResidentTransactions><Property><RT_Customer><RTServiceTransactions><Transactions>"
        f"{transactions}</Transactions></RTServiceTransactions>"
        "</RT_Customer></Property></ResidentTransactions>"
    )
    response = client.post(
        "/MITS/PostResidentTransactions2_0",
        data={**AUTH, "PropertyID": lease["propertyId"], "Xml": xml},
    )
    root = parse_untrusted(response.content)
    assert root.findtext("Status") == "Success", response.text


def _page(client: TestClient, url: str = PAGE) -> Any:
    response = client.get(url)
    assert response.status_code == 200
    return lxml_html.fromstring(response.text)


def _items(client: TestClient) -> dict[str, dict[str, Any]]:
    """Every partner transaction by reference, from the control plane."""
    return {
        i["reference"]: i for i in client.get("/_sandbox/partner-transactions").json()["results"]
    }


def _ids(page: Any, *references: str) -> list[str]:
    return [page.xpath(f'//tr[@data-reference="{r}"]/@data-item-id')[0] for r in references]


def _token(page: Any) -> str:
    return str(page.get_element_by_id("decide-form").xpath('.//input[@name="csrf"]/@value')[0])


def _decide(
    client: TestClient, page: Any, item_ids: list[str], action: str, **fields: str
) -> httpx.Response:
    data = {"csrf": _token(page), "item_ids": item_ids, "action": action, **fields}
    return client.post(f"{PAGE}/decide", data=data, follow_redirects=False)


def _flash(client: TestClient, response: httpx.Response) -> str:
    """Follow a decision's redirect; the flash it shows."""
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(PAGE)
    page = _page(client, response.headers["location"])
    return str(page.get_element_by_id("flash").text_content())


def _text(element: Any) -> str:
    return " ".join(element.text_content().split())


def _cells(row: Any) -> str:
    """A table row's cells that say something, one space apart."""
    return " ".join(text for cell in row.xpath("./th | ./td") if (text := _text(cell)))


def test_pending_are_grouped_by_property_name_then_batch(client: TestClient) -> None:
    (first, first_name), (second, second_name) = _properties(client)
    lease, other = current_lease(client, first), current_lease(client, second)
    _post(client, lease, TransactionID="A1", BatchID="B1")
    _post(client, lease, TransactionID="A2", BatchID="B1")
    _post(client, lease, TransactionID="A3", BatchID="B2")
    _post(client, other, TransactionID="C1", BatchID="B1")
    page = _page(client)
    cards = page.xpath('//section[contains(@class, "property")]')
    # One card per property, headed by its name, in name order.
    assert [_text(c.xpath(".//h2")[0]) for c in cards] == sorted([first_name, second_name])
    by_name = {_text(c.xpath(".//h2")[0]): c for c in cards}
    batches = {
        b.get("data-batch-id"): b.xpath(".//tr/@data-reference")
        for b in by_name[first_name].xpath('.//section[@class="batch"]')
    }
    assert batches == {"B1": ["A1", "A2"], "B2": ["A3"]}
    assert by_name[second_name].xpath(".//tr/@data-reference") == ["C1"]
    assert by_name[first_name].get("data-property-id") == first
    assert "3 transactions" in _text(by_name[first_name].xpath(".//header")[0])


def test_a_property_without_a_known_name_shows_its_id() -> None:
    item = {
        "id": "i1",
        "file_id": "f1",
        "batch_id": "B1",
        "property_id": "p-unknown",
        "kind": "charge",
        "customer_id": "lease-x",
        "unit_id": "7",
        "charge_code": "PETF",
        "payment_type": None,
        "amount": "1.00",
        "transaction_date": "2026-11-02",
        "description": None,
        "comment": None,
        "reference": "R9",
        "received_at": "2026-11-25T14:30:00.000000Z",
    }
    data = PageData([item], [], [], 0, 0, {}, {}, {}, date(2026, 11, 25), "t")
    page = lxml_html.fromstring(render_page(data))
    assert "p-unknown" in _text(page.xpath('//section[contains(@class, "property")]//h2')[0])
    # And an unknown lease shows its id where the name would be.
    assert "lease-x" in _text(page.xpath('//tr[@data-reference="R9"]/td')[1])


def test_rows_show_the_resident_unit_code_amount_date_description_reference(
    client: TestClient,
) -> None:
    pid, _name = _properties(client)[0]
    lease = current_lease(client, pid)
    _post(client, lease, TransactionID="ROW-1", Amount="1234.50", Description="Pet fee Nov")
    detail = {"ChargeCode": "-", "TransactionID": "-", "DocumentNumber": "PAY-1"}
    _post(client, lease, "Payment", ' Type="Credit Card"', PaidBy="Chen Silva", **detail)
    _post(client, lease, "Payment", ' Type="Check"', **{**detail, "DocumentNumber": "PAY-2"})
    page = _page(client)
    # MITS names the lease (CustomerID), not a person: the column says so.
    headers = [_text(th) for th in page.xpath('//table[@class="items"]/thead/tr/th')]
    assert headers[1:4] == ["Lease (holder)", "Unit", "Code / type"]
    assert "Resident" not in headers
    [charge] = page.xpath('//tr[@data-reference="ROW-1"]')
    cells = [_text(td) for td in charge.xpath("./td")]
    assert cells[1] == _resident(client, lease)
    assert cells[2] == lease["unitNumber"]
    assert cells[3] == "PETF Pet Fee"
    assert cells[4] == "$1,234.50"
    assert charge.xpath("./td")[4].get("class") == "num"
    assert cells[5] == "2026-11-02"
    assert cells[6] == "Pet fee Nov"
    assert cells[7] == "ROW-1"
    [payment] = page.xpath('//tr[@data-reference="PAY-1"]')
    assert _text(payment.xpath("./td")[3]) == "Payment · Credit Card"
    # Who paid, when the document says (PaidBy); the lease's holder either way.
    assert _text(payment.xpath("./td")[1]) == f"{_resident(client, lease)} paid by Chen Silva"
    [unnamed] = page.xpath('//tr[@data-reference="PAY-2"]')
    assert _text(unnamed.xpath("./td")[1]) == _resident(client, lease)
    [box] = charge.xpath('.//input[@type="checkbox"][@name="item_ids"]')
    assert box.get("value") == charge.get("data-item-id") == _items(client)["ROW-1"]["id"]
    assert box.get("form") == "decide-form"
    # Each batch can be selected at once.
    assert page.xpath('//section[@class="batch"]//thead//input[@class="select-all"]')


def test_totals_are_exact_per_batch_property_and_overall(client: TestClient) -> None:
    (first, first_name), (second, second_name) = _properties(client)
    lease, other = current_lease(client, first), current_lease(client, second)
    _post(client, lease, TransactionID="T1", Amount="0.10")
    _post(client, lease, TransactionID="T2", Amount="0.20")
    _post(client, lease, TransactionID="T3", BatchID="B2", Amount="1234.50")
    _post(client, other, TransactionID="T4", Amount="999999.99")
    # 1.15 as a float is 1.1499999999999999: cents from floats would lose one.
    _post(client, other, TransactionID="T5", BatchID="B3", Amount="1.15")
    page = _page(client)
    cards = {
        _text(c.xpath(".//h2")[0]): c for c in page.xpath('//section[contains(@class, "property")]')
    }

    def totals(root: Any, kind: str) -> list[str]:
        return [_text(t) for t in root.xpath(f'.//*[@data-total="{kind}"]')]

    assert totals(cards[first_name], "batch") == ["$0.30", "$1,234.50"]
    assert totals(cards[first_name], "property") == ["$1,234.80"]
    assert totals(cards[second_name], "batch") == ["$999,999.99", "$1.15"]
    assert totals(cards[second_name], "property") == ["$1,000,001.14"]
    assert totals(page, "overall") == ["$1,001,235.94"]
    assert dollars(0) == "$0.00" and dollars(5) == "$0.05" and dollars(123450) == "$1,234.50"
    # Charges only: no payments figure anywhere.
    assert not page.xpath("//*[@data-total-payments]")
    assert "charges $1,001,235.94" in _text(page.get_element_by_id("summary"))


def test_totals_keep_charges_and_payments_apart(client: TestClient) -> None:
    (first, first_name), (second, second_name) = _properties(client)
    lease, other = current_lease(client, first), current_lease(client, second)
    payment = {"ChargeCode": "-", "TransactionID": "-"}
    _post(client, lease, TransactionID="M1", Amount="1500.00")
    _post(client, lease, TransactionID="M2", Amount="45.67")
    _post(
        client, lease, "Payment", ' Type="Check"', DocumentNumber="M3", Amount="200.00", **payment
    )
    _post(client, lease, "Payment", ' Type="ACH"', DocumentNumber="M4", BatchID="B2", **payment)
    _post(client, other, TransactionID="M5", Amount="10.00")
    page = _page(client)
    cards = {
        _text(c.xpath(".//h2")[0]): c for c in page.xpath('//section[contains(@class, "property")]')
    }

    def figures(root: Any, kind: str, scope: str) -> list[str]:
        return [_text(t) for t in root.xpath(f'.//*[@data-total{kind}="{scope}"]')]

    mixed, payments_only = cards[first_name].xpath('.//section[@class="batch"]')
    assert figures(mixed, "", "batch") == ["$1,545.67"]
    assert figures(mixed, "-payments", "batch") == ["$200.00"]
    assert [_cells(r) for r in mixed.xpath(".//tfoot/tr")] == [
        "Batch total, charges $1,545.67",
        "Batch total, payments $200.00",
    ]
    # A batch of payments only: its payments, labelled, and no charges figure.
    assert figures(payments_only, "", "batch") == []
    assert figures(payments_only, "-payments", "batch") == ["$75.00"]
    assert [_cells(r) for r in payments_only.xpath(".//tfoot/tr")] == [
        "Batch total, payments $75.00"
    ]
    assert figures(cards[first_name], "", "property") == ["$1,545.67"]
    assert figures(cards[first_name], "-payments", "property") == ["$275.00"]
    assert "charges $1,545.67 · payments $275.00" in _text(cards[first_name].xpath(".//header")[0])
    # A property with charges only says so.
    assert figures(cards[second_name], "", "property") == ["$10.00"]
    assert figures(cards[second_name], "-payments", "property") == []
    assert _text(cards[second_name].xpath(".//header/p")[0]).endswith("· charges $10.00")
    assert figures(page, "", "overall") == ["$1,555.67"]
    assert figures(page, "-payments", "overall") == ["$275.00"]
    summary = _text(page.get_element_by_id("summary"))
    assert summary.endswith("· charges $1,555.67 · payments $275.00")
    # Never one figure of charges and payments added together.
    assert "$1,820.67" not in _text(page) and "$1,830.67" not in _text(page)


def test_plurals_for_one_and_two(client: TestClient) -> None:
    (first, _), (second, _) = _properties(client)
    lease, other = current_lease(client, first), current_lease(client, second)
    _post(client, lease, TransactionID="P1")
    page = _page(client)
    summary = _text(page.get_element_by_id("summary"))
    assert "1 transaction in 1 file at 1 property" in summary
    assert "1 file · 1 transaction" in _text(
        page.xpath('//section[contains(@class, "property")]')[0]
    )
    _post(client, other, TransactionID="P2", BatchID="B9")
    summary = _text(_page(client).get_element_by_id("summary"))
    assert "2 transactions in 2 files at 2 properties" in summary
    assert [plural(n, "batch", "batches") for n in (0, 1, 2, 1000)] == [
        "0 batches",
        "1 batch",
        "2 batches",
        "1,000 batches",
    ]


def test_approve_selected_on_a_posting_date(client: TestClient) -> None:
    pid, name = _properties(client)[0]
    lease = current_lease(client, pid)
    for reference in ("S1", "S2", "S3"):
        _post(client, lease, TransactionID=reference)
    page = _page(client)
    response = _decide(client, page, _ids(page, "S1", "S2"), "approve", posting_date="2026-11-20")
    assert _flash(client, response) == "Approved 2 transactions, posted on 2026-11-20."
    items = _items(client)
    assert [(items[r]["status"], items[r]["posting_date"]) for r in ("S1", "S2", "S3")] == [
        ("posted", "2026-11-20"),
        ("posted", "2026-11-20"),
        ("pending", None),
    ]
    page = _page(client)
    assert page.xpath("//tr[@data-item-id]/@data-reference") == ["S3"]
    rows = {r.get("data-reference"): r for r in page.xpath('//tr[@data-history="posted"]')}
    assert set(rows) == {"S1", "S2"}
    cells = [_text(td) for td in rows["S1"].xpath("./td")]
    assert cells[:5] == [name, _resident(client, lease), "PETF Pet Fee", "$75.00", "2026-11-20"]
    assert cells[7] == items["S1"]["transaction_id"]
    assert "No rejected transactions yet." in _text(page)


def test_approve_selected_by_default_posts_on_each_transaction_date(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    lease = current_lease(client, pid)
    _post(client, lease, TransactionID="D1", TransactionDate="2026-11-02")
    page = _page(client)
    note = _text(page.get_element_by_id("posting-date-help"))
    assert "Leave empty to post on 2026-11-02" in note
    [date_input] = page.xpath('//input[@id="posting-date"]')
    assert date_input.get("type") == "date" and date_input.get("name") == "posting_date"
    _post(client, lease, TransactionID="D2", TransactionDate="2026-11-05")
    page = _page(client)
    assert "2026-11-02 to 2026-11-05" in _text(page.get_element_by_id("posting-date-help"))
    assert "2026-11-25" in _text(page.xpath('//header[@class="topbar"]')[0])
    response = _decide(client, page, _ids(page, "D1", "D2"), "approve", posting_date="")
    assert _flash(client, response) == (
        "Approved 2 transactions, each posted on its own transaction date."
    )
    items = _items(client)
    assert items["D1"]["posting_date"] == "2026-11-02"
    assert items["D2"]["posting_date"] == "2026-11-05"


def test_reject_selected(client: TestClient) -> None:
    pid, name = _properties(client)[0]
    lease = current_lease(client, pid)
    for reference in ("J1", "J2", "J3"):
        _post(client, lease, TransactionID=reference)
    page = _page(client)
    response = _decide(client, page, _ids(page, "J1", "J3"), "reject", posting_date="2026-11-20")
    assert _flash(client, response) == "Rejected 2 transactions."
    items = _items(client)
    assert [items[r]["status"] for r in ("J1", "J2", "J3")] == ["rejected", "pending", "rejected"]
    page = _page(client)
    rows = page.xpath('//tr[@data-history="rejected"]')
    assert sorted(r.get("data-reference") for r in rows) == ["J1", "J3"]
    assert [_text(td) for td in rows[0].xpath("./td")][:4] == [
        name,
        _resident(client, lease),
        "PETF Pet Fee",
        "$75.00",
    ]
    assert "No posted transactions yet." in _text(page)


def test_decided_and_unknown_ids_are_skipped_quietly(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    lease = current_lease(client, pid)
    _post(client, lease, TransactionID="K1")
    _post(client, lease, TransactionID="K2")
    page = _page(client)
    [k1, k2] = _ids(page, "K1", "K2")
    _flash(client, _decide(client, page, [k1], "reject"))
    response = _decide(client, page, [k1, "no-such-id", k2], "approve")
    assert _flash(client, response) == (
        "Approved 1 transaction, posted on its transaction date. "
        "2 transactions were already decided or unknown: skipped."
    )
    assert _items(client)["K1"]["status"] == "rejected"
    assert _items(client)["K2"]["status"] == "posted"


def test_nothing_selected_and_a_bad_date_change_nothing(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="N1")
    page = _page(client)
    assert _flash(client, _decide(client, page, [], "approve")).startswith("Nothing was selected")
    for bad in ("2026-02-30", "20261120", "soon"):
        response = _decide(client, page, _ids(page, "N1"), "approve", posting_date=bad)
        assert "posting date must be a day" in _flash(client, response)
    assert _items(client)["N1"]["status"] == "pending"


def _security_headers(response: httpx.Response) -> None:
    """The page's security headers, on every answer of the page."""
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    # `no-referrer` would make Chromium send `Origin: null` with the page's own posts (refused).
    assert response.headers["referrer-policy"] == "same-origin"
    policy = dict(
        directive.split(" ", 1)
        for directive in response.headers["content-security-policy"].split("; ")
    )
    assert policy == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }


def _refusal(response: httpx.Response, says: str) -> None:
    """A 403 as a small HTML page (never JSON) that links back to the page."""
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    _security_headers(response)
    page = lxml_html.fromstring(response.text)
    assert says in _text(page.get_element_by_id("problem"))
    assert page.get_element_by_id("back").get("href") == PAGE


@pytest.mark.parametrize("token", [None, "", "wrong", "from-before-a-restart-é"])
def test_a_missing_or_wrong_token_is_403(client: TestClient, token: str | None) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="X1")
    page = _page(client)
    data: dict[str, Any] = {"item_ids": _ids(page, "X1"), "action": "approve"}
    if token is not None:
        data["csrf"] = token
    [item_id] = _ids(page, "X1")
    file_id = _items(client)["X1"]["file_id"]
    for url in (f"{PAGE}/decide", f"{PAGE}/{item_id}/approve", f"{PAGE}/files/{file_id}/approve"):
        response = client.post(url, data=data, follow_redirects=False)
        _refusal(response, "This form is out of date or from elsewhere")
        assert "Load the page again" in response.text
    assert _items(client)["X1"]["status"] == "pending"


def test_a_form_from_before_a_restart_is_refused_as_html() -> None:
    """The token is new on every start: a tab left open across a restart gets the HTML page."""
    store = SandboxStore()
    seed_store(store, SeedSize(properties=1, units=5, months=2), CLOCK.today())
    with TestClient(create_sandbox_app(store, CONFIG), base_url="http://127.0.0.1") as before:
        old = _page(before)
    with TestClient(create_sandbox_app(store, CONFIG), base_url="http://127.0.0.1") as after:
        response = after.post(
            f"{PAGE}/decide",
            data={"csrf": _token(old), "action": "approve", "item_ids": ["x"]},
            follow_redirects=False,
        )
        _refusal(response, "out of date")


def _post_batch(client: TestClient, lease: dict[str, Any], count: int, batch: str) -> None:
    """One document of `count` charges, all in one batch (as propbridge's largest sends)."""
    _post_transactions(
        client,
        lease,
        "".join(
            f"<Charge><Detail><TransactionID>{batch}-{n}</TransactionID><BatchID>{batch}</BatchID>"
            "<TransactionDate>2026-11-02</TransactionDate><ChargeCode>PETF</ChargeCode>"
            f"<CustomerID>{lease['leaseId']}</CustomerID><Amount>1.00</Amount></Detail></Charge>"
            for n in range(count)
        ),
    )


@pytest.mark.parametrize("button", ["Approve selected", "Approve batch"])
def test_a_full_batch_of_1000_is_approved_with_select_all(client: TestClient, button: str) -> None:
    pid, _ = _properties(client)[0]
    _post_batch(client, current_lease(client, pid), 1000, "FULL")
    page = _page(client)
    [batch] = page.xpath('//section[@data-batch-id="FULL"]')
    assert "1,000 transactions" in _text(batch.xpath(".//span[@class='meta']")[0])
    # Select all ticks every box of the batch; either button then posts all 1,000 of them.
    ticked = batch.xpath('.//input[@name="item_ids"]/@value')
    assert len(ticked) == 1000
    data = {"csrf": _token(page), "item_ids": ticked, "posting_date": "2026-11-20"}
    if button == "Approve selected":
        url = f"{PAGE}/decide"
        data["action"] = "approve"
    else:
        [approve] = batch.xpath('.//button[contains(@formaction, "/approve")]')
        assert _text(approve) == button
        url = approve.get("formaction")
    response = client.post(url, data=data, follow_redirects=False)
    assert _flash(client, response) == "Approved 1,000 transactions, posted on 2026-11-20."
    assert {i["status"] for i in _items(client).values()} == {"posted"}


def test_a_form_the_page_cannot_read_comes_back_as_the_page(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="Z1")
    page = _page(client)
    token, [item_id] = _token(page), _ids(page, "Z1")
    too_many = {"csrf": token, "action": "approve", "item_ids": [item_id] * MAX_FORM_FIELDS}
    response = client.post(f"{PAGE}/decide", data=too_many, follow_redirects=False)
    _security_headers(response)
    assert _flash(client, response) == ERRORS["many"]
    unreadable: list[dict[str, Any]] = [
        {"content": b"csrf=x", "headers": {"Content-Type": "multipart/form-data"}},
        {"files": {"upload": ("a.txt", b"x")}, "data": {"csrf": token, "action": "approve"}},
        {
            "content": b"csrf=" + b"a" * (1024 * 1024 + 1),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
    ]
    for request in unreadable:
        response = client.post(f"{PAGE}/decide", follow_redirects=False, **request)
        assert _flash(client, response) == ERRORS["form"]
    assert _items(client)["Z1"]["status"] == "pending"


def test_a_cross_site_origin_is_403(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="O1")
    page = _page(client)
    data = {"csrf": _token(page), "item_ids": _ids(page, "O1"), "action": "approve"}
    forged = client.post(
        f"{PAGE}/decide",
        data=data,
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert _items(client)["O1"]["status"] == "pending"
    assert client.get(PAGE, headers={"Origin": "https://evil.example"}).status_code == 403
    own = client.post(
        f"{PAGE}/decide", data=data, headers={"Origin": "http://127.0.0.1"}, follow_redirects=False
    )
    assert own.status_code == 303
    assert _items(client)["O1"]["status"] == "posted"
    _refusal(forged, "Cross-site requests are refused")


CROSS_SITE_FETCH = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": ""}


def test_a_cross_site_fetch_metadata_header_is_403(client: TestClient) -> None:
    """A browser's cross-site post says so in `Sec-Fetch-Site` even without `Origin`."""
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="Q1")
    page = _page(client)
    data = {"csrf": _token(page), "item_ids": _ids(page, "Q1"), "action": "approve"}
    [item_id] = _ids(page, "Q1")
    form_post = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    for headers in (form_post, {**form_post, "Sec-Fetch-Dest": "document"}, CROSS_SITE_FETCH):
        for url in (f"{PAGE}/decide", f"{PAGE}/{item_id}/approve"):
            forged = client.post(url, data=data, headers=headers, follow_redirects=False)
            _refusal(forged, "Cross-site requests are refused")
    assert _items(client)["Q1"]["status"] == "pending"
    # Another site may not fetch or embed the page (it carries the token)...
    assert client.get(PAGE, headers=CROSS_SITE_FETCH).status_code == 403
    # ...but a link to it from elsewhere still opens it: a top-level navigation changes nothing.
    link = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
    }
    assert client.get(PAGE, headers=link).status_code == 200
    # The page's own posts, and programs that send no such header, go through.
    own = client.post(
        f"{PAGE}/decide",
        data=data,
        headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"},
        follow_redirects=False,
    )
    assert own.status_code == 303
    assert _items(client)["Q1"]["status"] == "posted"


@pytest.mark.parametrize("action", ["delete", "", "APPROVE", None])
def test_an_unknown_action_changes_nothing(client: TestClient, action: str | None) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="U1")
    page = _page(client)
    data: dict[str, Any] = {"csrf": _token(page), "item_ids": _ids(page, "U1")}
    if action is not None:
        data["action"] = action
    response = client.post(f"{PAGE}/decide", data=data, follow_redirects=False)
    assert _flash(client, response).startswith("Choose Approve selected or Reject selected")
    [item_id] = _ids(page, "U1")
    single = client.post(
        f"{PAGE}/{item_id}/delete", data={"csrf": _token(page)}, follow_redirects=False
    )
    assert _flash(client, single).startswith("Choose")
    assert _items(client)["U1"]["status"] == "pending"


def test_the_decide_form_and_its_buttons(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="F1")
    response = client.get(PAGE)
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page = lxml_html.fromstring(response.text)
    form = page.get_element_by_id("decide-form")
    assert form.get("method") == "post" and form.get("action") == f"{PAGE}/decide"
    buttons = {
        b.get("value"): _text(b) for b in form.xpath('.//button[@name="action"][@value!=""]')
    }
    assert buttons == {"approve": "Approve selected", "reject": "Reject selected"}
    # Enter in the date field presses the first button: one that decides nothing.
    first = form.xpath(".//button")[0]
    assert first.get("value") == "" and first.get("hidden") is not None
    script = client.get(f"{PAGE}/page.js")
    assert script.status_code == 200 and "select-all" in script.text
    assert not page.xpath("//*[@onclick or @onchange]")


def test_the_page_runs_only_its_own_script_and_style(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    _post(client, current_lease(client, pid), TransactionID="C1")
    response = client.get(PAGE)
    _security_headers(response)
    page = lxml_html.fromstring(response.text)
    # Nothing inline for the policy to block: the style and script are files of the page.
    assert not page.xpath("//style | //*[@style] | //script[not(@src)]")
    assert page.xpath("//link[@rel='stylesheet']/@href") == [f"{PAGE}/page.css"]
    style, script = client.get(f"{PAGE}/page.css"), client.get(f"{PAGE}/page.js")
    assert style.headers["content-type"].startswith("text/css") and ".batch-head" in style.text
    assert script.headers["content-type"].startswith("text/javascript")
    _security_headers(style)
    _security_headers(script)
    # Every answer of the page carries them: its redirects and its refusals too.
    data = {"csrf": _token(page), "item_ids": _ids(page, "C1"), "action": "reject"}
    _security_headers(client.post(f"{PAGE}/decide", data=data, follow_redirects=False))
    _security_headers(client.post(f"{PAGE}/decide", data={}, follow_redirects=False))


def test_a_batch_button_uses_the_posting_date(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    lease = current_lease(client, pid)
    _post(client, lease, TransactionID="W1")
    _post(client, lease, TransactionID="W2")
    page = _page(client)
    [approve] = page.xpath('//button[@form="decide-form"][contains(@formaction, "/approve")]')
    response = client.post(
        approve.get("formaction"),
        data={"csrf": _token(page), "posting_date": "2026-11-21"},
        follow_redirects=False,
    )
    assert _flash(client, response) == "Approved 2 transactions, posted on 2026-11-21."
    assert {i["posting_date"] for i in _items(client).values()} == {"2026-11-21"}


def test_descriptions_and_query_text_are_escaped(client: TestClient) -> None:
    pid, _ = _properties(client)[0]
    lease = current_lease(client, pid)
    hostile = "&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"quoted\""
    _post(client, lease, TransactionID="E&lt;1&gt;", Description=hostile, Comment="&lt;b&gt;hi")
    response = client.get(PAGE)
    page = lxml_html.fromstring(response.text)
    # The only script is the page's own.
    assert [s.get("src") for s in page.xpath("//script")] == [f"{PAGE}/page.js"]
    assert not page.xpath("//b[text()='hi']")
    [row] = page.xpath("//tr[@data-item-id]")
    assert row.get("data-reference") == "E<1>"
    assert "<script>alert('x')</script> & \"quoted\"" in _text(row)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)" in response.text
    # The flash names fixed messages only: words in the query never reach the page.
    for query in (
        "?error=%3Cscript%3E",
        "?done=%3Cscript%3E&n=1",
        "?done=approve&n=1&on=%3Cscript%3E",
        "?done=approve&n=-1",
        "?done=approve&n=%C2%B2",
        "?done=approve&n=1&on=%D9%A1%D9%A1%D9%A1%D9%A1-01-01",
    ):
        shown = client.get(PAGE + query)
        assert shown.status_code == 200
        assert "%3Cscript" not in shown.text and "<script>" not in shown.text
    flash = _page(client, PAGE + "?done=approve&n=1&on=%3Cscript%3E").get_element_by_id("flash")
    assert _text(flash) == "Approved 1 transaction, posted on its transaction date."


def test_empty_lists_say_so(client: TestClient) -> None:
    page = _page(client)
    text = _text(page)
    assert "No transactions waiting for approval yet." in text
    assert "No posted transactions yet." in text and "No rejected transactions yet." in text
    assert not page.xpath('//*[@id="flash"]')
    assert page.xpath('//header[@class="topbar"]/p[@class="crumbs"]')[0].text_content() == (
        "ResMan sandbox · Accounting › Receivables › Partner Transactions"
    )
