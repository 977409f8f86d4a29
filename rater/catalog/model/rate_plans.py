"""The pricing entities: rate plans (§1.14), their rate groups (§1.15) and rates (§1.16)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from rater.catalog.model.fields import Amount, Currency, Entity, Id, Text


class Rate(Entity):
    """§1.16.  ``amount`` is the price of one ``per`` unit (Q7: every rate names its unit explicitly)."""

    id: Id | None = None
    class_: Id = Field(alias="class")
    location: Id | None = None
    location_group: Id | None = None
    amount: Amount
    per: Annotated[str, StringConstraints(max_length=40)]
    rounding_rule: Id | None = None
    display_name: Text | None = None

    @field_validator("amount")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must be zero or more")
        return value


def _date_or_time(value: object) -> object:
    """ISO text keeps its own form: ``2026-01-01`` stays a day, ``2026-01-01T08:00:00`` a moment (a stored
    catalog document carries dates as text; YAML gives date or datetime objects, passed through)."""
    if isinstance(value, str):
        text = value.strip()
        return dt.datetime.fromisoformat(text) if ("T" in text or " " in text) else dt.date.fromisoformat(text)
    return value


DateOrTime = Annotated[dt.datetime | dt.date, BeforeValidator(_date_or_time)]


class RateGroup(Entity):
    """§1.15.  Searched in plan order (R27); ``retired`` is the end (exclusive) of the group's use."""

    id: Id
    name: Text = ""
    start: DateOrTime | None = None
    retired: DateOrTime | None = None
    currency: Currency
    time_period: Id | None = None
    rates: tuple[Rate, ...] = ()


class RatePlan(Entity):
    """§1.14.  ``precision``: decimal places of each charge line, at most 11 (R30)."""

    id: Id
    name: Text = ""
    precision: int = Field(ge=0, le=11)
    rate_groups: tuple[RateGroup, ...] = Field(min_length=1)
