"""Rate-plan pricing: which plan, which group, which rate, how much (domain-spec §2.5-§2.6).

All functions are pure: the record's time is a parameter, nothing reads a clock or does I/O.

Lowest-level rate plan (R24, R26), lowest first:

1. ``bucket_overage``     the overage plan of the usage bucket (or its account-service instance)
2. ``account_service``    the account-service's own plan ("price-plan service usage rates")
3. ``package_service``    the package's plan for this service (catalog)
4. ``account_package``    the account-package's plan
5. ``package_frequency``  the plan of the account-package's package frequency (catalog)
6. ``account``            the account's plan
7. ``parent``             plans up the parent chain, nearest first (R26, ``settings.parent_rate_plan_inheritance``)
8. ``usage_invoicer``     the usage invoicer's plan
9. ``owner``              the owner's default plan

A plan whose rate groups all start after the record's time counts as no plan (R25).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from rater.catalog import Catalog
from rater.catalog.model import Rate, RateGroup, RatePlan, RoundingRule, TimePeriod, Weekday
from rater.errors import ExceptionType, RatingError
from rater.money import WIDE, quantize
from rater.subscriptions import ServiceContext, Subscriptions
from rater.units import UnitType, unit_size

_WEEKDAYS = tuple(Weekday)


@dataclass(frozen=True, slots=True)
class PlanChoice:
    """A rate plan found by R24: the plan, the level it was found at and the entity it is attached to."""

    plan: RatePlan
    level: str
    attached_to: str


@dataclass(frozen=True, slots=True)
class RateMatch:
    """The rate R27-R28 chose, with its identity for the rated-charge event."""

    choice: PlanChoice
    group: RateGroup
    rate: Rate
    rate_id: str
    rounding: RoundingRule | None


def plan_candidates(
    catalog: Catalog, subscriptions: Subscriptions, owner: ServiceContext, overage_plan: str | None = None
) -> Iterator[tuple[str, str, str]]:
    """(level, attached-to id, rate plan id) in R24 order, lowest level first; levels without a plan are left out."""
    account = owner.account
    if overage_plan is not None:
        yield "bucket_overage", owner.service.id, overage_plan
    if owner.service.rate_plan is not None:
        yield "account_service", owner.service.id, owner.service.rate_plan
    package = catalog.packages[owner.package.package]
    for entry in package.services:
        if entry.service == owner.service.service and entry.rate_plan is not None:
            yield "package_service", package.id, entry.rate_plan
    if owner.package.rate_plan is not None:
        yield "account_package", owner.package.id, owner.package.rate_plan
    frequency = _package_frequency(catalog, owner)
    if frequency is not None:
        yield "package_frequency", f"{package.id}/{frequency[0]}", frequency[1]
    if account.rate_plan is not None:
        yield "account", account.id, account.rate_plan
    if catalog.settings.parent_rate_plan_inheritance:
        for parent in subscriptions.parents(account):
            if parent.rate_plan is not None:
                yield "parent", parent.id, parent.rate_plan
    invoicer = subscriptions.usage_invoicer(account)
    if invoicer.id != account.id and invoicer.rate_plan is not None:
        yield "usage_invoicer", invoicer.id, invoicer.rate_plan
    if catalog.owner.rate_plan is not None:
        yield "owner", catalog.owner.id, catalog.owner.rate_plan


def _package_frequency(catalog: Catalog, owner: ServiceContext) -> tuple[str, str] | None:
    """The account-package's frequency (or the package's first, its default) when it carries a rate plan."""
    frequencies = catalog.packages[owner.package.package].frequencies
    chosen = owner.package.frequency
    for frequency in frequencies:
        if (chosen is None or frequency.id == chosen) and frequency.rate_plan is not None:
            return frequency.id, frequency.rate_plan
        if chosen is None:
            break
    return None


def catalog_time(catalog: Catalog, value: dt.date) -> dt.datetime:
    """A catalog date or naive datetime as an aware instant in the catalog's time zone."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=catalog.zone)
    return dt.datetime(value.year, value.month, value.day, tzinfo=catalog.zone)


def _group_started(catalog: Catalog, group: RateGroup, when: dt.datetime) -> bool:
    return group.start is None or catalog_time(catalog, group.start) <= when


def select_rate_plan(
    catalog: Catalog,
    subscriptions: Subscriptions,
    owner: ServiceContext,
    when: dt.datetime,
    overage_plan: str | None = None,
) -> PlanChoice:
    """R24-R26: the lowest-level plan that has a rate group started by ``when``.

    Raises ``rate_plan_not_defined`` (R25) when no level has one.
    """
    for level, attached_to, plan_id in plan_candidates(catalog, subscriptions, owner, overage_plan):
        plan = catalog.rate_plans[plan_id]
        if any(_group_started(catalog, group, when) for group in plan.rate_groups):
            return PlanChoice(plan, level, attached_to)
    raise RatingError(
        ExceptionType.RATE_PLAN_NOT_DEFINED,
        f"no rate plan on account-service {owner.service.id!r} or above it at {when.isoformat()}",
        account=owner.account.id,
    )


def in_time_period(period: TimePeriod, local: dt.datetime) -> bool:
    """§1.18: is the local wall-clock time inside one of the period's (days, from, to) windows?

    ``from`` is inclusive; ``to`` is inclusive of its whole minute, as the LogiSense screens write windows
    (the seed's weekend, "Saturday 12:00 AM-11:59 PM", holds the whole day): ``"21:00"`` holds 21:00:59, and
    ``"23:59"`` ends the window at midnight.  A ``to`` with seconds (``"21:00:30"``) holds its whole second;
    ``"24:00"`` also ends the window at midnight.
    """
    day = _WEEKDAYS[local.weekday()]
    clock = local.time().replace(tzinfo=None)
    for detail in period.details:
        if day not in detail.days:
            continue
        start = detail.from_
        assert isinstance(start, dt.time)
        if clock < start:
            continue
        if detail.to == "24:00" or (isinstance(detail.to, dt.time) and _not_past(clock, detail.to)):
            return True
    return False


def _not_past(clock: dt.time, end: dt.time) -> bool:
    """``clock`` is not past the window's inclusive ``end``: its minute, or its second when it has one."""
    if end.second == 0 and end.microsecond == 0:
        return (clock.hour, clock.minute) <= (end.hour, end.minute)
    return clock.replace(microsecond=0) <= end.replace(microsecond=0)


def find_rate(
    catalog: Catalog,
    choice: PlanChoice,
    *,
    currency: str,
    usage_class: str,
    location: str | None,
    when: dt.datetime,
    local: dt.datetime,
    account: str,
) -> RateMatch:
    """R27-R28: search the plan's groups in order; the first group not skipped is searched for the first
    rate whose class matches and, for GeoTree classes, whose location or group covers ``location``.

    * No group in the account ``currency`` -> ``rate_group_not_found`` (R31, E23).
    * Every group in the currency skipped (start, retired, time period), or no matching rate in the first
      one not skipped, or no GeoTree location -> ``rate_not_found`` (R31, E22).

    ``when`` is the record's instant; ``local`` the same instant on the account's wall clock (time periods).
    """
    plan = choice.plan
    in_currency = [group for group in plan.rate_groups if group.currency == currency]
    if not in_currency:
        offered = ", ".join(sorted({group.currency for group in plan.rate_groups}))
        raise RatingError(
            ExceptionType.RATE_GROUP_NOT_FOUND,
            f"rate plan {plan.id!r} ({choice.level}) has no rate group in {currency} (groups are in {offered})",
            account=account,
        )
    for group in in_currency:
        if not _group_started(catalog, group, when):
            continue
        if group.retired is not None and catalog_time(catalog, group.retired) <= when:
            continue
        if group.time_period is not None and not in_time_period(catalog.time_periods[group.time_period], local):
            continue
        for index, rate in enumerate(group.rates):
            if rate.class_ != usage_class:
                continue
            if catalog.usage_classes[usage_class].rater.value == "geotree" and not catalog.geo.matches(
                rate.location, rate.location_group, location
            ):
                continue
            rounding = catalog.rounding_rules[rate.rounding_rule] if rate.rounding_rule else None
            return RateMatch(choice, group, rate, rate.id or f"{group.id}#{index + 1}", rounding)
        where = f" at location {location!r}" if location else ""
        raise RatingError(
            ExceptionType.RATE_NOT_FOUND,
            f"rate group {group.id!r} of rate plan {plan.id!r} has no rate for class {usage_class!r}{where}",
            account=account,
        )
    raise RatingError(
        ExceptionType.RATE_NOT_FOUND,
        f"no rate group of rate plan {plan.id!r} applies at {local.isoformat()} (start, retired or time period)",
        account=account,
    )


def billable_quantity(rule: RoundingRule | None, quantity: int) -> int:
    """R29: round ``quantity`` (base units) up by the rule: at least Minimum, then whole Increments.

    Q = 0 stays 0 (Q20).  With no rule the quantity is unchanged.  Minimum and Increment are whole base
    units (the catalog validator enforces it), so the result is an integer.
    Example (E7): Minimum 60 s, Increment 6 s: 30 s -> 60 s, 61 s -> 66 s, 125 s -> 126 s.
    """
    if rule is None or quantity == 0:
        return quantity
    size = unit_size(rule.unit, rule.unit_type)
    minimum = int(rule.minimum * size)
    increment = int(rule.increment * size)
    if quantity <= minimum:
        return minimum
    steps = -(-(quantity - minimum) // increment)  # integer ceiling: no float on the way
    return minimum + steps * increment


def charge(rate: Rate, unit_type: UnitType, billable: int, precision: int) -> Decimal:
    """R30: billable base units converted to the rate's ``per`` unit, times the amount, rounded half up once
    to the plan's ``precision``.  E7: 66 s at $0.06/min = 1.1 min x 0.06 = $0.066."""
    per = unit_size(rate.per, unit_type)
    exact = WIDE.divide(WIDE.multiply(Decimal(billable), rate.amount), Decimal(per))
    return quantize(exact, precision)
