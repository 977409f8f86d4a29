"""Rating one record: the pure core of the one rating pipeline (:func:`rater.batch.rate_batch`).

:meth:`Rater.prepare` (record to draw plan) and :meth:`Rater.finish` (plan and draw result to outcome) follow
the reference algorithm of domain-spec §2.0; the store's draw sits between them:

1. owner resolution by usage identifier at the record's date (R2);
2. classification: usage class, unit type, quantity in base units (R3);
3. GeoTree location by longest pattern prefix for GeoTree-rated classes (R4, R4a);
4. the lowest-level rate plan (R24-R26), the first applicable rate group and rate (R27-R28);
5. rounding (R29) and the charge at the plan's precision (R30).

Failures are typed :class:`~rater.errors.RatingError` (R2, R25, R31); the pipeline turns them into rating
exceptions (style habit 6) and keeps R1 (dedupe on the record id) in the store.  Nothing here holds a store,
reads a clock or changes state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from rater.activation import Activation, ActivationState
from rater.allotments import Candidate, Tiers
from rater.catalog import Catalog
from rater.catalog.model import BucketDefinition, RecurType, UsageBucket, UsageClass
from rater.catalog.model import Rater as ClassRater
from rater.consumption import Resolution, Resolver
from rater.errors import ExceptionType, InvalidRecord, RatingError
from rater.events import (
    BucketDraw,
    ChargeLine,
    Notification,
    RatedAdjustment,
    RatedCharge,
    TierCrossing,
    TierPart,
    utc_text,
)
from rater.instances import CACHE_LIMIT, Instance
from rater.keys import activation_key, bucket_key, record_key
from rater.lru import LRU
from rater.periods import Period, add_duration
from rater.pricing import (
    PlanChoice,
    RateMatch,
    billable_quantity,
    charge,
    find_rate,
    plan_candidates,
    select_rate_plan,
)
from rater.record import UsageRecord
from rater.state import UNLIMITED, Counter, Draw, DrawResult
from rater.subscriptions import ServiceContext, Subscriptions
from rater.tiers import percent_crossings, reached, slices
from rater.units import BASE_UNIT, MONEY_SCALE, UnitError, UnitType, unit_size

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


@dataclass(frozen=True)
class DueActivation:
    """A package whose billing activation by time is due (R50b); ``key`` holds its ``activated`` mark."""

    key: str
    account_package: str
    account: str
    due: dt.date
    root: str

    def notification(self) -> Notification:
        return activation_notification(self.account_package, self.account, None, self.due, "time")


@dataclass
class Prepared:
    """A record resolved and ready for its draw (the output of :meth:`Rater.prepare`)."""

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


@dataclass(frozen=True)
class CancelTarget:
    """A prorated bucket a cancellation cuts (R41): the instance before and after, the period holding the
    last active day, its tiers before and after the cut, and the counter hash ``key`` in the store."""

    account_service: str
    cancel: dt.date
    old: Instance
    new: Instance
    period: Period
    old_tiers: Tiers
    new_tiers: Tiers
    key: str


@dataclass(frozen=True)
class Settlement:
    """One bucket's cancel proration (R41): set ``field`` of ``key`` from ``consumed`` to ``kept`` (and the
    tier entries ``entered``) once per ``operation_key`` and publish ``adjustment``."""

    operation_key: str
    key: str
    field: str
    consumed: int
    kept: int
    adjustment: RatedAdjustment
    entered: tuple[str, int]
    """The counter's tier entries after the cut, written with ``kept``: (``e:<period>``, ordinal), R17."""


#: What :meth:`Rater._resolve` computes once per (account-service, class, location, day): the resolution, the
#: overage rate plan it names, the ordered counters and the sharing root.
_Static = tuple[Resolution, str | None, tuple[Counter, ...], str]


@dataclass
class _Memo:
    """Pure results memoised for one configuration (a new configuration is a new :class:`Rater`)."""

    statics: LRU[tuple[str, str, str | None, int], list[tuple[dt.date, dt.date, _Static]]] = field(
        default_factory=lambda: LRU(CACHE_LIMIT)
    )
    rates: dict[tuple[str, str, str | None, str | None], RateMatch] = field(default_factory=dict)
    time_bound: set[tuple[str, str | None]] = field(default_factory=set)  # (account-service, overage plan)


@dataclass
class MoneyDue:
    """The overflow is priced and money buckets must pay: the second draw, by value in micro-units (R46)."""

    prepared: Prepared
    priced: _Priced
    value: int
    record_key: str
    counters: list[Counter]

    @property
    def requested(self) -> int:
        """What the money draw asks for: ``value``, capped below 2^53 so the kernel counts it exactly (a
        money bucket never holds that much, so the cap never changes what is taken)."""
        return min(self.value, UNLIMITED - 1)


class Rater:
    """The rating core over one catalog and one set of subscriptions (pure: no store, no clock).

    Per record (domain-spec §2.0): resolve the owner (R2), class and location (R3, R4); find the rate that
    would price the record and round the quantity with it (R29, Q6); draw the quantity down the record's
    allowances in consumption order in one atomic store call (R11-R13); price tier entries, tier rate plans
    and what overflows (R15-R19, R24-R30); let money buckets pay for the overflow (R46); count billing
    activation (R50).  A missing rate is an exception only when something has to be priced (Q6).
    """

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.resolver = Resolver(catalog, subscriptions)
        self._memo = _Memo()
        self._located = {
            detail.class_
            for base in catalog.base_buckets.values()
            for detail in base.details
            if detail.location is not None or detail.location_group is not None
        }

    def prepare(self, record: UsageRecord, marks: ActivationState) -> Prepared:
        """Everything before the draw: owner, class, location, the rate and its rounding, the ordered
        counters (pure; raises :class:`RatingError` before any state is touched).

        ``marks`` is the billing-activation state (R53: a package under billing activation contributes to
        share-plan pools only once activated); the resolution is memoised per (account-service, class,
        location, day, the root's activation epoch)."""
        owner = self.owner(record)
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
        day = local.date()
        root = self.resolver.index.root(account.id)
        static = self._static(owner, usage_class.id, location, day, marks, marks.epoch(root))
        resolution, overage, counters, root = static
        match: RateMatch | None = None
        missing: RatingError | None = None
        try:
            match = self._find_rate(owner, usage_class, location, when, local, overage, record.terminating_identifier)
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

    def owner(self, record: UsageRecord) -> ServiceContext:
        """R2: the account-service owning the record (raises :class:`RatingError` when none does)."""
        return resolve_owner(self.subscriptions, record)

    def _static(
        self,
        owner: ServiceContext,
        usage_class: str,
        location: str | None,
        day: dt.date,
        marks: ActivationState,
        epoch: int,
    ) -> _Static:
        """:meth:`_resolve` memoised: for one activation state of the root (its ``epoch``) the result is a
        pure function of the account-service, class, location and local day, and it holds for every day of
        the window the resolver reports (``Resolution.days``: the period, until an instance starts or ends,
        a contributor joins...), so records of one phone in one period share it.  The location is part of
        the key only for a class some bucket detail locates (R7)."""
        memo = self._memo
        key = (owner.service.id, usage_class, location if usage_class in self._located else None, epoch)
        windows = memo.statics.get(key)
        if windows is None:
            windows = memo.statics.put(key, [])
        for first, end, static in windows:
            if first <= day < end:
                return static
        static = self._resolve(owner, usage_class, location, day, marks)
        first, end = static[0].days
        windows.append((first, end, static))
        if len(windows) > WINDOWS_PER_KEY:
            del windows[0]
        return static

    def _resolve(
        self,
        owner: ServiceContext,
        usage_class: str,
        location: str | None,
        day: dt.date,
        marks: ActivationState,
    ) -> _Static:
        """The resolution (R5-R13), the overage rate plan it names, the ordered counters and the sharing root."""
        resolution = self.resolver.resolve(owner, usage_class, location, day, marks)
        overage = next(
            (
                c.instance.overage_rate_plan
                for c in [*resolution.units, *resolution.money]
                if c.instance.overage_rate_plan
            ),
            None,
        )
        # Billing-activation counters go after the allowances: the record that activates a package is the usage
        # that reached its threshold (R50a), not usage of an activated package, so the kernel checks a
        # participant's activation gate (R53) before this record's own count can set the mark.
        counters = tuple(c.counter for c in resolution.units) + tuple(a.counter for a in resolution.activations)
        return resolution, overage, counters, self.resolver.index.root(owner.account.id)

    def finish(self, prepared: Prepared, result: DrawResult) -> RatedCharge | MoneyDue:
        """Price a draw (pure): tiers, flat charges, tier rate plans, overflow; or ask for the money draw."""
        record = prepared.record
        account = prepared.owner.account
        resolution = prepared.resolution
        activations = resolution.activations
        when = record.event_time
        invoicer = self.subscriptions.usage_invoicer(account)
        priced = _Priced(record.record_id, account.id, when)
        units = len(resolution.units)
        for candidate, draw in zip(resolution.units, result.draws[:units], strict=True):
            self._price_bucket(
                priced, candidate, draw, prepared.usage_class.id, prepared.location, when, prepared.local
            )
        for activation, draw in zip(activations, result.draws[units:], strict=True):
            if draw.marked:
                day = prepared.local.date()
                priced.notifications.append(_activation_notice(record.record_id, account.id, activation, day, draw))
        if result.remaining > 0:
            match = prepared.match
            if match is None:
                assert prepared.missing is not None
                raise prepared.missing
            unit_type = prepared.usage_class.unit_type
            amount = charge(match.rate, unit_type, result.remaining, match.choice.plan.precision)
            priced.lines.append(_rate_plan_line(match, result.remaining, amount, invoicer.id))
            if resolution.money and amount > 0:
                value = int((amount * MONEY_SCALE).to_integral_value(rounding=ROUND_DOWN))
                counters = [c.counter for c in resolution.money]
                return MoneyDue(prepared, priced, value, prepared.money_key, counters)
        return self._charge(prepared, priced, Decimal(0))

    def finish_money(self, due: MoneyDue, result: DrawResult) -> RatedCharge:
        """R46: the priced overflow paid from money buckets in order, as far as their balance goes."""
        priced = due.priced
        for candidate, draw in zip(due.prepared.resolution.money, result.draws, strict=True):
            if draw.taken:
                priced.draws.append(_bucket_draw(candidate, draw))
                limit = draw.allowance
                if limit is not None and draw.before < limit <= draw.after:
                    _CrossingFactory(priced, candidate, draw, priced.when).add("exhausted", 2, 0, limit)
        return self._charge(due.prepared, priced, Decimal(due.requested - result.remaining) / MONEY_SCALE)

    def _charge(self, prepared: Prepared, priced: _Priced, money_drawn: Decimal) -> RatedCharge:
        record = prepared.record
        owner = prepared.owner
        account = owner.account
        usage_class = prepared.usage_class
        return RatedCharge(
            record_id=record.record_id,
            usage_identifier=record.usage_identifier,
            account=account.id,
            account_service=owner.service.id,
            service=owner.service.service,
            account_package=owner.package.id,
            package=owner.package.package,
            usage_invoicer=self.subscriptions.usage_invoicer(account).id,
            usage_class=usage_class.id,
            unit_type=usage_class.unit_type.value,
            unit=BASE_UNIT[usage_class.unit_type],
            quantity=prepared.quantity,
            billable_quantity=prepared.billable,
            event_time=prepared.event_time,
            location=prepared.location,
            draws=tuple(priced.draws),
            charges=tuple(priced.lines),
            money_drawn=money_drawn,
            crossings=tuple(priced.crossings),
            notifications=tuple(priced.notifications),
            currency=account.currency,
        )

    def _find_rate(
        self,
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
        memo = self._memo
        key = (owner.service.id, usage_class.id, location, overage)
        found = memo.rates.get(key)
        if found is not None:
            return found
        choice = select_rate_plan(self.catalog, self.subscriptions, owner, when, overage)
        if usage_class.rater is ClassRater.GEOTREE and location is None:
            raise RatingError(
                ExceptionType.RATE_NOT_FOUND,
                f"terminating identifier {terminating!r} matches no GeoTree pattern (R4)",
                account=owner.account.id,
            )
        found = find_rate(
            self.catalog,
            choice,
            currency=owner.account.currency,
            usage_class=usage_class.id,
            location=location,
            when=when,
            local=local,
            account=owner.account.id,
        )
        plans = (owner.service.id, overage)
        if plans in memo.time_bound:
            return found
        if all(
            group.start is None and group.retired is None and group.time_period is None
            for _, _, plan_id in plan_candidates(self.catalog, self.subscriptions, owner, overage)
            for group in self.catalog.rate_plans[plan_id].rate_groups
        ):
            if len(memo.rates) > CACHE_LIMIT:
                memo.rates.clear()
            memo.rates[key] = found
        else:  # the answer depends on the record's time: never memoised, and the plans are not re-checked
            memo.time_bound.add(plans)
        return found

    def _price_bucket(
        self,
        priced: _Priced,
        candidate: Candidate,
        draw: Draw,
        usage_class: str,
        location: str | None,
        when: dt.datetime,
        local: dt.datetime,
        due: int | None = None,
    ) -> None:
        """Tier entries, flat charges, tier rate plans, crossings and notifications of one draw (R15-R19, R66).

        A tier occurrence is entered, its flat charge due and its crossing announced, once per period
        (R17): when its ordinal (rater.tiers) lies above ``draw.entered``, the ordinal the period had
        entered before this draw (the store keeps it; ``None``: what ``before`` reaches), and ``after``
        reaches it, so tier boundaries that move within a period (R59, R60, R64) never bill a tier twice.
        ``due`` overrides the ordinal entered after the draw (a cancellation re-prices a period, R41)."""
        instance = candidate.instance
        if draw.taken == 0 and due is None:
            return
        tiers = candidate.tiers
        sizes = tiers.with_carry(draw.carry)
        repeats = tiers.repeats
        entered = draw.entered if draw.entered is not None else reached(sizes, repeats, draw.before)
        if due is None:
            due = max(entered, reached(sizes, repeats, draw.after))
        billed_to = self._bucket_payer(instance)
        crossing = _CrossingFactory(priced, candidate, draw, when)
        breakdown: list[TierPart] = []
        for part in slices(sizes, repeats, draw.before, draw.after, entered, due):
            index = part.tier - 1
            flat = tiers.flat_charges[index] if part.entered else Decimal(0)
            rated = Decimal(0)
            if part.entered:
                if flat > 0:
                    priced.lines.append(
                        ChargeLine(
                            type="flat_charge",
                            quantity=0,
                            amount=flat,
                            billed_to=billed_to,
                            bucket_instance=instance.id,
                            tier=part.tier,
                            repeat=part.repeat,
                        )
                    )
                if part.start > 0:
                    crossing.add("repeat" if part.repeat else "tier", part.tier, part.repeat, part.start + 1)
            plan_id = tiers.rate_plans[index]
            if plan_id is not None and part.quantity > 0:
                account = self.subscriptions.accounts[instance.holder]
                tier_match = find_rate(
                    self.catalog,
                    PlanChoice(self.catalog.rate_plans[plan_id], "bucket_tier", instance.id),
                    currency=account.currency,
                    usage_class=usage_class,
                    location=location,
                    when=when,
                    local=local,
                    account=account.id,
                )
                amount = charge(tier_match.rate, candidate.unit_type, part.quantity, tier_match.choice.plan.precision)
                rated = amount
                line = _rate_plan_line(tier_match, part.quantity, amount, billed_to)
                priced.lines.append(
                    replace(line, type="tier_rate", bucket_instance=instance.id, tier=part.tier, repeat=part.repeat)
                )
            breakdown.append(TierPart(part.tier, part.repeat, part.quantity, flat, flat + rated))
        priced.draws.append(_bucket_draw(candidate, draw, tuple(breakdown)))
        if not repeats and entered <= len(sizes) < due:  # ordinal k + 1: the allowance is used up (R19b)
            crossing.add("exhausted", len(sizes) + 1, 0, sum(sizes))
        for tier, repeat, percent in percent_crossings(
            sizes, tiers.repeats, draw.before, draw.after, instance.bucket.notify_at_percent
        ):
            priced.notifications.append(
                Notification(
                    notification_id=f"{instance.id}:{candidate.period.start}:{tier}:{repeat}:{percent}",
                    kind="threshold",
                    account=instance.holder,
                    record_id=priced.record_id,
                    details=(
                        ("bucket_instance", instance.id),
                        ("bucket", instance.bucket.id),
                        ("period_start", candidate.period.start.isoformat()),
                        ("tier", tier),
                        ("repeat", repeat),
                        ("percent", percent),
                    ),
                )
            )

    def _bucket_payer(self, instance: Instance) -> str:
        """R65: share-plan charges go to the account holding the plan; other bucket charges to the holder's
        usage invoicer."""
        if instance.level == "share_plan":
            return instance.holder
        return self.subscriptions.usage_invoicer(self.subscriptions.accounts[instance.holder]).id

    def cancel_targets(self, account_service: str, cancel: dt.date) -> list[CancelTarget]:
        """The buckets of ``account_service`` a cancellation from ``cancel`` (exclusive, R42) cuts (R41): each
        recurring bucket with Prorate on whose period holding the last active day loses part of tier 1.
        Pure: what each cut costs depends on the period's consumption, read from the store by the caller
        and priced by :meth:`settlement`.  Raises ``KeyError`` for an unknown account-service."""
        context = self.subscriptions.services[account_service]
        account = context.account
        last_day = cancel - dt.timedelta(days=1)
        targets: list[CancelTarget] = []
        for old in self.resolver.index.service_instances(account_service):
            if not old.bucket.prorate or old.recur_type is RecurType.NONRECURRING:
                continue
            period = old.period(self.catalog, last_day)
            if period is None:
                continue
            new = replace(old, cancel=min(cancel, old.cancel) if old.cancel else cancel)
            old_tiers = self.resolver.allotments.tiers(old.bucket, self.resolver.allotments.prorated(old, period))
            new_tiers = self.resolver.allotments.tiers(old.bucket, self.resolver.allotments.prorated(new, period))
            if old_tiers.sizes == new_tiers.sizes:
                continue
            key = bucket_key(self.resolver.index.root(account.id), old.id)
            targets.append(CancelTarget(account_service, cancel, old, new, period, old_tiers, new_tiers, key))
        return targets

    def settlement(self, target: CancelTarget, state: dict[str, int], operation_id: str) -> Settlement | None:
        """What cutting ``target`` costs, given its counter hash ``state`` (fields ``c:<period>`` consumed and
        ``r:<period>`` rollover carry, base units): the adjustment and the value the counter keeps (R41).

        ``kept`` = the consumption, capped at the cut allowance (all of it when the last tier repeats); the
        adjustment's lines are the re-priced period minus the period as rated, plus overage for
        ``consumed - kept`` at the overage rate plan.  Flat charges: the period as rated billed the tier
        occurrences it entered (``e:<period>``, R17); the re-priced one bills those and any further one
        ``kept`` reaches under the cut tiers, and the counter records that count (``entered``).  ``None`` when
        nothing was consumed (nothing to move).  Pure: the caller writes ``kept`` (and ``entered``) once per
        ``operation_key`` (``settle``)."""
        old, new, period = target.old, target.new, target.period
        context = self.subscriptions.services[target.account_service]
        account = context.account
        consumed = state.get(f"c:{period.index}", 0)
        carry = state.get(f"r:{period.index}", 0)
        if consumed == 0:
            return None
        when = dt.datetime.combine(
            target.cancel - dt.timedelta(days=1), dt.time(), tzinfo=self.subscriptions.zone(account.id)
        )
        old_tiers, new_tiers = target.old_tiers, target.new_tiers
        new_sizes = new_tiers.with_carry(carry)
        kept = consumed if new_tiers.repeats else min(consumed, sum(new_sizes))
        # R17: the occurrences entered so far (e:<period>, or what the consumption reaches when the counter
        # has none) were billed; the cut bills those it reaches beyond them, and records the new count.
        entered_field = f"e:{period.index}"
        entered = state.get(entered_field)
        if entered is None:
            entered = reached(old_tiers.with_carry(carry), old_tiers.repeats, consumed)
        due = max(entered, reached(new_sizes, new_tiers.repeats, kept))
        usage_class, location = _first_include(self.catalog, old.bucket)
        before = self._bucket_lines(old, old_tiers, carry, consumed, entered, usage_class, location, when, when)
        after = self._bucket_lines(new, new_tiers, carry, kept, due, usage_class, location, when, when)
        lines = _difference(after, before)
        if consumed > kept:
            match = self._find_rate(
                context, self.catalog.usage_classes[usage_class], location, when, when, old.overage_rate_plan, None
            )
            amount = charge(
                match.rate, self.catalog.bucket_unit_type(old.bucket), consumed - kept, match.choice.plan.precision
            )
            invoicer = self.subscriptions.usage_invoicer(account)
            lines.append(_rate_plan_line(match, consumed - kept, amount, invoicer.id))
        adjustment = RatedAdjustment(
            adjustment_id=f"{operation_id}:{old.id}",
            reason="cancel_proration",
            account=account.id,
            account_service=target.account_service,
            bucket_instance=old.id,
            period_start=period.start.isoformat(),
            period_end=_day(period.end),
            tiers_before=target.old_tiers.with_carry(carry),
            tiers_after=new_sizes,
            consumed=consumed,
            kept=kept,
            charges=tuple(lines),
            currency=account.currency,
        )
        operation = record_key(self.resolver.index.root(account.id), f"settle:{operation_id}:{old.id}")
        return Settlement(operation, target.key, f"c:{period.index}", consumed, kept, adjustment, (entered_field, due))

    def _bucket_lines(
        self,
        instance: Instance,
        tiers: Tiers,
        carry: int,
        consumed: int,
        entered: int,
        usage_class: str,
        location: str | None,
        when: dt.datetime,
        local: dt.datetime,
    ) -> list[ChargeLine]:
        """Tier-rate lines of a period's consumption (0, consumed] under ``tiers``, and the flat charges of
        its first ``entered`` tier occurrences (R17: those the period entered, rater.tiers)."""
        period = Period(0, dt.date.min, dt.date.max, dt.date.min)
        candidate = Candidate(
            instance, period, tiers, Counter(key="", period=0), self.catalog.bucket_unit_type(instance.bucket)
        )
        priced = _Priced("", instance.holder, when)
        draw = Draw(0, consumed, carry, entered=0)
        self._price_bucket(priced, candidate, draw, usage_class, location, when, local, due=entered)
        return priced.lines

    def due_activations(self, moment: dt.datetime) -> list[DueActivation]:
        """Packages whose billing activation by time (R50b) is due at ``moment`` (pure: the caller marks
        each in the store, and only a first mark raises a notification)."""
        due_list: list[DueActivation] = []
        for package_id, entries in self.resolver.index.activation_index.items():
            for instance, package in entries:
                account = self.subscriptions.accounts[instance.holder]
                day = moment.astimezone(self.subscriptions.zone(account.id)).date()
                bucket = instance.bucket
                assert isinstance(bucket, UsageBucket)
                assert bucket.billing_activation is not None
                due = add_duration(package.effective, bucket.billing_activation.time_expiry)
                if day >= due:
                    key = activation_key(self.resolver.index.root(account.id), package_id)
                    due_list.append(
                        DueActivation(key, package_id, account.id, due, self.resolver.index.root(account.id))
                    )
        return due_list


@dataclass
class _Priced:
    """What pricing one record accumulates."""

    record_id: str
    account: str
    when: dt.datetime
    lines: list[ChargeLine] = field(default_factory=list)
    draws: list[BucketDraw] = field(default_factory=list)
    crossings: list[TierCrossing] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


@dataclass
class _CrossingFactory:
    priced: _Priced
    candidate: Candidate
    draw: Draw
    when: dt.datetime

    def add(self, kind: str, tier: int, repeat: int, at: int) -> None:
        instance = self.candidate.instance
        self.priced.crossings.append(
            TierCrossing(
                record_id=self.priced.record_id,
                account=instance.holder,
                bucket_instance=instance.id,
                bucket=instance.bucket.id,
                share_plan=instance.share_plan_id,
                period_start=self.candidate.period.start.isoformat(),
                period_end=_day(self.candidate.period.end),
                tier=tier,
                repeat=repeat,
                kind=kind,
                at=at,
                consumed=self.draw.after,
                event_time=utc_text(self.when),
            )
        )


def _day(day: dt.date) -> str:
    return "" if day == dt.date.max else day.isoformat()


def _bucket_draw(candidate: Candidate, draw: Draw, tiers: tuple[TierPart, ...] = ()) -> BucketDraw:
    instance = candidate.instance
    return BucketDraw(
        bucket_instance=instance.id,
        bucket=instance.bucket.id,
        level=candidate.level,
        holder=instance.holder,
        share_plan=instance.share_plan_id,
        participant=candidate.participant,
        period_start=candidate.period.start.isoformat(),
        period_end=_day(candidate.period.end),
        quantity=draw.taken,
        before=draw.before,
        after=draw.after,
        allowance=draw.allowance,
        carry=draw.carry,
        money=instance.bucket.money,
        tiers=tiers,
    )


def _rate_plan_line(match: RateMatch, quantity: int, amount: Decimal, billed_to: str) -> ChargeLine:
    return ChargeLine(
        type="rate_plan",
        quantity=quantity,
        amount=amount,
        billed_to=billed_to,
        rate_plan=match.choice.plan.id,
        rate_plan_level=match.choice.level,
        rate_plan_attached_to=match.choice.attached_to,
        rate_group=match.group.id,
        rate=match.rate_id,
        rate_amount=match.rate.amount,
        rate_per=match.rate.per,
        rounding_rule=match.rounding.id if match.rounding else None,
    )


def activation_notification(
    account_package: str,
    account: str,
    record_id: str | None,
    activated_on: dt.date,
    reason: str,
    usage: int | None = None,
) -> Notification:
    """R50-R51: a package became billable on ``activated_on``, by ``usage`` or by ``time``; once per package."""
    details: tuple[tuple[str, object], ...] = (
        ("account_package", account_package),
        ("activated_on", activated_on.isoformat()),
        ("reason", reason),
    )
    if usage is not None:
        details += (("usage", usage),)
    return Notification(f"activation:{account_package}", "billing_activation", account, record_id, details)


def _activation_notice(record_id: str, account: str, activation: Activation, day: dt.date, draw: Draw) -> Notification:
    """Activated on the record's day by usage, or on added + time expiry when that came first (R50b)."""
    by_time = day >= activation.due
    activated_on = activation.due if by_time else day
    reason = "time" if by_time else "usage"
    return activation_notification(activation.account_package.id, account, record_id, activated_on, reason, draw.after)


def _first_include(catalog: Catalog, bucket: BucketDefinition) -> tuple[str, str | None]:
    """The class and location of a bucket's first include detail (prices usage moved by an adjustment)."""
    for base_id in bucket.base_buckets:
        for detail in catalog.base_buckets[base_id].details:
            if not detail.exclude:
                return detail.class_, detail.location
    raise RatingError(ExceptionType.RATE_NOT_FOUND, f"bucket {bucket.id!r} has no include detail")


def _difference(after: list[ChargeLine], before: list[ChargeLine]) -> list[ChargeLine]:
    """Lines of ``after`` minus lines of ``before``, matched by (type, tier, repeat); zero differences dropped."""

    def key(line: ChargeLine) -> tuple[str, int | None, int | None]:
        return line.type, line.tier, line.repeat

    old = {key(line): line for line in before}
    out: list[ChargeLine] = []
    for line in after:
        previous = old.pop(key(line), None)
        if previous is None:
            out.append(line)
        elif line.amount != previous.amount or line.quantity != previous.quantity:
            out.append(replace(line, quantity=line.quantity - previous.quantity, amount=line.amount - previous.amount))
    out.extend(replace(line, quantity=-line.quantity, amount=-line.amount) for line in old.values())
    return out
