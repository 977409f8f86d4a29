"""The bucket entities: base buckets (§1.8); the fields usage buckets share with share plan buckets
(:class:`BucketDefinition`, §1.9) with their tiers (§1.10); usage buckets (§1.9) and billing activation
(R49-R50).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator

from rater.catalog.model.fields import Amount, DurationField, Entity, Id, Quantity, Text
from rater.units import UnitType


class RecurType(enum.StrEnum):
    """Usage bucket Recur Type (domain-spec §1.9, R35-R38)."""

    RECURRING = "recurring"
    RECURRING_ROLLOVER = "recurring_rollover"
    NONRECURRING = "nonrecurring"


class BaseBucketDetail(Entity):
    """§1.8 bucket detail: class, optional GeoTree location or location group, exclude (R6)."""

    class_: Id = Field(alias="class")
    location: Id | None = None
    location_group: Id | None = None
    exclude: bool = False


class BaseBucket(Entity):
    """§1.8.  ``unit_type: money`` marks a base bucket for money buckets, whose details may name any class (R8)."""

    id: Id
    name: Text = ""
    unit_type: UnitType
    start: dt.date | None = None
    retired: dt.date | None = None
    details: tuple[BaseBucketDetail, ...] = Field(min_length=1)


class Tier(Entity):
    """§1.10.  ``threshold`` is the tier's size (R15), e.g. ``"10 GB"``; share-plan tiers may instead have
    ``tier_growth`` (Variable Multiple Tier) and may ``repeat`` (last tier only)."""

    threshold: Quantity | None = None
    flat_charge: Amount = Decimal(0)
    rate_plan: Id | None = None
    tier_growth: Quantity | None = None
    repeat: bool = False

    @field_validator("flat_charge")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must be zero or more")
        return value


class BillingActivation(Entity):
    """§1.9 / R49-R50: the package is activated by combined usage or by time, whichever comes first."""

    usage_threshold: Quantity
    time_expiry: DurationField


class BucketDefinition(Entity):
    """Fields shared by usage buckets and share plan buckets (§1.9, §1.12)."""

    id: Id
    name: Text = ""
    base_buckets: tuple[Id, ...] = Field(min_length=1)
    money: bool = False
    recur_type: RecurType = RecurType.RECURRING
    expire_after: DurationField | None = None
    expire_after_recurrence: int | None = Field(default=None, ge=1)
    prorate: bool = False
    last_tier_repeats: bool = False
    overage_rate_plan: Id | None = None
    binary_data_units: bool = False
    notify_at_percent: tuple[Annotated[int, Field(gt=0, le=100)], ...] = ()
    tiers: tuple[Tier, ...] = Field(min_length=1)


class UsageBucket(BucketDefinition):
    """§1.9 usage bucket.  A billing activation bucket (R49-R52) is a trigger, not an allowance (Q11): it
    needs no ``tiers``, ``recur_type`` or ``recur_frequency``, and has no use for them; every other usage
    bucket needs at least one tier (checked in :mod:`rater.catalog.validate`)."""

    recur_frequency: DurationField | None = None
    threshold_per_account_service: bool = True
    billing_activation: BillingActivation | None = None
    tiers: tuple[Tier, ...] = ()
