"""The rules every write route applies: whether a write may go to an integration (400, 403,
405, in that order), which body a vendor's write takes, and when two writes are one (dedupe).

Pure functions: no database.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from propbridge.api.errors import ApiError
from propbridge.writes import rules
from propbridge.writes.schemas import (
    ResidentChargeBatchCreate,
    ResidentChargeCreate,
    ResidentPaymentCreate,
)
from tests import factories

INTEGRATION = "int-1"


def _status(error: pytest.ExceptionInfo[ApiError]) -> int:
    return error.value.status


def test_require_known_returns_the_vendor_and_refuses_an_absent_one() -> None:
    assert rules.require_known(INTEGRATION, "RESMAN") == "RESMAN"
    with pytest.raises(ApiError) as unknown:
        rules.require_known(INTEGRATION, None)
    assert _status(unknown) == 400
    [problem] = unknown.value.details["issues"]  # type: ignore[index]
    assert problem["path"] == ["integration_id"] and INTEGRATION in problem["message"]


def test_require_in_scope_follows_the_allow_list() -> None:
    rules.require_in_scope(factories.principal("write"), INTEGRATION)
    rules.require_in_scope(factories.principal("write", integrations={INTEGRATION}), INTEGRATION)
    with pytest.raises(ApiError) as outside:
        rules.require_in_scope(factories.principal("write", integrations={"other"}), INTEGRATION)
    assert _status(outside) == 403 and outside.value.code == "forbidden"


def test_write_body_is_the_vendors_schema_of_each_operation() -> None:
    assert rules.write_body("RESMAN", "resident_charge") is ResidentChargeCreate
    assert rules.write_body("RESMAN", "resident_payment") is ResidentPaymentCreate
    assert rules.write_body("RESMAN", "resident_charge_batch") is ResidentChargeBatchCreate


@pytest.mark.parametrize(
    ("vendor", "operation"),
    [("RESMAN", "resident_refund"), ("YARDI", "resident_charge"), ("YARDI", "resident_refund")],
)
def test_write_body_refuses_what_the_vendor_cannot_do(vendor: str, operation: str) -> None:
    with pytest.raises(ApiError) as unsupported:
        rules.write_body(vendor, operation)
    assert _status(unsupported) == 405 and unsupported.value.code == "operation_not_supported"
    assert vendor in unsupported.value.message


def test_check_target_answers_400_then_403_then_405() -> None:
    outsider = factories.principal("write", integrations={"other"})
    insider = factories.principal("write", integrations={INTEGRATION})
    # Everything wrong at once: unknown comes first.
    with pytest.raises(ApiError) as first:
        rules.check_target(outsider, INTEGRATION, None, "resident_refund")
    assert _status(first) == 400
    # Known, but out of scope and unsupported: scope comes next.
    with pytest.raises(ApiError) as second:
        rules.check_target(outsider, INTEGRATION, "RESMAN", "resident_refund")
    assert _status(second) == 403
    # Known and in scope, but unsupported.
    with pytest.raises(ApiError) as third:
        rules.check_target(insider, INTEGRATION, "RESMAN", "resident_refund")
    assert _status(third) == 405
    assert rules.check_target(insider, INTEGRATION, "RESMAN", "resident_payment") == "RESMAN"


def test_dedupe_key_joins_integration_operation_batch_and_reference() -> None:
    key = rules.dedupe_key(INTEGRATION, "resident_charge", "b-1", "r-1")
    assert key == "int-1\x1fresident_charge\x1fb-1\x1fr-1"
    others = {
        rules.dedupe_key("int-2", "resident_charge", "b-1", "r-1"),
        rules.dedupe_key(INTEGRATION, "resident_payment", "b-1", "r-1"),
        rules.dedupe_key(INTEGRATION, "resident_charge", "b-2", "r-1"),
        rules.dedupe_key(INTEGRATION, "resident_charge", "b-1", "r-2"),
    }
    assert key not in others and len(others) == 4


def test_batch_dedupe_key_ignores_the_order_of_its_charges() -> None:
    pairs = [("b-1", "r-1"), ("b-1", "r-2"), ("b-2", "r-1")]
    key = rules.batch_dedupe_key(INTEGRATION, "resident_charge_batch", pairs)
    shuffled = rules.batch_dedupe_key(INTEGRATION, "resident_charge_batch", reversed(pairs))
    assert key == shuffled
    prefix, _, digest = key.rpartition("\x1f")
    assert prefix == "int-1\x1fresident_charge_batch" and len(digest) == 64
    fewer = rules.batch_dedupe_key(INTEGRATION, "resident_charge_batch", pairs[:2])
    elsewhere = rules.batch_dedupe_key("int-2", "resident_charge_batch", pairs)
    assert key not in {fewer, elsewhere}


def test_batch_dedupe_key_keeps_batch_and_reference_apart() -> None:
    joined = rules.batch_dedupe_key(INTEGRATION, "op", [("ab", "c")])
    split_elsewhere = rules.batch_dedupe_key(INTEGRATION, "op", [("a", "bc")])
    assert joined != split_elsewhere


def test_retry_dedupe_key_numbers_the_retries_of_a_chain() -> None:
    assert rules.retry_dedupe_key("root-1", 1) == "retry:root-1:1"
    assert rules.retry_dedupe_key("root-1", 2) != rules.retry_dedupe_key("root-1", 1)
    assert rules.retry_dedupe_key("root-2", 1) != rules.retry_dedupe_key("root-1", 1)


def test_replay_or_conflict_replays_the_same_body_and_refuses_another() -> None:
    body = {"amount_in_cents": 100, "reference_number": "r-1"}
    digest = rules.body_digest(body)
    replay = rules.replay_or_conflict(digest, "job-1", digest, body, [(0, "r-1")], None)
    assert replay == rules.AcceptedWrite("job-1", body)
    other = rules.body_digest({**body, "amount_in_cents": 101})
    conflict = rules.replay_or_conflict(other, "job-1", digest, body, [(0, "r-1")], None)
    assert isinstance(conflict, ApiError)
    assert conflict.status == 409 and conflict.code == "duplicate_reference"
    assert conflict.details is not None and conflict.details["job_id"] == "job-1"
    [clash] = conflict.details["issues"]
    assert (clash["path"], clash["job_id"]) == (["reference_number"], "job-1")


def test_a_batch_conflict_names_each_clashing_charge() -> None:
    clashes = [rules.Clash(2, "r-2", "job-a"), rules.Clash(5, "r-5", "job-b")]
    conflict = rules.reference_taken(clashes, "charges")
    assert conflict.details is not None and conflict.details["job_id"] == "job-a"
    named = [(i["path"], i["job_id"]) for i in conflict.details["issues"]]
    assert named == [
        (["charges", 2, "reference_number"], "job-a"),
        (["charges", 5, "reference_number"], "job-b"),
    ]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ABC-1", "abc-1"),
        ("caf\u00e9", "cafe\u0301"),  # composed and decomposed é
        ("STRASSE", "straße"),  # full case folding
        (" r-1 ", "r-1"),  # an older write's or a ledger's outer spaces
        ("\u212b", "\u00e5"),  # the Ångström sign is å after NFC
    ],
)
def test_normalized_references_are_one_reference(one: str, other: str) -> None:
    assert rules.normalized_reference(one) == rules.normalized_reference(other)
    assert rules.claim_of("acct", one) == rules.claim_of("acct", other)
    assert rules.claim_of("acct", one) != rules.claim_of("other", other)


@given(st.text(min_size=1, max_size=40))
def test_normalizing_a_reference_twice_changes_nothing(reference: str) -> None:
    once = rules.normalized_reference(reference)
    assert rules.normalized_reference(once) == once


def test_references_that_differ_otherwise_stay_apart() -> None:
    assert rules.normalized_reference("r-1") != rules.normalized_reference("r-1.")
    assert rules.normalized_reference("r 1") != rules.normalized_reference("r1")


def test_body_digest_ignores_key_order_at_every_depth() -> None:
    one = {"a": 1, "b": {"x": [1, 2], "y": None}}
    same = {"b": {"y": None, "x": [1, 2]}, "a": 1}
    assert rules.body_digest(one) == rules.body_digest(same)
    assert len(rules.body_digest(one)) == 64
    assert rules.body_digest(one) != rules.body_digest({"a": 1, "b": {"x": [2, 1], "y": None}})
    assert rules.body_digest(one) != rules.body_digest({"a": "1", "b": {"x": [1, 2], "y": None}})


CHARGE = {
    "integration_id": "i",
    "resident_id": "r",
    "charge_code_id": "c",
    "batch_id": "b",
    "transaction_date": "2026-11-02T10:00:00Z",
    "description": "d",
    "notes": "n",
    "amount_in_cents": 100,
}


@pytest.mark.parametrize(
    "hidden",
    [
        "\u00ad",  # soft hyphen
        "\u034f",  # combining grapheme joiner
        "\ufe0f",  # variation selector 16
        "\u3164",  # Hangul filler
        "\uffa0",  # halfwidth Hangul filler
        "\u115f",  # Hangul choseong filler
        "\u17b4",  # Khmer inherent vowel
        "\u2800",  # braille blank
        "\u00a0",  # no-break space
        "\u3000",  # ideographic space
        "\u2028",  # line separator
        "\ue000",  # private use
        "\u200b",  # zero-width space
        "\u202e",  # right-to-left override
        "\U000e0041",  # tag latin capital A
        "\u0007",  # bell
    ],
)
def test_a_reference_with_a_character_nobody_sees_is_refused(hidden: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ResidentChargeCreate.model_validate({**CHARGE, "reference_number": f"REF{hidden}1"})
    [problem] = refused.value.errors()
    assert problem["loc"] == ("reference_number",)
    assert f"U+{ord(hidden):04X}" in problem["msg"]


@pytest.mark.parametrize("reference", ["REF 1", "Réf-1", "ＲＥＦ-1", "日本-１", "r/1.5#x"])
def test_visible_references_are_taken_as_written(reference: str) -> None:
    body = ResidentChargeCreate.model_validate({**CHARGE, "reference_number": reference})
    assert body.reference_number == reference
