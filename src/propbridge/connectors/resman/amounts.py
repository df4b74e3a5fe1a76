"""Cents inside propbridge, two-place decimal dollars at ResMan's door. Decimal only, never float.

Pure functions.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")


def cents_to_dollars(cents: int) -> str:
    """7500 → "75.00"; ResMan's amounts are positive, the element name carries the sign."""
    if cents < 0:
        raise ValueError("ResMan amounts are positive; the sign is in the element name")
    return str((Decimal(cents) / 100).quantize(CENT))


def dollars_to_cents(value: str | int | Decimal) -> int:
    """ResMan's dollars (text with optional thousands commas, or a JSON number) → cents."""
    text = value.replace(",", "").strip() if isinstance(value, str) else value
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise ValueError(f"not an amount: {value!r}") from error
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
