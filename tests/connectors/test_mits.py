"""The MITS post document (built) and ResMan's ResidentTransactions replies (read)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from propbridge.connectors.base import TransactionToPost
from propbridge.connectors.resman.envelope import parse_envelope
from propbridge.connectors.resman.mits import (
    build_resident_transactions,
    read_resident_transactions,
)
from propbridge.connectors.resman.xml_safety import child_text, local_name, parse_xml
from tests.support import SAMPLES

XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80)


def _charge(
    description: str = "Pet fee", notes: str = "n", cents: int = 7500, customer: str = "lease-1"
) -> TransactionToPost:
    return TransactionToPost(
        "charge",
        "REF-1",
        "B-1",
        "2026-11-02",
        description,
        notes,
        cents,
        {"customer_id": customer, "unit_id": "101", "charge_code": "PETF"},
    )


def _details(document: str) -> list[object]:
    return [e for e in parse_xml(document).iter() if local_name(e) == "Detail"]


@given(description=XML_TEXT, notes=XML_TEXT, cents=st.integers(1, 10**10))
def test_text_and_amounts_survive_the_document(description: str, notes: str, cents: int) -> None:
    document = build_resident_transactions("prop-1", [_charge(description, notes, cents)])
    [detail] = _details(document)
    assert child_text(detail, "Description") == description.replace("\r", "\n")
    assert child_text(detail, "Comment") == notes.replace("\r", "\n")
    assert child_text(detail, "Amount") == f"{cents // 100}.{cents % 100:02d}"


def test_charge_document_has_resman_elements() -> None:
    document = build_resident_transactions("prop-1", [_charge()])
    assert not document.startswith("<?xml")
    [detail] = _details(document)
    assert {local_name(c): c.text for c in detail} == {
        "TransactionID": "REF-1",
        "BatchID": "B-1",
        "TransactionDate": "2026-11-02",
        "ChargeCode": "PETF",
        "Description": "Pet fee",
        "Comment": "n",
        "CustomerID": "lease-1",
        "UnitID": "101",
        "Amount": "75.00",
        "PropertyPrimaryID": "prop-1",
    }


def test_payment_document_uses_type_and_document_number() -> None:
    payment = TransactionToPost(
        "payment",
        "PAY-9",
        "B-1",
        "2026-11-02",
        "Payment",
        "n",
        2500,
        {
            "customer_id": "lease-1",
            "unit_id": "101",
            "payment_type": "Credit Card",
            "paid_by": "Jane Roe",
        },
    )
    root = parse_xml(build_resident_transactions("prop-1", [payment]))
    [element] = [e for e in root.iter() if local_name(e) == "Payment"]
    assert element.get("Type") == "Credit Card"
    [detail] = _details(build_resident_transactions("prop-1", [payment]))
    assert child_text(detail, "DocumentNumber") == "PAY-9"
    assert child_text(detail, "PaidBy") == "Jane Roe"
    assert child_text(detail, "ChargeCode") is None


def test_transactions_group_by_lease_in_first_seen_order() -> None:
    charges = [_charge(customer=c) for c in ("a", "b", "a")]
    root = parse_xml(build_resident_transactions("p", charges))
    customers = [child_text(c, "CustomerID") for c in root.iter() if local_name(c) == "RT_Customer"]
    assert customers == ["a", "b"]
    assert len(_details(build_resident_transactions("p", charges))) == 3


def test_real_resman_reply_is_read() -> None:
    envelope = parse_envelope((SAMPLES / "GetResidentTransactions2_0-reply.xml").read_bytes())
    assert envelope.succeeded and envelope.method == "GetResidentTransactions2_0"
    transactions = list(read_resident_transactions(envelope.response))
    assert [(t.charge_code, t.amount_in_cents, t.kind) for t in transactions] == [
        ("APPF", 4900, "Charge"),
        ("ADMN", 10000, "Charge"),
    ]
    assert {t.customer_id for t in transactions} == {"140709f8-f98c-43d2-9964-d3a9f50528a1"}


def test_real_payment_post_sample_is_read() -> None:
    root = parse_xml((SAMPLES / "AddPaymentToBatch-request.xml").read_bytes())
    [payment] = [e for e in root.iter() if local_name(e) == "Payment"]
    assert payment.get("Type") == "Credit Card"
    [detail] = [e for e in root.iter() if local_name(e) == "Detail"]
    assert child_text(detail, "Amount") == "1500.00"
