"""MITS ResidentTransactions 2.0 documents: building posts and reading ResMan's replies.

Pure mapping, no I/O. The post shape is an assumption (reference/resman-api.md §3.3): charges
as `Charge` with the partner reference in `TransactionID`, payments as `Payment Type="…"` with
it in `DocumentNumber`, both with `BatchID`, `Comment` = notes, no namespace, no declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from propbridge.connectors.base import TransactionToPost
from propbridge.connectors.resman.amounts import cents_to_dollars, dollars_to_cents
from propbridge.connectors.resman.xml_safety import child_text, find_child, local_name


def _add(parent: Any, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, name).text = text


def document_order(transactions: list[TransactionToPost]) -> list[int]:
    """The index of each transaction in the order `build_resident_transactions` writes them
    (grouped by lease, leases in first-seen order)."""
    by_customer: dict[str, list[int]] = {}
    for index, t in enumerate(transactions):
        by_customer.setdefault(t.upstream["customer_id"], []).append(index)
    return [index for indexes in by_customer.values() for index in indexes]


def build_resident_transactions(
    x_property_id: str, transactions: list[TransactionToPost], indent: bool = False
) -> str:
    """One document for every transaction, one `RT_Customer` per lease in first-seen order
    (`indent`: laid out for a person to read; the same elements and text)."""
    root = etree.Element("ResidentTransactions")
    prop = etree.SubElement(root, "Property")
    by_customer: dict[str, Any] = {}
    for t in transactions:
        customer_id = t.upstream["customer_id"]
        if customer_id not in by_customer:
            customer = etree.SubElement(prop, "RT_Customer")
            _add(customer, "CustomerID", customer_id)
            by_customer[customer_id] = etree.SubElement(customer, "RTServiceTransactions")
        wrapper = etree.SubElement(by_customer[customer_id], "Transactions")
        if t.kind == "payment":
            element = etree.SubElement(wrapper, "Payment", Type=t.upstream["payment_type"])
        else:
            element = etree.SubElement(wrapper, "Charge")
        detail = etree.SubElement(element, "Detail")
        if t.kind == "payment":
            _add(detail, "DocumentNumber", t.reference_number)
        else:
            _add(detail, "TransactionID", t.reference_number)
        _add(detail, "BatchID", t.batch_id)
        _add(detail, "TransactionDate", t.transaction_date)
        if t.kind == "charge":
            _add(detail, "ChargeCode", t.upstream["charge_code"])
        _add(detail, "Description", t.description)
        _add(detail, "Comment", t.notes)
        _add(detail, "CustomerID", customer_id)
        _add(detail, "UnitID", t.upstream.get("unit_id"))
        if t.kind == "payment":
            _add(detail, "PaidBy", t.upstream.get("paid_by"))
        _add(detail, "Amount", cents_to_dollars(t.amount_in_cents))
        _add(detail, "PropertyPrimaryID", x_property_id)
    return str(etree.tostring(root, encoding="unicode", pretty_print=indent))


@dataclass
class MitsTransaction:
    """A transaction as `GetResidentTransactions2_0` shows it (no id; signed by element)."""

    customer_id: str
    kind: str  # Charge | Payment | Concession
    transaction_date: str | None
    description: str | None
    charge_code: str | None
    document_number: str | None
    unit_id: str | None
    amount_in_cents: int


def read_resident_transactions(document: Any) -> Iterator[MitsTransaction]:
    """Every transaction of a ResidentTransactions document, matched by local names."""
    for customer in document.iter():
        if not isinstance(customer.tag, str) or local_name(customer) != "RT_Customer":
            continue
        customer_id = (child_text(customer, "CustomerID") or "").strip()
        service = find_child(customer, "RTServiceTransactions")
        if service is None:
            continue
        for wrapper in service:
            if not isinstance(wrapper.tag, str) or local_name(wrapper) != "Transactions":
                continue
            for element in wrapper:
                if not isinstance(element.tag, str):
                    continue
                detail = find_child(element, "Detail")
                if detail is None:
                    continue
                yield MitsTransaction(
                    customer_id=(child_text(detail, "CustomerID") or customer_id).strip(),
                    kind=local_name(element),
                    transaction_date=child_text(detail, "TransactionDate"),
                    description=child_text(detail, "Description"),
                    charge_code=child_text(detail, "ChargeCode"),
                    document_number=child_text(detail, "DocumentNumber"),
                    unit_id=child_text(detail, "UnitID"),
                    amount_in_cents=dollars_to_cents(child_text(detail, "Amount") or "0"),
                )
