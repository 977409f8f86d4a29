"""The field types every catalog entity uses: ids, free text, time zone names, exact amounts, durations and
quantities as written, currencies; and :class:`Entity`, the base of every entity, which refuses unknown
fields.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from rater.units import Duration, parse_decimal, parse_duration, split_quantity

#: Entity ids: letters, digits and ``_ . -``; ``/`` and ``{}`` are reserved for instance ids and Redis keys.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=120)]
#: Names and other free text shown to people (``name``, ``display_name``, ``class_type``, ...): at most 200
#: characters, so a stored configuration stays small and every message that quotes one stays readable.
Text = Annotated[str, StringConstraints(max_length=200)]
#: Longer free text (a share plan's ``description``, which may appear on invoices): at most 2000 characters.
LongText = Annotated[str, StringConstraints(max_length=2000)]
#: IANA time zone names (``America/Toronto``, ``Etc/GMT+5``, ``UTC``): parts of letters, digits and ``_ + -``
#: joined by ``/``, at most 64 characters (the longest IANA name has 32).  The name is looked up with
#: :func:`find_zone`; only a name of this shape ever reaches the zone database.
ZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
]


def find_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone named ``name``, or ``None`` when there is none.  Every failure of the lookup means "unknown
    zone": a missing key, a folder of the zone database (``America``), a file that is not a zone, a name the
    file system refuses (too long, a NUL byte).  A zone is never an unexpected error."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError; IsADirectoryError an OSError
        return None


def _decimal(value: object) -> Decimal:
    return parse_decimal(value)


def _duration(value: object) -> Duration:
    if isinstance(value, Duration):
        return value
    return parse_duration(value)


def _quantity_text(value: object) -> str | int | Decimal:
    """Keep a quantity as written (its unit type is known only with its base bucket) but check its syntax."""
    split_quantity(value)
    assert isinstance(value, (str, int, Decimal))
    return value


Amount = Annotated[Decimal, BeforeValidator(_decimal)]
DurationField = Annotated[Duration, BeforeValidator(_duration)]
Quantity = Annotated[str | int | Decimal, BeforeValidator(_quantity_text)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Entity(BaseModel):
    """Every catalog entity: unknown fields are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
