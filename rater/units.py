"""Units of usage and of calendar time.

Quantities are integers in the base unit of their unit type (architecture property 4):

* ``time``  -> milliseconds (so a 61.5 s call is exact; rounding rules are usually in seconds)
* ``data``  -> bytes
* ``count`` -> events
* ``money`` -> micro-units of the account currency (1 USD = 1,000,000), so money-bucket counters are exact
  integers like every other counter (R45); prices stay :class:`~decimal.Decimal` until they are drawn

Human-edited catalog files write quantities as ``"<number> <unit>"`` strings (``"10 GB"``, ``"0.1 MiB"``,
``"60 s"``) or bare numbers for counts.  Fractional values are turned into whole base units half up (R22):
0.1 MiB = 104,857.6 B -> 104,858 B (E26).

Data units (R23): ``KB``/``MB``/``GB``/``TB`` are decimal (10^3 multiples) unless the bucket has
"Convert Data to Binary" on, in which case they are binary (2^10 multiples).  The IEC spellings
``KiB``/``MiB``/``GiB``/``TiB`` are always binary.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


class UnitType(enum.StrEnum):
    """What a usage class, base bucket or rounding rule measures (domain-spec §1.6, §1.8)."""

    TIME = "time"
    DATA = "data"
    COUNT = "count"
    MONEY = "money"


BASE_UNIT: dict[UnitType, str] = {
    UnitType.TIME: "ms",
    UnitType.DATA: "B",
    UnitType.COUNT: "event",
    UnitType.MONEY: "micro",
}

#: Micro-units per currency unit: the base unit of money-bucket quantities.
MONEY_SCALE = 1_000_000

_TIME_UNITS: dict[str, int] = {
    "ms": 1,
    "s": 1000,
    "sec": 1000,
    "second": 1000,
    "seconds": 1000,
    "min": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "h": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
}
_COUNT_UNITS: dict[str, int] = {
    "event": 1,
    "events": 1,
    "message": 1,
    "messages": 1,
    "call": 1,
    "calls": 1,
    "request": 1,
    "requests": 1,
}
_DATA_SI = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5}
_DATA_IEC = {"KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4, "PiB": 5}


class UnitError(ValueError):
    """A quantity or unit string that cannot be read, or a unit of the wrong type."""


def unit_size(unit: str, unit_type: UnitType, *, binary: bool = False) -> int:
    """Base units in one ``unit`` of ``unit_type``.

    ``binary`` is the bucket's "Convert Data to Binary" flag (R23); it only changes the SI data units.
    Raises :class:`UnitError` when the unit does not belong to the unit type ("tier units fit the unit type").
    """
    if unit_type is UnitType.TIME:
        if unit in _TIME_UNITS:
            return _TIME_UNITS[unit]
    elif unit_type is UnitType.DATA:
        if unit in _DATA_SI:
            return int((1024 if binary else 1000) ** _DATA_SI[unit])
        if unit in _DATA_IEC:
            return int(1024 ** _DATA_IEC[unit])
    elif unit_type is UnitType.COUNT:
        if unit in _COUNT_UNITS:
            return 1
    elif unit_type is UnitType.MONEY:
        if unit in ("", "currency"):
            return MONEY_SCALE
        if unit == "micro":
            return 1
    raise UnitError(f"unit {unit!r} is not a {unit_type.value} unit (known: {', '.join(known_units(unit_type))})")


def known_units(unit_type: UnitType) -> list[str]:
    """The unit spellings accepted for ``unit_type``, for error messages and docs."""
    if unit_type is UnitType.TIME:
        return list(_TIME_UNITS)
    if unit_type is UnitType.DATA:
        return [*_DATA_SI, *_DATA_IEC]
    if unit_type is UnitType.COUNT:
        return list(_COUNT_UNITS)
    return ["currency", "micro"]


_QTY = re.compile(r"^\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[A-Za-z]*)\s*$")


def parse_decimal(value: object) -> Decimal:
    """Read an exact decimal from an int, a Decimal or a string; floats are refused (money is never a float)."""
    if isinstance(value, bool):
        raise UnitError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise UnitError(f"{value!r} is not a decimal number") from exc
    else:
        raise UnitError(f"expected a decimal number (int or string), got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise UnitError(f"{value!r} is not a finite number")
    return result


def split_quantity(text: object) -> tuple[Decimal, str]:
    """Split ``"10 GB"`` into ``(Decimal("10"), "GB")``; a bare number has unit ``""``."""
    if isinstance(text, (int, Decimal)) and not isinstance(text, bool):
        return parse_decimal(text), ""
    if not isinstance(text, str):
        raise UnitError(f"expected a quantity such as '10 GB', got {text!r}")
    match = _QTY.match(text)
    if match is None:
        raise UnitError(f"{text!r} is not a quantity such as '10 GB' or '60 s'")
    return Decimal(match["num"]), match["unit"]


def to_base_units(amount: Decimal, unit: str, unit_type: UnitType, *, binary: bool = False) -> int:
    """``amount`` of ``unit`` in whole base units, half up (R22)."""
    if unit == "" and unit_type is UnitType.COUNT:
        unit = "event"
    if unit_type is UnitType.MONEY:
        exact = amount * unit_size(unit, unit_type)
        if exact != exact.to_integral_value():
            raise UnitError(f"{amount} {unit or 'currency'} is finer than a micro-unit of currency")
        return int(exact)
    if unit == "" and unit_type in (UnitType.TIME, UnitType.DATA):
        raise UnitError(f"a {unit_type.value} quantity needs a unit (one of {', '.join(known_units(unit_type))})")
    exact = amount * unit_size(unit, unit_type, binary=binary)
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def parse_quantity(text: object, unit_type: UnitType, *, binary: bool = False) -> int:
    """Parse ``"0.1 MiB"`` into whole base units of ``unit_type`` (R22, R23).  Negative quantities are refused."""
    amount, unit = split_quantity(text)
    if amount < 0:
        raise UnitError(f"{text!r} is negative")
    return to_base_units(amount, unit, unit_type, binary=binary)


class CalendarUnit(enum.StrEnum):
    """Units of recurrence, expiry and billing frequencies."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


_CAL_ALIASES = {
    "day": CalendarUnit.DAY,
    "days": CalendarUnit.DAY,
    "week": CalendarUnit.WEEK,
    "weeks": CalendarUnit.WEEK,
    "month": CalendarUnit.MONTH,
    "months": CalendarUnit.MONTH,
    "year": CalendarUnit.YEAR,
    "years": CalendarUnit.YEAR,
}


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration such as ``1 month`` or ``7 days`` (recur frequency, expire after, time expiry)."""

    count: int
    unit: CalendarUnit

    def __str__(self) -> str:
        return f"{self.count} {self.unit.value}{'' if self.count == 1 else 's'}"


_DUR = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[A-Za-z]+)\s*$")


def parse_duration(text: object) -> Duration:
    """Parse ``"3 months"``; the count must be a positive whole number."""
    if not isinstance(text, str):
        raise UnitError(f"expected a duration such as '1 month', got {text!r}")
    match = _DUR.match(text)
    if match is None or match["unit"].lower() not in _CAL_ALIASES:
        raise UnitError(f"{text!r} is not a duration such as '1 month', '7 days', '1 year'")
    count = int(match["n"])
    if count <= 0:
        raise UnitError(f"{text!r}: a duration must be at least 1")
    return Duration(count, _CAL_ALIASES[match["unit"].lower()])
