"""Which allowances a record may draw from, in which order, with how much (R5-R13, R35-R44, R54-R64).

The consumption order, written once (R11-R13):

1. ``account_service``: buckets of the account-service that owns the UID: the catalog service's usage
   buckets and the instances attached on the account-service, when the threshold is per account service.
2. ``account``: account-level buckets: instances attached to the account, and the one shared allotment of
   a bucket whose threshold is *not* per account service, drawn by the account-services that carry it (Q5).
3. ``parent``: the parent account's account-level buckets (Q5).
4. ``share_plan``: buckets of the account share plans in scope (share level account or usage invoicer,
   R57), in tie-break order (R12); a participant draws only while under its participation limit (R61).

Within one level: recur type in ``settings.same_level_bucket_order`` (recurring, rollover, nonrecurring),
then earliest expiry, then attachment order (R13).  Money buckets are drawn after every unit allowance: they
pay for what no included usage covers (R46, [INT]).  Billing-activation buckets are triggers, not allowances
(Q11): they become ``observe`` counters.

A record is eligible for a bucket by its class and location (R5-R8, exclude beats include) while the bucket
instance is active on the record's local day (R10): effective inclusive, cancel exclusive, not expired.
Everything here is computed from the catalog, the subscriptions and the record's day; nothing reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from rater.catalog import Catalog
from rater.catalog.model import (
    BucketDefinition,
    ParticipatingType,
    RecurType,
    ShareLevel,
    SharePlan,
    SharePlanBucket,
    SharePlanBucketType,
    UsageBucket,
)
from rater.keys import activation_key, bucket_key
from rater.lru import LRU
from rater.periods import DayWindow, Period, add_duration, period_at, period_by_index, prorate
from rater.state import UNLIMITED, Counter
from rater.subscriptions import (
    Account,
    AccountPackage,
    AccountService,
    AccountSharePlan,
    BucketInstance,
    ServiceContext,
    Subscriptions,
)
from rater.units import Duration, UnitType, parse_duration

LEVELS = ("account_service", "account", "parent", "share_plan")
#: Memoised pure results (tiers, periods) are dropped past this many entries, so a long-running worker's
#: memory stays bounded whatever the spread of days it sees.
CACHE_LIMIT = 200_000
FAR = dt.date.max


@dataclass(frozen=True, slots=True)
class Tiers:
    """A bucket's tiers in base units for one period (before rollover carry)."""

    sizes: tuple[int, ...]
    flat_charges: tuple[Decimal, ...]
    rate_plans: tuple[str | None, ...]
    repeats: bool

    def with_carry(self, carry: int) -> tuple[int, ...]:
        """R36: the carry joins tier 1."""
        if not carry:
            return self.sizes
        return (self.sizes[0] + carry, *self.sizes[1:])


@dataclass(frozen=True, slots=True)
class Instance:
    """A bucket attached somewhere (§1.11, §1.13), with the overrides applied."""

    id: str
    level: str
    bucket: BucketDefinition
    holder: str
    effective: dt.date
    cancel: dt.date | None
    order: int
    recur_type: RecurType
    frequency: Duration | None
    expire_after: Duration | None
    overage_rate_plan: str | None
    bill_day: int
    carriers: frozenset[str] | None = None
    """Account-services that may draw a shared allotment (Q5); ``None``: any on the holder account."""
    share_plan: SharePlan | None = None
    account_share_plan: AccountSharePlan | None = None

    @property
    def share_plan_id(self) -> str | None:
        """The share plan of a share-plan bucket instance, as draws, crossings and balances name it."""
        return self.share_plan.id if self.share_plan is not None else None

    def expiry(self, catalog: Catalog) -> dt.date:
        """The first day the instance no longer exists (R37, R38, cancel); ``FAR`` when open."""
        ends = [self.cancel] if self.cancel else []
        if self.recur_type is RecurType.NONRECURRING and self.expire_after is not None:
            ends.append(add_duration(self.effective, self.expire_after))
        limit = self.bucket.expire_after_recurrence
        if self.recur_type is not RecurType.NONRECURRING and limit is not None and self.frequency is not None:
            periods = limit + 1 if catalog.settings.expire_after_recurrence == "refills" else limit
            ends.append(_nth_period_start(self, periods))
        return min(ends) if ends else FAR

    def period(self, catalog: Catalog, day: dt.date) -> Period | None:
        """The allotment period containing ``day``; ``None`` when the instance is not active (R10)."""
        if day < self.effective or day >= self.expiry(catalog):
            return None
        if self.recur_type is RecurType.NONRECURRING or self.frequency is None:
            return Period(0, self.effective, self.expiry(catalog), self.effective)
        return period_at(self.effective, self.frequency, self.bill_day, day)


def _ends(sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Cumulative ends E(1)..E(k-1) of the tiers before the last (the counter's ``tier_ends``)."""
    ends: list[int] = []
    end = 0
    for size in sizes[:-1]:
        end += size
        ends.append(end)
    return tuple(ends)


def _nth_period_start(instance: Instance, index: int) -> dt.date:
    assert instance.frequency is not None
    return period_by_index(instance.effective, instance.frequency, instance.bill_day, index).start


@dataclass(frozen=True, slots=True)
class Candidate:
    """One allowance for one record: the instance, its period, its tiers and the store counter."""

    instance: Instance
    period: Period
    tiers: Tiers
    counter: Counter
    unit_type: UnitType
    participant: str | None = None
    level: str = ""
    """The consumption level as seen from the drawing account (R11): a parent's account bucket is
    ``parent`` to its children."""


@dataclass(frozen=True, slots=True)
class Activation:
    """A billing-activation trigger the record counts toward (R49-R52)."""

    instance: Instance
    account_package: AccountPackage
    threshold: int
    due: dt.date
    """The package's added day + time expiry: activation by time (R50b)."""
    counter: Counter


class ActivationState(Protocol):
    """What rating knows of the billing-activation marks (R50-R53): :class:`rater.batch.ActivationMarks`."""

    def activated(self, root: str, account_package: str) -> bool:
        """Has usage (or time) activated ``account_package`` of sharing root ``root`` (its mark is set)?"""
        ...

    def epoch(self, root: str) -> int:
        """A number that changes whenever the activation state of ``root`` does."""
        ...


class NoActivations:
    """The activation state before any mark is set."""

    def activated(self, root: str, account_package: str) -> bool:
        return False

    def epoch(self, root: str) -> int:
        return 0


#: Pool sizes kept per (share-plan bucket instance, period, activation epoch): one per window of days.
POOL_WINDOWS = 8


@dataclass
class Resolution:
    """Everything a record may draw from, in order, and the days it holds for."""

    units: list[Candidate] = field(default_factory=list)
    money: list[Candidate] = field(default_factory=list)
    activations: list[Activation] = field(default_factory=list)
    days: tuple[dt.date, dt.date] = (dt.date.min, FAR)
    """``[first, end)``: the local days on which the same resolution holds (:class:`rater.periods.DayWindow`)."""


class Resolver:
    """Indexes bucket instances once per (catalog, subscriptions) and resolves records against them."""

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self._eligible: dict[tuple[int, str, str | None], bool] = {}
        self._tiers: dict[tuple[int, tuple[int, int] | None, tuple[int, ...] | None], Tiers] = {}
        self._periods: dict[tuple[str, dt.date], tuple[Period | None, dt.date, dt.date]] = {}
        self._service_level: dict[str, list[Instance]] = defaultdict(list)
        self._account_level: dict[str, list[Instance]] = defaultdict(list)
        self._share_level: dict[str, list[Instance]] = defaultdict(list)
        self._activation: dict[str, list[tuple[Instance, AccountPackage]]] = defaultdict(list)
        self._roots = sharing_roots(subscriptions.accounts)
        self._pools: LRU[tuple[str, int, int], list[tuple[dt.date, dt.date, tuple[Tiers, Tiers]]]] = LRU(CACHE_LIMIT)
        self._build()

    # -- index ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        catalog = self.catalog
        order = 0
        for account in self.subscriptions.accounts.values():
            bill_day = self.subscriptions.usage_bill_day(account)
            shared: dict[str, list[tuple[AccountService, dt.date, dt.date | None, BucketInstance | None]]] = (
                defaultdict(list)
            )
            for package in account.packages:
                for service in package.services:
                    context = self.subscriptions.services[service.id]
                    explicit = {instance.usage_bucket: instance for instance in service.buckets}
                    attached = list(catalog.services[service.service].usage_buckets)
                    attached += [name for name in explicit if name not in attached]
                    for bucket_id in attached:
                        order += 1
                        bucket = catalog.usage_buckets[bucket_id]
                        override = explicit.get(bucket_id)
                        per_service = bucket.threshold_per_account_service
                        if override is not None and override.threshold_per_account_service is not None:
                            per_service = override.threshold_per_account_service
                        effective = (override.effective if override else None) or context.effective
                        cancel = (override.cancel if override else None) or context.cancel
                        activation = bucket.billing_activation is not None
                        if not activation and not per_service:
                            shared[bucket_id].append((service, effective, cancel, override))
                            continue
                        instance = self._instance(
                            (override.id if override and override.id else f"{service.id}/{bucket_id}"),
                            "activation" if activation else "account_service",
                            bucket,
                            account,
                            effective,
                            cancel,
                            order,
                            bill_day,
                            override,
                        )
                        if activation:
                            self._activation[package.id].append((instance, package))
                        else:
                            self._service_level[service.id].append(instance)
            for instance_spec in account.buckets:
                order += 1
                bucket = catalog.usage_buckets[instance_spec.usage_bucket]
                effective = instance_spec.effective or _account_start(account)
                self._account_level[account.id].append(
                    self._instance(
                        instance_spec.id or f"{account.id}/{bucket.id}",
                        "account",
                        bucket,
                        account,
                        effective,
                        instance_spec.cancel,
                        order,
                        bill_day,
                        instance_spec,
                    )
                )
            for bucket_id, carriers in shared.items():
                # One allotment for every carrier (Q5); the first carrier's instance overrides apply (§1.11).
                order += 1
                starts = [start for _, start, _, _ in carriers]
                cancels = [end for _, _, end, _ in carriers]
                override = next((spec for *_, spec in carriers if spec is not None), None)
                instance = self._instance(
                    (override.id if override and override.id else f"{account.id}/{bucket_id}"),
                    "account",
                    catalog.usage_buckets[bucket_id],
                    account,
                    min(starts),
                    None if any(end is None for end in cancels) else max(e for e in cancels if e is not None),
                    order,
                    bill_day,
                    override,
                )
                carried_by = frozenset(service.id for service, *_ in carriers)
                self._account_level[account.id].append(replace(instance, carriers=carried_by))
            for share in sorted(account.share_plans, key=lambda s: s.tie_break):
                plan = catalog.share_plans[share.share_plan]
                for share_bucket in plan.buckets:
                    order += 1
                    self._share_level[account.id].append(
                        Instance(
                            id=f"{account.id}/{plan.id}/{share_bucket.id}",
                            level="share_plan",
                            bucket=share_bucket,
                            holder=account.id,
                            effective=share.effective,
                            cancel=share.cancel,
                            order=order,
                            recur_type=share_bucket.recur_type,
                            frequency=plan.usage_billing_frequency,
                            expire_after=share_bucket.expire_after,
                            overage_rate_plan=share_bucket.overage_rate_plan,
                            bill_day=bill_day,
                            share_plan=plan,
                            account_share_plan=share,
                        )
                    )

    def _instance(
        self,
        instance_id: str,
        level: str,
        bucket: UsageBucket,
        account: Account,
        effective: dt.date,
        cancel: dt.date | None,
        order: int,
        bill_day: int,
        override: BucketInstance | None = None,
    ) -> Instance:
        recur_type = bucket.recur_type
        frequency = bucket.recur_frequency
        expire_after = bucket.expire_after
        overage = bucket.overage_rate_plan
        if override is not None:
            recur_type = override.recur_type or recur_type
            if override.recur_frequency is not None:
                frequency = parse_duration(override.recur_frequency)
            if override.expire_after is not None:
                expire_after = parse_duration(override.expire_after)
            overage = override.overage_rate_plan or overage
        return Instance(
            id=instance_id,
            level=level,
            bucket=bucket,
            holder=account.id,
            effective=effective,
            cancel=cancel,
            order=order,
            recur_type=recur_type,
            frequency=frequency,
            expire_after=expire_after,
            overage_rate_plan=overage,
            bill_day=bill_day,
        )

    @property
    def activation_index(self) -> Mapping[str, list[tuple[Instance, AccountPackage]]]:
        """Billing-activation instances by account-package id."""
        return self._activation

    def service_instances(self, account_service: str) -> list[Instance]:
        """The account-service's own bucket instances (level 1)."""
        return list(self._service_level.get(account_service, ()))

    def prorated(self, instance: Instance, period: Period) -> tuple[int, int] | None:
        """R40/R41 proration of ``instance`` in ``period`` (see :meth:`_prorated`)."""
        return self._prorated(instance, period)

    def root(self, account_id: str) -> str:
        """The sharing root (hash tag) of an account."""
        return self._roots[account_id]

    # -- eligibility ---------------------------------------------------------------------------------------

    def eligible(self, bucket: BucketDefinition, usage_class: str, location: str | None) -> bool:
        """R6: an include detail matches and no exclude detail matches, over all base buckets (R7, R48)."""
        key = (id(bucket), usage_class, location)  # bucket ids repeat across share plans; objects do not
        cached = self._eligible.get(key)
        if cached is not None:
            return cached
        geo = self.catalog.geo
        included = excluded = False
        for base_id in bucket.base_buckets:
            for detail in self.catalog.base_buckets[base_id].details:
                if detail.class_ != usage_class:
                    continue
                if not geo.matches(detail.location, detail.location_group, location):
                    continue
                if detail.exclude:
                    excluded = True
                else:
                    included = True
        result = included and not excluded
        self._eligible[key] = result
        return result

    # -- resolution ----------------------------------------------------------------------------------------

    def resolve(
        self,
        owner: ServiceContext,
        usage_class: str,
        location: str | None,
        day: dt.date,
        marks: ActivationState | None = None,
    ) -> Resolution:
        """All allowances of ``owner`` eligible for a record of ``usage_class`` at ``location`` on ``day``.

        ``marks`` tells whether a billing-activation package has been marked activated (state passed in;
        R53; by default none is).  Every question about ``day`` goes through one
        :class:`DayWindow`, so the resolution says on which days it holds (``days``).
        """
        when = DayWindow(day)
        state: ActivationState = NoActivations() if marks is None else marks
        result = Resolution()
        account = owner.account
        root = self._roots[account.id]
        levels: list[tuple[str, Iterable[Instance]]] = [
            ("account_service", self._service_level.get(owner.service.id, ())),
            ("account", self._account_level.get(account.id, ())),
        ]
        if account.parent is not None:
            levels.append(("parent", self._account_level.get(account.parent, ())))
        for level, instances in levels:
            # A shared allotment on the owner's account serves the account-services that carry it; the
            # parent's shared allotments serve its children (Q5).
            found = [
                replace(candidate, level=level)
                for instance in instances
                if level == "parent" or instance.carriers is None or owner.service.id in instance.carriers
                for candidate in [self._candidate(instance, root, usage_class, location, when)]
                if candidate is not None
            ]
            self._place(result, self._ordered(found))
        for candidate in self._share_candidates(owner, root, usage_class, location, when, state):
            (result.money if candidate.instance.bucket.money else result.units).append(candidate)
        for instance, package in self._activation.get(owner.package.id, ()):
            activation = self._activation_of(instance, package, root, usage_class, location, when)
            if activation is not None:
                result.activations.append(activation)
        result.days = (when.lo, when.hi)
        return result

    def _place(self, result: Resolution, candidates: list[Candidate]) -> None:
        for candidate in candidates:
            (result.money if candidate.instance.bucket.money else result.units).append(candidate)

    def _ordered(self, candidates: list[Candidate]) -> list[Candidate]:
        """R13: recur type order, then earliest expiry, then attachment order."""
        rank = {recur: index for index, recur in enumerate(self.catalog.settings.same_level_bucket_order)}
        return sorted(
            candidates,
            key=lambda c: (rank[c.instance.recur_type], c.instance.expiry(self.catalog), c.instance.order),
        )

    def _candidate(
        self, instance: Instance, root: str, usage_class: str, location: str | None, when: DayWindow
    ) -> Candidate | None:
        if not self.eligible(instance.bucket, usage_class, location):
            return None
        period = self._period(instance, when)
        if period is None:
            return None
        tiers = self.tiers(instance.bucket, self._prorated(instance, period))
        return self._with_counter(instance, period, tiers, root)

    def _with_counter(
        self,
        instance: Instance,
        period: Period,
        tiers: Tiers,
        root: str,
        participant: str | None = None,
        limit: int = 0,
        full: Tiers | None = None,
    ) -> Candidate:
        """The store counter of a candidate.  ``full`` is a whole period's tiers (no proration), which
        untouched periods roll forward with (R36); by default the bucket's configured tiers.  A unit bucket's
        counter keeps its tier entries (``tier_ends``, R17), so tiers whose boundaries move within a period
        (contributors, add-ons, R59, R60, R64) are entered once; a money bucket's keeps none (its draw is
        priced by value, R46)."""
        bucket = instance.bucket
        full = full if full is not None else self.tiers(bucket, None)
        carry_base = 0
        if self.catalog.settings.rollover_size == "last_tier" and full.sizes:
            carry_base = full.sizes[-1]  # Q3 alternative: S is the last tier's size
        counter = Counter(
            key=bucket_key(root, instance.id),
            period=period.index,
            allowance=sum(tiers.sizes),
            unbounded=tiers.repeats,
            rollover=instance.recur_type is RecurType.RECURRING_ROLLOVER,
            full_allowance=sum(full.sizes),
            limit_field=f"l:{period.index}:{participant}" if participant is not None else None,
            limit=limit,
            carry_base=carry_base,
            tier_ends=None if bucket.money else _ends(tiers.sizes),
        )
        unit_type = self.catalog.bucket_unit_type(bucket)
        return Candidate(instance, period, tiers, counter, unit_type, participant, instance.level)

    def _period(self, instance: Instance, when: DayWindow) -> Period | None:
        """``instance.period(day)``, memoised (instances and the catalog are immutable); ``when`` learns the
        days that answer alike: the period's days while the instance exists, or the days before it starts
        or after it ends (R10)."""
        key = (instance.id, when.day)
        found = self._periods.get(key)
        if found is None:
            period = instance.period(self.catalog, when.day)
            expiry = instance.expiry(self.catalog)
            if period is not None:
                found = (period, period.start, min(period.end, expiry))
            elif when.day < instance.effective:
                found = (None, dt.date.min, instance.effective)
            else:
                found = (None, expiry, FAR)
            if len(self._periods) > CACHE_LIMIT:
                self._periods.clear()
            self._periods[key] = found
        period, first, end = found
        when.inside(first, end)
        return period

    def _prorated(self, instance: Instance, period: Period) -> tuple[int, int] | None:
        """R40/R41: (active days, period days) when tier 1 is prorated in ``period``, else ``None``."""
        if not instance.bucket.prorate or instance.recur_type is RecurType.NONRECURRING:
            return None
        end = period.end
        if instance.cancel is not None and instance.cancel < end:
            end = instance.cancel
        active = (end - period.start).days
        full = period.full_days
        if active >= full:
            return None
        return active, full

    def tiers(
        self, bucket: BucketDefinition, proration: tuple[int, int] | None, *, sizes: tuple[int, ...] | None = None
    ) -> Tiers:
        """The bucket's tiers in base units (R15, R22, R23), tier 1 prorated when asked (R40).

        Pure in an immutable catalog, so memoised: parsing tier thresholds per record was the core's
        largest cost."""
        key = (id(bucket), proration, sizes)
        cached = self._tiers.get(key)
        if cached is None:
            cached = self._tiers_uncached(bucket, proration, sizes)
            if len(self._tiers) > CACHE_LIMIT:
                self._tiers.clear()
            self._tiers[key] = cached
        return cached

    def _tiers_uncached(
        self, bucket: BucketDefinition, proration: tuple[int, int] | None, sizes: tuple[int, ...] | None
    ) -> Tiers:
        if sizes is None:
            sizes = self.catalog.quantities.of(bucket).sizes
        if proration is not None and sizes:
            sizes = (prorate(sizes[0], *proration), *sizes[1:])
        repeats = bucket.last_tier_repeats or bucket.tiers[-1].repeat
        return Tiers(
            sizes=sizes,
            flat_charges=tuple(tier.flat_charge for tier in bucket.tiers),
            rate_plans=tuple(tier.rate_plan for tier in bucket.tiers),
            repeats=repeats,
        )

    # -- share plans ---------------------------------------------------------------------------------------

    def _holders(self, account: Account) -> list[Account]:
        """Accounts whose share plans can serve ``account`` (R57): itself, and its usage invoicer."""
        holders = [account]
        invoicer = self.subscriptions.usage_invoicer(account)
        if invoicer.id != account.id:
            holders.append(invoicer)
        return holders

    def share_plans_serving(self, owner: ServiceContext) -> list[tuple[Instance, tuple[str, str]]]:
        """The share-plan bucket instances ``owner`` may draw from, in tie-break order, each with ``owner``'s
        (catalog participant id, participant instance id) in its plan: the plans of its own account and, at
        share level usage invoicer, of its usage invoicer (R57), tie break then attachment order (R12), where
        ``owner`` is a participant (R55) the bucket serves (R61).

        Class, location and day are not looked at: rating checks them per record, and balances show every
        instance serving the account-service.  One list for both, so a balance shows the order rating draws in.
        """
        account = owner.account
        found: list[tuple[Instance, tuple[str, str]]] = []
        for holder in self._holders(account):
            for instance in self._share_level.get(holder.id, ()):
                plan = instance.share_plan
                assert plan is not None
                if holder.id != account.id and plan.share_level is not ShareLevel.USAGE_INVOICER:
                    continue
                participant = self._participant_of(plan, owner)
                if participant is not None and self.serves(instance, participant[0]):
                    found.append((instance, participant))
        found.sort(key=lambda item: (_tie_break(item[0]), item[0].order))
        return found

    def _share_candidates(
        self,
        owner: ServiceContext,
        root: str,
        usage_class: str,
        location: str | None,
        when: DayWindow,
        marks: ActivationState,
    ) -> list[Candidate]:
        found: list[Candidate] = []
        for instance, (catalog_participant, participant) in self.share_plans_serving(owner):
            bucket = instance.bucket
            assert isinstance(bucket, SharePlanBucket)
            if not self.eligible(bucket, usage_class, location):
                continue
            period = self._period(instance, when)
            if period is None:
                continue
            tiers, full = self._pool(instance, bucket, period, when, marks)
            limit = self.participation_limit(instance, catalog_participant)
            limit = UNLIMITED if limit is None else limit
            candidate = self._with_counter(instance, period, tiers, root, participant, limit, full)
            gate = self._activation_gate(owner.package, root, when)
            if gate is not None:
                candidate = replace(candidate, counter=replace(candidate.counter, requires=gate))
            found.append(candidate)
        return found

    def _pool(
        self, instance: Instance, bucket: SharePlanBucket, period: Period, when: DayWindow, marks: ActivationState
    ) -> tuple[Tiers, Tiers]:
        """:meth:`_share_tiers` cached per (pool instance, period, activation epoch of its root) and window of
        days: every participant's record of the period reads the same pool size, computed once however many
        accounts contribute to it (R59).  The pool's accounts all share its root (:func:`sharing_roots`)."""
        key = (instance.id, period.index, marks.epoch(self._roots[instance.holder]))
        windows = self._pools.get(key)
        if windows is None:
            windows = self._pools.put(key, [])
        for first, end, sizes in windows:
            if first <= when.day < end:
                when.inside(first, end)
                return sizes
        inner = DayWindow(when.day)
        sizes = self._share_tiers(instance, bucket, period, inner, marks.activated)
        windows.append((inner.lo, inner.hi, sizes))
        if len(windows) > POOL_WINDOWS:
            del windows[0]
        when.inside(inner.lo, inner.hi)
        return sizes

    def _participant_of(self, plan: SharePlan, owner: ServiceContext) -> tuple[str, str] | None:
        """(catalog participant id, participant instance id) of ``owner`` in ``plan`` (R55), or ``None``."""
        if plan.participating_type is ParticipatingType.SERVICE:
            if owner.service.service in plan.participants:
                return owner.service.service, owner.service.id
            return None
        if owner.package.package in plan.participants:
            return owner.package.package, owner.package.id
        return None

    def _share_tiers(
        self,
        instance: Instance,
        bucket: SharePlanBucket,
        period: Period,
        when: DayWindow,
        activated: Callable[[str, str], bool],
    ) -> tuple[Tiers, Tiers]:
        """The pool's tiers in ``period``, prorated (R40, R41) and in full (the rollover base, R36), from one
        walk of the contributions.  R59: Fixed thresholds; Variable Single Tier = sum of contributions;
        Variable Multiple Tier = growth x contributors.  Add-on allotments join tier 1 (R64).  Contributions
        count from the day a contributor is effective and until the next reset after it leaves (R60, Q15);
        they are not prorated (R43); a billing-activation package contributes once ``activated`` (R53)."""
        plan = instance.share_plan
        assert plan is not None
        quantities = self.catalog.quantities.of(bucket)
        contributions = self._contributions(instance, plan, bucket, period, when, activated)
        if bucket.type is SharePlanBucketType.FIXED:
            sizes = tuple(size for size in quantities.thresholds if size is not None)
        elif bucket.type is SharePlanBucketType.VARIABLE_SINGLE_TIER:
            sizes = (sum(contributions),)
        else:
            count = len(contributions)
            sizes = tuple(0 if growth is None else growth * count for growth in quantities.growths)
        add_on = self._add_ons(instance, plan, bucket, period, when)
        if add_on and sizes:
            sizes = (sizes[0] + add_on, *sizes[1:])
        return self.tiers(bucket, self._prorated(instance, period), sizes=sizes), self.tiers(bucket, None, sizes=sizes)

    def _scope(self, instance: Instance, plan: SharePlan) -> list[Account]:
        """Accounts whose services take part (R57): the holder, and for Usage Invoicer level every account
        whose usage invoicer is the holder."""
        holder = self.subscriptions.accounts[instance.holder]
        if plan.share_level is ShareLevel.ACCOUNT:
            return [holder]
        return [
            account
            for account in self.subscriptions.accounts.values()
            if self.subscriptions.usage_invoicer(account).id == holder.id
        ]

    def _contributions(
        self,
        instance: Instance,
        plan: SharePlan,
        bucket: SharePlanBucket,
        period: Period,
        when: DayWindow,
        activated: Callable[[str, str], bool],
    ) -> list[int]:
        entries = self.catalog.quantities.of(bucket).contributions
        if not entries:
            return []
        amounts: list[int] = []
        for account in self._scope(instance, plan):
            for package in account.packages:
                targets: list[tuple[str, dt.date, dt.date | None]] = []
                if plan.participating_type is ParticipatingType.PACKAGE:
                    targets.append((package.package, package.effective, package.cancel))
                else:
                    for service in package.services:
                        context = self.subscriptions.services[service.id]
                        targets.append((service.service, context.effective, context.cancel))
                waiting = self._activation_gate(package, self._roots[account.id], when) is not None
                if waiting and not activated(self._roots[account.id], package.id):
                    continue  # R53: a billing-activation package contributes once activated
                for catalog_id, start, cancel in targets:
                    amount = entries.get(catalog_id)
                    if amount is None or when.before(start) or (cancel is not None and cancel <= period.start):
                        continue
                    if amount > 0:
                        amounts.append(amount)
        return amounts

    def _add_ons(
        self, instance: Instance, plan: SharePlan, bucket: SharePlanBucket, period: Period, when: DayWindow
    ) -> int:
        total = 0
        quantities = self.catalog.quantities
        for account in self._scope(instance, plan):
            for package in account.packages:
                amount = quantities.add_on(package.package, plan.id, bucket.id)
                if not amount:
                    continue
                if when.before(package.effective) or (package.cancel is not None and package.cancel <= period.start):
                    continue
                total += amount
        return total

    def _activation_gate(self, package: AccountPackage, root: str, when: DayWindow) -> tuple[str, str] | None:
        """R53: a package holding a billing activation service takes part in share plans only once activated.
        ``None`` when it has no activation bucket or its time expiry has passed (activated by time, R50b);
        otherwise the (key, field) the draw must find set: the mark a usage activation leaves."""
        entries = self._activation.get(package.id)
        if not entries:
            return None
        dues = []
        for instance, _ in entries:
            bucket = instance.bucket
            assert isinstance(bucket, UsageBucket)
            assert bucket.billing_activation is not None
            dues.append(add_duration(package.effective, bucket.billing_activation.time_expiry))
        if not when.before(min(dues)):
            return None
        return activation_key(root, package.id), "activated"

    # -- billing activation --------------------------------------------------------------------------------

    def _activation_of(
        self,
        instance: Instance,
        package: AccountPackage,
        root: str,
        usage_class: str,
        location: str | None,
        when: DayWindow,
    ) -> Activation | None:
        bucket = instance.bucket
        assert isinstance(bucket, UsageBucket)
        activation = bucket.billing_activation
        assert activation is not None
        if not self.eligible(bucket, usage_class, location) or when.before(package.effective):
            return None
        threshold = self.catalog.quantities.of(bucket).activation_threshold
        assert threshold is not None
        due = add_duration(package.effective, activation.time_expiry)
        # The activation counter goes after the allowances (rater.engine); it activates the package by usage
        # at its threshold (R50a, at least 1) or at once when the time expiry has passed (R50b).
        counter = Counter(
            key=activation_key(root, package.id),
            period=0,
            observe=True,
            threshold=max(threshold, 1),
            activate_now=not when.before(due),
        )
        return Activation(instance, package, threshold, due, counter)

    # -- the read side: balances (rater/balances.py) -------------------------------------------------------

    def account_instances(self, account_id: str) -> list[Instance]:
        """The account's account-level instances (level 2): attached ones and shared allotments (Q5)."""
        return list(self._account_level.get(account_id, ()))

    def share_instances(self, account_id: str) -> list[Instance]:
        """The share-plan bucket instances held by the account, in tie-break order (R12)."""
        return list(self._share_level.get(account_id, ()))

    def share_scope(self, instance: Instance) -> list[Account]:
        """Accounts whose services take part in a share-plan instance's plan (R57)."""
        assert instance.share_plan is not None
        return self._scope(instance, instance.share_plan)

    def allotment(
        self,
        instance: Instance,
        period: Period,
        day: dt.date,
        activated: Callable[[str, str], bool] = lambda root, package: False,
    ) -> tuple[Tiers, Counter]:
        """The tiers of ``instance`` in ``period`` seen on ``day`` and its store counter (no participant),
        exactly as :meth:`resolve` builds them for a record of that day: proration (R40, R41), share-plan
        pool sizes (R59, R60, R64), rollover options (R36).  ``activated`` is the billing-activation state
        contributions depend on (R53)."""
        root = self._roots[instance.holder]
        bucket = instance.bucket
        if isinstance(bucket, SharePlanBucket):
            tiers, full = self._share_tiers(instance, bucket, period, DayWindow(day), activated)
            return tiers, self._with_counter(instance, period, tiers, root, full=full).counter
        tiers = self.tiers(bucket, self._prorated(instance, period))
        return tiers, self._with_counter(instance, period, tiers, root).counter

    def allotment_key(self, instance: Instance) -> str:
        """The store key of an instance's counters (:func:`rater.keys.bucket_key` under its root's tag)."""
        return bucket_key(self._roots[instance.holder], instance.id)

    def participation_limit(self, instance: Instance, participant: str) -> int | None:
        """A catalog participant's participation limit on a share-plan bucket in base units (R61);
        ``None`` when it has none (the store still counts its use, under :data:`UNLIMITED`).  A participant listed
        twice takes its last entry, for rating and balances alike."""
        bucket = instance.bucket
        assert isinstance(bucket, SharePlanBucket)
        return self.catalog.quantities.of(bucket).limits.get(participant)

    def serves(self, instance: Instance, participant: str) -> bool:
        """True when a share-plan bucket serves this catalog participant: it lists none, or lists it (R61)."""
        bucket = instance.bucket
        assert isinstance(bucket, SharePlanBucket)
        entries = {entry.participant for entry in bucket.participants}
        return not entries or participant in entries


def _tie_break(instance: Instance) -> int:
    share = instance.account_share_plan
    assert share is not None
    return share.tie_break


def _account_start(account: Account) -> dt.date:
    starts = [package.effective for package in account.packages]
    return min(starts) if starts else dt.date(1970, 1, 1)


def sharing_roots(accounts: Mapping[str, Account]) -> dict[str, str]:
    """The sharing root of every account: accounts linked by parent or usage invoicer form one scope, and
    every store key one record touches carries its root's hash tag (architecture property 5).  The root is
    the scope's smallest account id, so it is stable whatever order accounts are loaded in."""
    parent: dict[str, str] = {account_id: account_id for account_id in accounts}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for account in accounts.values():
        for other in (account.parent, account.usage_invoicer):
            if other is not None and other in parent:
                union(account.id, other)
    return {account_id: find(account_id) for account_id in accounts}
