"""Quantities, units and durations (rater.units): R22, R23 and the base units of architecture property 4
(time in ms, data in bytes, counts in events)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rater.units import (
    CalendarUnit,
    Duration,
    UnitError,
    UnitType,
    parse_decimal,
    parse_duration,
    parse_quantity,
    to_base_units,
)


def test_fractional_mib_rounds_half_up_to_whole_bytes() -> None:
    """R22, R23, E26: 0.1 MiB = 0.1 x 1,048,576 B = 104,857.6 B -> half up -> 104,858 B.

    MiB is an IEC unit, so it is binary whatever the bucket's "Convert Data to Binary" flag says.
    """
    assert parse_quantity("0.1 MiB", UnitType.DATA) == 104_858
    assert parse_quantity("0.1 MiB", UnitType.DATA, binary=True) == 104_858


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("0.5"), 1),  # 0.5 B -> 1 B (half up, not half even)
        (Decimal("2.5"), 3),  # 2.5 B -> 3 B (half even would give 2)
        (Decimal("1.4"), 1),  # 1.4 B -> 1 B
        (Decimal("1.6"), 2),  # 1.6 B -> 2 B
    ],
)
def test_to_base_units_rounds_half_up(amount: Decimal, expected: int) -> None:
    """R22 [INT]: fractional base units are rounded half up: 0.5 -> 1, 2.5 -> 3, 1.4 -> 1, 1.6 -> 2."""
    assert to_base_units(amount, "B", UnitType.DATA) == expected


def test_si_data_units_follow_the_binary_flag() -> None:
    """R23: "1 MB" is 10^6 B with Convert Data to Binary off, 2^20 = 1,048,576 B with it on;
    "1 GB" is 10^9 B off, 2^30 = 1,073,741,824 B on; "1 KB" is 1,000 B off, 1,024 B on."""
    assert parse_quantity("1 MB", UnitType.DATA, binary=False) == 1_000_000
    assert parse_quantity("1 MB", UnitType.DATA, binary=True) == 1_048_576
    assert parse_quantity("1 GB", UnitType.DATA) == 1_000_000_000
    assert parse_quantity("1 GB", UnitType.DATA, binary=True) == 1_073_741_824
    assert parse_quantity("1 KB", UnitType.DATA) == 1_000
    assert parse_quantity("1 KB", UnitType.DATA, binary=True) == 1_024


@pytest.mark.parametrize("binary", [False, True])
def test_iec_units_are_always_binary(binary: bool) -> None:
    """R23: "1 KiB" = 2^10 = 1,024 B and "1 GiB" = 2^30 = 1,073,741,824 B with the flag on or off."""
    assert parse_quantity("1 KiB", UnitType.DATA, binary=binary) == 1_024
    assert parse_quantity("1 GiB", UnitType.DATA, binary=binary) == 1_073_741_824


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60 s", 60_000),  # 60 x 1,000 ms
        ("2 min", 120_000),  # 2 x 60,000 ms
        ("1 h", 3_600_000),  # 1 x 3,600,000 ms
        ("250 ms", 250),  # already the base unit
        ("61.5 s", 61_500),  # 61.5 x 1,000 ms: exact in ms
        ("0.0005 s", 1),  # 0.5 ms -> half up -> 1 ms (R22)
    ],
)
def test_time_base_unit_is_the_millisecond(text: str, expected: int) -> None:
    """Architecture property 4: time quantities are whole milliseconds; "60 s" = 60 x 1,000 = 60,000 ms."""
    assert parse_quantity(text, UnitType.TIME) == expected


@pytest.mark.parametrize(("text", "expected"), [("100", 100), (100, 100), (Decimal(7), 7), ("3 messages", 3)])
def test_bare_number_is_a_count(text: object, expected: int) -> None:
    """Count quantities may be bare numbers: "100" on a count = 100 events (1 event = 1 base unit)."""
    assert parse_quantity(text, UnitType.COUNT) == expected


@pytest.mark.parametrize(("text", "unit_type"), [("100", UnitType.TIME), (60, UnitType.TIME), ("10", UnitType.DATA)])
def test_bare_number_on_time_or_data_is_refused(text: object, unit_type: UnitType) -> None:
    """A time or data quantity without a unit is ambiguous (seconds? minutes? KB?): UnitError."""
    with pytest.raises(UnitError, match="needs a unit"):
        parse_quantity(text, unit_type)


@pytest.mark.parametrize(
    ("text", "unit_type"),
    [("10 GB", UnitType.TIME), ("60 s", UnitType.DATA), ("5 min", UnitType.COUNT), ("3 messages", UnitType.DATA)],
)
def test_unit_of_another_unit_type_is_refused(text: str, unit_type: UnitType) -> None:
    """§1.6/§1.8: a quantity's unit must belong to its unit type; "10 GB" on a time quantity is UnitError."""
    with pytest.raises(UnitError, match=f"is not a {unit_type.value} unit"):
        parse_quantity(text, unit_type)


@pytest.mark.parametrize(
    ("text", "unit_type"), [("-1 s", UnitType.TIME), ("-0.5 MB", UnitType.DATA), (-3, UnitType.COUNT)]
)
def test_negative_quantity_is_refused(text: object, unit_type: UnitType) -> None:
    """Quantities (tier sizes, thresholds, contributions) are zero or more: "-1 s" is UnitError."""
    with pytest.raises(UnitError, match="negative"):
        parse_quantity(text, unit_type)


@pytest.mark.parametrize("text", ["ten GB", "GB", "1 2 GB", "", True, None, 1.5])
def test_unreadable_quantity_is_refused(text: object) -> None:
    """Only "<number> <unit>" strings, ints and Decimals are quantities; words, bools, None and floats are not."""
    with pytest.raises(UnitError):
        parse_quantity(text, UnitType.DATA)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 month", Duration(1, CalendarUnit.MONTH)),
        ("3 months", Duration(3, CalendarUnit.MONTH)),
        ("7 days", Duration(7, CalendarUnit.DAY)),
        (" 2 Weeks ", Duration(2, CalendarUnit.WEEK)),
        ("1 year", Duration(1, CalendarUnit.YEAR)),
    ],
)
def test_parse_duration_reads_calendar_durations(text: str, expected: Duration) -> None:
    """§1.9 Recur Frequency / Expire After: "<whole number> <day|week|month|year>[s]", case-insensitive."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0 months", "1.5 months", "month", "3 fortnights", "-1 day", "", 3, None])
def test_parse_duration_refuses_bad_durations(text: object) -> None:
    """A duration needs a positive whole count and a calendar unit; "0 months" or "1.5 months" are UnitError."""
    with pytest.raises(UnitError):
        parse_duration(text)


def test_duration_renders_singular_and_plural() -> None:
    """Durations print as written in the catalog: 1 -> "1 month", 3 -> "3 months"."""
    assert str(Duration(1, CalendarUnit.MONTH)) == "1 month"
    assert str(Duration(3, CalendarUnit.DAY)) == "3 days"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.10", Decimal("0.10")), (" 2.52 ", Decimal("2.52")), (5, Decimal(5)), (Decimal("0.060"), Decimal("0.060"))],
)
def test_parse_decimal_is_exact(value: object, expected: Decimal) -> None:
    """Money is exact: "0.10" stays Decimal("0.10") with its digits (0.10 has exponent -2)."""
    result = parse_decimal(value)
    assert result == expected
    assert result.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize("value", [0.1, 1.0, True, False, "abc", "", "NaN", "Infinity", None, [1]])
def test_parse_decimal_refuses_floats_bools_and_non_numbers(value: object) -> None:
    """Architecture property 4: money is never a float (0.1 as a float is 0.1000000000000000055...);
    bools are not numbers even though bool is an int subclass; NaN and Infinity are not finite."""
    with pytest.raises(UnitError):
        parse_decimal(value)


def test_money_quantities_are_exact_micro_units() -> None:
    """R45: money-bucket quantities are integers in micro-units of the currency: 25.50 -> 25,500,000;
    50 -> 50,000,000.  A fraction finer than a micro-unit is refused rather than rounded away."""
    assert parse_quantity("25.50", UnitType.MONEY) == 25_500_000
    assert parse_quantity(50, UnitType.MONEY) == 50_000_000
    assert parse_quantity("0.000001", UnitType.MONEY) == 1
    with pytest.raises(UnitError):
        parse_quantity("0.0000001", UnitType.MONEY)
