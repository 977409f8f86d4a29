"""The catalog as written in its YAML files: one pydantic model per entity (domain-spec §1).

These models check the shape of each entity on its own: field names, types, enums, exact decimals,
durations, quantity syntax.  Everything that needs another entity (references, unit types of base buckets,
participating types) is checked in :mod:`rater.catalog.validate`, which names file, entity and field.

The format is documented in ``docs/catalog.md``; ``config/catalog/`` is the complete commented example.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from rater.units import Duration, UnitType, parse_decimal, parse_duration, split_quantity

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


class RecurType(enum.StrEnum):
    """Usage bucket Recur Type (domain-spec §1.9, R35-R38)."""

    RECURRING = "recurring"
    RECURRING_ROLLOVER = "recurring_rollover"
    NONRECURRING = "nonrecurring"


class Rater(enum.StrEnum):
    """How a usage class finds its rate: by class only, or by class and GeoTree location (R3, R4)."""

    CLASS = "class"
    GEOTREE = "geotree"


class ShareLevel(enum.StrEnum):
    """Share plan Share Level (R57)."""

    ACCOUNT = "account"
    USAGE_INVOICER = "usage_invoicer"


class ParticipatingType(enum.StrEnum):
    """Share plan Participating Type (R55)."""

    SERVICE = "service"
    PACKAGE = "package"


class ActivationRule(enum.StrEnum):
    """Share plan Activation Rule (R54)."""

    SELLING_SERVICE = "selling_service"
    PARTICIPATING_SERVICE = "participating_service"


class SharePlanBucketType(enum.StrEnum):
    """Share plan bucket Type (R59)."""

    FIXED = "fixed"
    VARIABLE_SINGLE_TIER = "variable_single_tier"
    VARIABLE_MULTIPLE_TIER = "variable_multiple_tier"


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAY_INDEX: dict[Weekday, int] = {day: index for index, day in enumerate(Weekday)}


# --- catalog-wide ----------------------------------------------------------------------------------------


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


# --- classification --------------------------------------------------------------------------------------


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


# --- pricing ---------------------------------------------------------------------------------------------


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


# --- buckets ---------------------------------------------------------------------------------------------


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


class SharePlanParticipant(Entity):
    """§1.12a bucket-level participant entry: contribution (> 0 makes a contributor) and participation limit."""

    participant: Id
    contribution: Quantity | None = None
    participation_limit: Quantity | None = None


class SharePlanBucket(BucketDefinition):
    """§1.12 share plan bucket.  It resets on the plan's usage billing frequency (Q14)."""

    type: SharePlanBucketType = SharePlanBucketType.FIXED
    participants: tuple[SharePlanParticipant, ...] = ()


class SharePlan(Entity):
    """§1.12 share plan."""

    id: Id
    name: Text = ""
    description: LongText = ""
    active: bool = True
    share_level: ShareLevel = ShareLevel.ACCOUNT
    participating_type: ParticipatingType = ParticipatingType.SERVICE
    selling_service: Id
    activation_rule: ActivationRule = ActivationRule.SELLING_SERVICE
    usage_billing_frequency: DurationField
    participants: tuple[Id, ...] = ()
    buckets: tuple[SharePlanBucket, ...] = ()


# --- products --------------------------------------------------------------------------------------------


class Service(Entity):
    """§1.3 service with the usage buckets attached in the catalog."""

    id: Id
    name: Text = ""
    service_type: Text | None = None
    usage_buckets: tuple[Id, ...] = ()
    billing_activation: bool = False


def _service_entry(value: object) -> object:
    return {"service": value} if isinstance(value, str) else value


class PackageService(Entity):
    """A service in a package, with the package-service rate plan (R24 level 3)."""

    service: Id
    rate_plan: Id | None = None


class PackageFrequency(Entity):
    """A package frequency (billing cadence) with its rate plan (R24 level 5)."""

    id: Id
    every: DurationField
    rate_plan: Id | None = None


class AddOnAllotment(Entity):
    bucket: Id
    amount: Quantity


class SharePlanAddOn(Entity):
    """R64: a "Share Plan Add-On" package adds these allotments to the share plan's buckets."""

    share_plan: Id
    allotments: tuple[AddOnAllotment, ...] = Field(min_length=1)


class Package(Entity):
    """§1.3 package."""

    id: Id
    name: Text = ""
    services: tuple[Annotated[PackageService, BeforeValidator(_service_entry)], ...] = Field(min_length=1)
    frequencies: tuple[PackageFrequency, ...] = ()
    share_plan_add_on: SharePlanAddOn | None = None


#: Catalog sections that are lists of entities, with the model of each entry.
LIST_SECTIONS: dict[str, type[Entity]] = {
    "usage_classes": UsageClass,
    "rounding_rules": RoundingRule,
    "time_periods": TimePeriod,
    "rate_plans": RatePlan,
    "base_buckets": BaseBucket,
    "usage_buckets": UsageBucket,
    "share_plans": SharePlan,
    "services": Service,
    "packages": Package,
}

#: Catalog sections that are single mappings.
MAPPING_SECTIONS: dict[str, type[Entity]] = {"settings": Settings, "owner": Owner, "geotree": GeoTree}
