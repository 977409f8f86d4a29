"""Rating one record: the pure core both the offline rater and the stream use.

``Rater.rate(record)`` follows the reference algorithm of domain-spec §2.0 for the parts built so far:

1. owner resolution by usage identifier at the record's date (R2);
2. classification: usage class, unit type, quantity in base units (R3);
3. GeoTree location by longest pattern prefix for GeoTree-rated classes (R4, R4a);
4. the lowest-level rate plan (R24-R26), the first applicable rate group and rate (R27-R28);
5. rounding (R29) and the charge at the plan's precision (R30).

Failures are typed :class:`~rater.errors.RatingError` (R2, R25, R31).  ``Rater.outcome`` wraps the whole
thing for untrusted input: bytes in, exactly one event out, never an exception (style habit 6).
R1 (dedupe on the record id) is :class:`Deduper`, kept apart because its memory is state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_CEILING

from rater.catalog import Catalog
from rater.catalog.model import Rater as ClassRater
from rater.catalog.model import UsageClass
from rater.errors import ExceptionType, InvalidRecord, RatingError, RetriableError
from rater.events import ChargeLine, Outcome, RatedCharge, RatingExceptionEvent
from rater.pricing import billable_quantity, charge, find_rate, select_rate_plan
from rater.record import UsageRecord, decode
from rater.subscriptions import ServiceContext, Subscriptions
from rater.units import BASE_UNIT, UnitError, UnitType, unit_size

#: The unit a record's quantity is in when it names none (the usual mediation units).
DEFAULT_RECORD_UNIT = {UnitType.TIME: "s", UnitType.DATA: "B", UnitType.COUNT: "event"}


def record_quantity(record: UsageRecord, usage_class: UsageClass) -> int:
    """The record's quantity in whole base units of its class (R3).

    A fraction of a base unit (e.g. 1.0005 s) counts as a started unit and is rounded up.
    """
    unit = record.unit or DEFAULT_RECORD_UNIT[usage_class.unit_type]
    try:
        size = unit_size(unit, usage_class.unit_type)
    except UnitError as exc:
        raise InvalidRecord(f"unit {unit!r} does not fit class {usage_class.id!r}: {exc}") from exc
    return int((record.quantity * size).to_integral_value(rounding=ROUND_CEILING))


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
class Deduper:
    """R1: a record id is rated once; a repeat gets the first outcome back unchanged."""

    seen: dict[str, Outcome] = field(default_factory=dict)

    def get(self, record_id: str) -> Outcome | None:
        return self.seen.get(record_id)

    def remember(self, record_id: str, outcome: Outcome) -> None:
        self.seen.setdefault(record_id, outcome)


class Rater:
    """The rating core over one catalog and one set of subscriptions (both immutable)."""

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions

    def rate(self, record: UsageRecord) -> RatedCharge:
        """Rate a decoded record or raise :class:`RatingError`."""
        owner = resolve_owner(self.subscriptions, record)
        account = owner.account
        usage_class = self.catalog.usage_classes.get(record.usage_class)
        if usage_class is None:
            raise InvalidRecord(f"unknown usage class {record.usage_class!r}")
        quantity = record_quantity(record, usage_class)
        location: str | None = None
        if usage_class.rater is ClassRater.GEOTREE:
            location = self.catalog.geo.locate(record.terminating_identifier)
        when = record.event_time
        local = when.astimezone(self.subscriptions.zone(account.id))
        choice = select_rate_plan(self.catalog, self.subscriptions, owner, when)
        if usage_class.rater is ClassRater.GEOTREE and location is None:
            raise RatingError(
                ExceptionType.RATE_NOT_FOUND,
                f"terminating identifier {record.terminating_identifier!r} matches no GeoTree pattern (R4)",
                account=account.id,
            )
        match = find_rate(
            self.catalog,
            choice,
            currency=account.currency,
            usage_class=usage_class.id,
            location=location,
            when=when,
            local=local,
            account=account.id,
        )
        billable = billable_quantity(match.rounding, quantity)
        amount = charge(match.rate, usage_class.unit_type, billable, choice.plan.precision)
        invoicer = self.subscriptions.usage_invoicer(account)
        line = ChargeLine(
            type="rate_plan",
            quantity=quantity,
            billable_quantity=billable,
            amount=amount,
            billed_to=invoicer.id,
            rate_plan=choice.plan.id,
            rate_plan_level=choice.level,
            rate_plan_attached_to=choice.attached_to,
            rate_group=match.group.id,
            rate=match.rate_id,
            rate_amount=match.rate.amount,
            rate_per=match.rate.per,
            rounding_rule=match.rounding.id if match.rounding else None,
        )
        return RatedCharge(
            record_id=record.record_id,
            usage_identifier=record.usage_identifier,
            account=account.id,
            account_service=owner.service.id,
            service=owner.service.service,
            account_package=owner.package.id,
            package=owner.package.package,
            usage_invoicer=invoicer.id,
            usage_class=usage_class.id,
            unit_type=usage_class.unit_type.value,
            unit=BASE_UNIT[usage_class.unit_type],
            quantity=quantity,
            event_time=when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            location=location,
            charges=(line,),
            currency=account.currency,
        )

    def outcome(self, data: bytes, fallback_id: str) -> tuple[str, Outcome]:
        """Decode and rate untrusted bytes: always exactly one event, never an exception.

        ``fallback_id`` names a record whose id cannot be read (e.g. ``usage.jsonl:17`` or a Kafka
        ``topic:partition:offset``).  Unexpected errors become ``software_system_error`` (R31);
        :class:`RetriableError` (store or broker unavailable) propagates so the record is retried.
        """
        record_id = fallback_id
        try:
            record = decode(data)
            record_id = record.record_id
            return record_id, self.rate(record)
        except InvalidRecord as error:
            record_id = error.record_id or record_id
            return record_id, RatingExceptionEvent.from_error(record_id, error, data)
        except RatingError as error:
            return record_id, RatingExceptionEvent.from_error(record_id, error, data)
        except RetriableError:
            raise  # infrastructure: the caller retries the record in place and never acknowledges it
        except Exception as error:
            failure = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"{type(error).__name__}: {error}")
            return record_id, RatingExceptionEvent.from_error(record_id, failure, data)
