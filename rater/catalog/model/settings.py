"""The catalog-wide entities: :class:`Settings`, whose options select the alternatives of the domain-spec §4
questions, and :class:`Owner`, the tenant (§1.1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from rater.catalog.model.buckets import RecurType
from rater.catalog.model.fields import Currency, Entity, Id, Text, ZoneName


class Settings(Entity):
    """Catalog-wide options.  Each names the domain-spec §4 question whose alternative it selects."""

    overlapping_share_plans: bool = True
    """R56/Q13: a service or package may take part in several share plans (10.5+).  False enforces the
    older one-plan rule at catalog validation."""
    same_level_bucket_order: tuple[RecurType, ...] = (
        RecurType.RECURRING,
        RecurType.RECURRING_ROLLOVER,
        RecurType.NONRECURRING,
    )
    """R13/Q4: draw order among buckets at one priority level; ties by earliest expiry, then attachment order."""
    parent_rate_plan_inheritance: bool = True
    """R26/Q22: look for a rate plan on the parent chain after the account and before the usage invoicer."""
    rollover_size: Literal["cumulative", "last_tier"] = "cumulative"
    """R36/Q3: bucket size S for rollover is the cumulative end of the last tier, or the last tier's size."""
    expire_after_recurrence: Literal["refills", "periods"] = "refills"
    """R38/Q10: Expire After Recurrence N gives N refills (N+1 periods) or N periods in total."""
    time_zone: ZoneName = "UTC"
    """Q8: the zone in which days (start/cancel dates, bill days) and time periods are read, unless the
    account names its own."""

    @field_validator("same_level_bucket_order")
    @classmethod
    def _complete_order(cls, value: tuple[RecurType, ...]) -> tuple[RecurType, ...]:
        if sorted(value) != sorted(RecurType):
            raise ValueError("must list each recur type exactly once")
        return value


class Owner(Entity):
    """The tenant (§1.1); its rate plan is the last fallback of R24."""

    id: Id = "OWNER"
    name: Text = ""
    currency: Currency = "USD"
    rate_plan: Id | None = None
