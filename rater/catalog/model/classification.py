"""The classification entities: usage classes and how each finds its rate (§1.6; R3, R4), the GeoTree of
locations and location groups (§1.7), rounding rules (§1.17, R29) and time periods (§1.18).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from rater.catalog.model.fields import Amount, Entity, Id, Text
from rater.units import UnitType


class Rater(enum.StrEnum):
    """How a usage class finds its rate: by class only, or by class and GeoTree location (R3, R4)."""

    CLASS = "class"
    GEOTREE = "geotree"


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAY_INDEX: dict[Weekday, int] = {day: index for index, day in enumerate(Weekday)}


class UsageClass(Entity):
    """§1.6.  The class fixes the unit type and the rater of a record (R3)."""

    id: Id
    name: Text = ""
    rater: Rater
    unit_type: Literal[UnitType.TIME, UnitType.DATA, UnitType.COUNT]
    class_type: Text | None = None
    tax_category: Text | None = None


class GeoNode(Entity):
    """A GeoTree node (§1.7): a geography, zone or network, with the terminating-number patterns it owns."""

    id: Id
    name: Text = ""
    patterns: tuple[Annotated[str, StringConstraints(min_length=1, max_length=64)], ...] = ()
    children: tuple[GeoNode, ...] = ()

    @field_validator("patterns", mode="before")
    @classmethod
    def _patterns_as_text(cls, value: Any) -> Any:
        # Numeric-looking patterns (1519249) are read as text; a leading zero would otherwise be lost.
        if isinstance(value, (list, tuple)):
            return tuple(str(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in value)
        return value


class LocationGroup(Entity):
    """A named set of GeoTree locations (§1.7)."""

    id: Id
    name: Text = ""
    locations: tuple[Id, ...] = Field(min_length=1)


class GeoTree(Entity):
    nodes: tuple[GeoNode, ...] = ()
    location_groups: tuple[LocationGroup, ...] = ()


class RoundingRule(Entity):
    """§1.17 and R29: Minimum, then Increment, in ``unit`` (a unit of ``unit_type``)."""

    id: Id
    name: Text = ""
    active: bool = True
    unit_type: Literal[UnitType.TIME, UnitType.DATA, UnitType.COUNT]
    unit: Annotated[str, StringConstraints(max_length=40)]
    minimum: Amount
    increment: Amount

    @field_validator("minimum")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must be zero or more")
        return value

    @field_validator("increment")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be greater than zero")
        return value


def _clock(value: object) -> dt.time | str:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in ("24:00", "24:00:00"):
            return "24:00"
        try:
            return dt.time.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a clock time such as '17:00' (quote it in YAML)")


Clock = Annotated[dt.time | Literal["24:00"], BeforeValidator(_clock)]


class TimePeriodDetail(Entity):
    """One (days, from, to) window; ``from`` inclusive, ``to`` inclusive of its whole minute (``"23:59"`` or
    ``"24:00"`` for the end of the day, §1.18; rater.pricing.in_time_period)."""

    days: tuple[Weekday, ...] = Field(min_length=1)
    from_: Clock = Field(alias="from")
    to: Clock


class TimePeriod(Entity):
    id: Id
    name: Text = ""
    details: tuple[TimePeriodDetail, ...] = Field(min_length=1)
