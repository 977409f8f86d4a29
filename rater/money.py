"""Exact money arithmetic.

Money is :class:`~decimal.Decimal`, never ``float`` (architecture property 4).  Intermediate products are
computed in a wide local context (50 significant digits) so that a per-minute rate applied to a
quantity in milliseconds loses nothing before the single rounding step of R30.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from rater.lru import LRU

#: Wide enough for any product of an 11-decimal rate and a 2^53 quantity.
WIDE = Context(prec=50, rounding=ROUND_HALF_UP)

#: Minor-unit digits used when formatting amounts (ISO 4217); other currencies default to 2.
MINOR_UNITS: dict[str, int] = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}

ZERO = Decimal(0)


def quantize(amount: Decimal, places: int) -> Decimal:
    """Round ``amount`` half up to ``places`` decimals (R30: plan precision, at most 11)."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=WIDE)


def format_amount(amount: Decimal, currency: str) -> str:
    """Render an amount as a plain decimal string: the digits it was computed to (the plan precision, R30),
    padded to at least the currency's minor-unit digits.

    ``0.060 -> "0.060"`` (precision 3), ``5 -> "5.00"``, ``Decimal("10.00") -> "10.00"``.
    """
    # Every output event formats a handful of amounts and few distinct values recur (0.00, the rates, the
    # flat charges).  ``str`` of a Decimal names its sign, digits and exponent exactly, so it is a sound key
    # where the Decimal itself is not (``Decimal("0.0") == Decimal("0.00")`` but they format differently).
    key = (str(amount), currency)
    text = _FORMATTED.get(key)
    if text is None:
        text = _FORMATTED.put(key, _format(amount, currency))
    return text


_FORMATTED: LRU[tuple[str, str], str] = LRU(100_000)


def _format(amount: Decimal, currency: str) -> str:
    minor = MINOR_UNITS.get(currency, 2)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    places = max(minor, -exponent)
    return f"{amount.quantize(Decimal(1).scaleb(-places), context=WIDE):f}"
