"""Cents inside, two-place dollars at ResMan's door, with Decimal only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from propbridge.connectors.resman.amounts import cents_to_dollars, dollars_to_cents


@given(st.integers(min_value=0, max_value=10**12))
def test_cents_round_trip_through_dollars(cents: int) -> None:
    text = cents_to_dollars(cents)
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2
    assert dollars_to_cents(text) == cents


@pytest.mark.parametrize(
    "text,cents",
    [
        ("1,200.00", 120000),
        ("0.10", 10),
        ("75", 7500),
        (Decimal("0.1"), 10),
        ("19.99", 1999),
        (" 5.05 ", 505),
    ],
)
def test_resman_amount_forms_parse_exactly(text: str | Decimal, cents: int) -> None:
    assert dollars_to_cents(text) == cents


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        cents_to_dollars(-1)


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        dollars_to_cents("12,3a")
