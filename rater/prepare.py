"""Preparing a record for its draw: everything rating decides before the store is touched (domain-spec §2.0).

:func:`prepare` turns a record into a draw plan (:class:`Prepared`): the owner by usage identifier at the
record's date (R2); the usage class, unit type and quantity in whole base units (R3); the GeoTree location by
longest pattern prefix (R4, R4a); the rate that would price the overflow, found first because its rounding
applies to the quantity before the draw (R24-R29, Q6); the allowances in consumption order and their
counters (R5-R13, :mod:`rater.consumption`), billing-activation counters after them (R50).

Pure, and memoised on the :class:`~rater.rating.Rater`: a record's resolution is shared by every record of
its account-service, class and location in one window of days, and its rate by every record whose plans do
not depend on the time.  A failure is a :class:`~rater.errors.RatingError` raised before anything is drawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING

from rater.activation import ActivationState
from rater.catalog.model import Rater as ClassRater
from rater.catalog.model import UsageClass
from rater.consumption import Resolution
from rater.errors import ExceptionType, InvalidRecord, RatingError
from rater.events import utc_text
from rater.keys import record_key
from rater.pricing import RateMatch, billable_quantity, find_rate, plan_candidates, select_rate_plan
from rater.rating import TIME_BOUND, Rater, Static
from rater.record import UsageRecord
from rater.state import UNLIMITED, Counter
from rater.subscriptions import ServiceContext, Subscriptions
from rater.units import UnitError, UnitType, unit_size

#: The unit a record's quantity is in when it names none (the usual mediation units).
DEFAULT_RECORD_UNIT = {UnitType.TIME: "s", UnitType.DATA: "B", UnitType.COUNT: "event"}

#: Resolutions kept per (account-service, class, location, activation epoch): one per window of days (a
#: period, mostly), newest last; a record for an older window than these is resolved again.
WINDOWS_PER_KEY = 24

#: The most occurrences of a repeating last tier (R19a) one record may reach in one bucket.  Each occurrence is
#: a flat charge line, a tier part and a crossing (in the rated charge and on its own), so the bound keeps a
#: record's outputs, and the work of pricing it, small: 500 occurrences is a rated charge of about 380 KB,
#: under the default RATER_MAX_EVENT_BYTES.  A record that could reach more (its billable quantity over 500
#: times the last tier's size: 250 GB on 500 MB blocks) is refused before its draw, the same whatever the
#: counters hold.
MAX_TIER_OCCURRENCES = 500


def record_quantity(record: UsageRecord, usage_class: UsageClass) -> int:
    """The record's quantity in whole base units of its class (R3).

    A fraction of a base unit (e.g. 1.0005 s) counts as a started unit and is rounded up.  A quantity of
    :data:`~rater.state.UNLIMITED` (2^53 - 1) base units or more is refused: the kernel holds integers exactly
    only below 2^53 (architecture property 4), so such a record is an ``invalid_record`` rating exception
    before anything is drawn.
    """
    unit = record.unit or DEFAULT_RECORD_UNIT[usage_class.unit_type]
    try:
        size = unit_size(unit, usage_class.unit_type)
    except UnitError as exc:
        raise InvalidRecord(f"unit {unit!r} does not fit class {usage_class.id!r}: {exc}") from exc
    quantity = int((record.quantity * size).to_integral_value(rounding=ROUND_CEILING))
    if quantity >= UNLIMITED:
        raise InvalidRecord(f"quantity {record.quantity} {unit} is {quantity} base units, not below 2^53 - 1")
    return quantity


def resolve_owner(subscriptions: Subscriptions, record: UsageRecord) -> ServiceContext:
    """R2: the account-service whose usage identifier is valid on the record's date.

    Windows are days, start inclusive and end exclusive, read in the owning account's time zone (E25).
    """
    windows = subscriptions.uids.get(record.usage_identifier)
    if not windows:
        raise RatingError(ExceptionType.NO_USAGE_IDENTIFIER_MATCH, f"usage identifier {record.usage_identifier!r}")
    nearest = windows[0]  # the last window starting on or before the record: whose record it most likely is
    for window in windows:
        day = record.event_time.astimezone(subscriptions.zone(window.owner.account.id)).date()
        if window.start <= day and (window.end is None or day < window.end):
            return window.owner
        if window.start <= day:
            nearest = window
    spans = ", ".join(f"{w.start}..{w.end or 'open'}" for w in windows)
    raise RatingError(
        ExceptionType.USAGE_IDENTIFIER_TIME_MISMATCH,
        f"usage identifier {record.usage_identifier!r} at {record.event_time.isoformat()} (valid {spans})",
        account=nearest.owner.account.id,
    )


@dataclass
class Prepared:
    """A record resolved and ready for its draw (the output of :func:`prepare`)."""

    record: UsageRecord
    owner: ServiceContext
    usage_class: UsageClass
    quantity: int
    billable: int
    location: str | None
    local: dt.datetime
    resolution: Resolution
    match: RateMatch | None
    missing: RatingError | None
    counters: list[Counter]
    record_key: str
    money_key: str
    root: str
    """The record's sharing root (the hash tag of every key it touches)."""
    event_time: str
    """The record's instant as events write it (:func:`rater.events.utc_text`), computed once."""


def prepare(rater: Rater, record: UsageRecord, marks: ActivationState) -> Prepared:
    """Everything before the draw: owner, class, location, the rate and its rounding, the ordered
    counters (pure; raises :class:`RatingError` before any state is touched).

    ``marks`` is the billing-activation state (R53: a package under billing activation contributes to
    share-plan pools only once activated); the resolution is memoised per (account-service, class,
    location, day, the root's activation epoch)."""
    owner = resolve_owner(rater.subscriptions, record)
    account = owner.account
    catalog = rater.catalog
    usage_class = catalog.usage_classes.get(record.usage_class)
    if usage_class is None:
        raise InvalidRecord(f"unknown usage class {record.usage_class!r}")
    quantity = record_quantity(record, usage_class)
    location: str | None = None
    if usage_class.rater is ClassRater.GEOTREE:
        location = catalog.geo.locate(record.terminating_identifier)
    when = record.event_time
    local = when.astimezone(rater.subscriptions.zone(account.id))
    day = local.date()
    root = rater.resolver.index.root(account.id)
    static = _static(rater, owner, usage_class.id, location, day, marks, marks.epoch(root))
    resolution, overage, counters, root = static
    match: RateMatch | None = None
    missing: RatingError | None = None
    try:
        match = overflow_rate(rater, owner, usage_class, location, when, local, overage, record.terminating_identifier)
    except RatingError as error:
        missing = error
    billable = billable_quantity(match.rounding if match else None, quantity)
    if billable >= UNLIMITED:
        raise InvalidRecord(f"quantity {quantity} rounds to {billable} base units, not below 2^53 - 1")
    for candidate in resolution.units:
        tiers = candidate.tiers
        if tiers.repeats and tiers.sizes and tiers.sizes[-1] > 0:
            reach = billable // tiers.sizes[-1]
            if reach > MAX_TIER_OCCURRENCES:
                raise InvalidRecord(
                    f"quantity {billable} base units could reach {reach} repeats of the last tier of bucket "
                    f"{candidate.instance.id!r} ({tiers.sizes[-1]} each), more than {MAX_TIER_OCCURRENCES} "
                    f"in one record"
                )
    return Prepared(
        record=record,
        owner=owner,
        usage_class=usage_class,
        quantity=quantity,
        billable=billable,
        location=location,
        local=local,
        resolution=resolution,
        match=match,
        missing=missing,
        counters=list(counters),
        record_key=record_key(root, record.record_id),
        money_key=record_key(root, f"{record.record_id}#money"),
        root=root,
        event_time=utc_text(when),
    )


def _static(
    rater: Rater,
    owner: ServiceContext,
    usage_class: str,
    location: str | None,
    day: dt.date,
    marks: ActivationState,
    epoch: int,
) -> Static:
    """:func:`_resolve` memoised: for one activation state of the root (its ``epoch``) the result is a
    pure function of the account-service, class, location and local day, and it holds for every day of
    the window the resolver reports (``Resolution.days``: the period, until an instance starts or ends,
    a contributor joins...), so records of one phone in one period share it.  The location is part of
    the key only for a class some bucket detail locates (R7)."""
    memo = rater.memo
    key = (owner.service.id, usage_class, location if usage_class in rater.located else None, epoch)
    windows = memo.statics.get(key)
    if windows is None:
        windows = memo.statics.put(key, [])
    for first, end, static in windows:
        if first <= day < end:
            return static
    static = _resolve(rater, owner, usage_class, location, day, marks)
    first, end = static[0].days
    windows.append((first, end, static))
    if len(windows) > WINDOWS_PER_KEY:
        del windows[0]
    return static


def _resolve(
    rater: Rater,
    owner: ServiceContext,
    usage_class: str,
    location: str | None,
    day: dt.date,
    marks: ActivationState,
) -> Static:
    """The resolution (R5-R13), the overage rate plan it names, the ordered counters and the sharing root."""
    resolver = rater.resolver
    resolution = resolver.resolve(owner, usage_class, location, day, marks)
    overage = next(
        (c.instance.overage_rate_plan for c in [*resolution.units, *resolution.money] if c.instance.overage_rate_plan),
        None,
    )
    # Billing-activation counters go after the allowances: the record that activates a package is the usage
    # that reached its threshold (R50a), not usage of an activated package, so the kernel checks a
    # participant's activation gate (R53) before this record's own count can set the mark.
    counters = tuple(c.counter for c in resolution.units) + tuple(a.counter for a in resolution.activations)
    return resolution, overage, counters, resolver.index.root(owner.account.id)


def overflow_rate(
    rater: Rater,
    owner: ServiceContext,
    usage_class: UsageClass,
    location: str | None,
    when: dt.datetime,
    local: dt.datetime,
    overage: str | None,
    terminating: str | None,
) -> RateMatch:
    """The rate that prices this record's overflow (R24-R28), found before the draw for its rounding.

    Memoised per (account-service, class, location, overage plan) when no rate group of the plans it
    may choose from has a start, a retirement or a time period: the answer then does not depend on the
    record's time."""
    memo = rater.memo
    catalog = rater.catalog
    key = (owner.service.id, usage_class.id, location, overage)
    found = memo.rates.get(key)
    if isinstance(found, RateMatch):
        return found
    choice = select_rate_plan(catalog, rater.subscriptions, owner, when, overage)
    if usage_class.rater is ClassRater.GEOTREE and location is None:
        raise RatingError(
            ExceptionType.RATE_NOT_FOUND,
            f"terminating identifier {terminating!r} matches no GeoTree pattern (R4)",
            account=owner.account.id,
        )
    match = find_rate(
        catalog,
        choice,
        currency=owner.account.currency,
        usage_class=usage_class.id,
        location=location,
        when=when,
        local=local,
        account=owner.account.id,
    )
    if found is None:  # first seen: memoise the answer, or remember that it depends on the record's time
        timeless = all(
            group.start is None and group.retired is None and group.time_period is None
            for _, _, plan_id in plan_candidates(catalog, rater.subscriptions, owner, overage)
            for group in catalog.rate_plans[plan_id].rate_groups
        )
        memo.rates.put(key, match if timeless else TIME_BOUND)
    return match
