"""ResMan's `<ResMan>` envelope in every shape seen, and hostile XML refused."""

from __future__ import annotations

import html

import pytest

from propbridge.connectors.resman.envelope import parse_envelope
from propbridge.connectors.resman.mits import read_resident_transactions
from propbridge.connectors.resman.xml_safety import UnsafeXmlError, parse_xml
from tests.support import SAMPLES

INNER = (
    "<ResidentTransactions><Property><RT_Customer><CustomerID>L1</CustomerID>"
    "<RTServiceTransactions><Transactions><Charge><Detail><ChargeCode>RENT</ChargeCode>"
    "<Amount>1,200.00</Amount></Detail></Charge></Transactions></RTServiceTransactions>"
    "</RT_Customer></Property></ResidentTransactions>"
)


def test_status_error_is_not_success() -> None:
    envelope = parse_envelope(
        "<ResMan><MethodName>PostResidentTransactions2_0</MethodName>"
        "<Status>Error</Status><ErrorDescription>Bad CustomerID"
        "</ErrorDescription></ResMan>"
    )
    assert not envelope.succeeded
    assert envelope.error_description == "Bad CustomerID"


def test_failed_status_of_json_style_replies_is_not_success() -> None:
    assert not parse_envelope("<ResMan><Status>Failed</Status></ResMan>").succeeded


def test_escaped_payload_is_parsed_twice() -> None:
    envelope = parse_envelope(
        f"<ResMan><Status>Success</Status><Response>{html.escape(INNER)}</Response></ResMan>"
    )
    [transaction] = read_resident_transactions(envelope.response)
    assert transaction.amount_in_cents == 120000 and transaction.customer_id == "L1"


def test_nested_payload_is_read_directly() -> None:
    envelope = parse_envelope(
        f"<ResMan><Status>Success</Status><Response>{INNER}</Response></ResMan>"
    )
    assert len(list(read_resident_transactions(envelope.response))) == 1


@pytest.mark.parametrize(
    "document",
    [
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<ResMan><Status>&lol2;</Status></ResMan>",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<ResMan><Status>&x;</Status></ResMan>",
        '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><ResMan/>',
        "<ResMan><Status>Success</Status>",
        "",
        "not xml at all",
    ],
)
def test_hostile_or_broken_xml_is_refused(document: str) -> None:
    with pytest.raises(UnsafeXmlError):
        parse_envelope(document)


def test_sample_matches_by_local_name_despite_odd_namespace() -> None:
    root = parse_xml((SAMPLES / "GetResidentTransactions2_0-reply.xml").read_bytes())
    assert root.tag == "ResMan"
