"""Exact money (rater.money): one half-up rounding to the plan precision (R30, Q18) and amount rendering."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rater.money import format_amount, quantize


@pytest.mark.parametrize(
    ("amount", "places", "expected"),
    [
        ("0.005", 2, "0.01"),  # exactly half a cent -> up
        ("0.0149", 2, "0.01"),  # below half: 0.0149 -> 0.01 (no double rounding via 0.015)
        ("0.025", 2, "0.03"),  # half up, where half even would give 0.02
        ("0.0116666", 4, "0.0117"),  # 7 s at $0.10/min = 0.011666... -> 0.0117
        ("1", 3, "1.000"),  # padded to the precision
        ("0.000000000005", 11, "0.00000000001"),  # the 11-decimal maximum of R30
        ("0.0000000000049", 11, "0.00000000000"),
    ],
)
def test_quantize_rounds_half_up_to_places(amount: str, places: int, expected: str) -> None:
    """R30: the charge is rounded half up once to the plan precision: 0.005 -> 0.01, 0.0149 -> 0.01 at 2 places."""
    result = quantize(Decimal(amount), places)
    assert result == Decimal(expected)
    assert f"{result:f}" == expected
    assert result.as_tuple().exponent == -places


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("0.060"), "USD", "0.060"),  # computed at precision 3: all three digits kept (E7)
        (Decimal(5), "USD", "5.00"),  # padded to USD's 2 minor-unit digits
        (Decimal("10.00"), "USD", "10.00"),
        (Decimal("0.5"), "USD", "0.50"),
        (Decimal(5), "JPY", "5"),  # JPY has no minor unit
        (Decimal("5.0"), "JPY", "5.0"),  # computed digits are kept, never cut
        (Decimal("1.5"), "BHD", "1.500"),  # BHD has 3 minor-unit digits
        (Decimal(7), "XYZ", "7.00"),  # unknown currencies default to 2
        (Decimal("2.00E-9"), "USD", "0.00000000200"),  # 11-decimal charge, never scientific notation
        (Decimal("1E+1"), "USD", "10.00"),  # a positive exponent is written out in full
    ],
)
def test_format_amount_keeps_computed_digits_and_pads_to_minor_units(
    amount: Decimal, currency: str, expected: str
) -> None:
    """R30 / docs/events.md: an amount is written with max(its computed digits, the currency's minor units):
    0.060 (3 digits, USD 2) -> "0.060"; 5 (0 digits, USD 2) -> "5.00"; 5 (0 digits, JPY 0) -> "5"."""
    assert format_amount(amount, currency) == expected
