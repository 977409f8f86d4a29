"""Consumption order: which allowances a record may draw from, in which order (R5-R13).

The order, written once (R11-R13):

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
(Q11): they become ``observe`` counters (:mod:`rater.activation`).

A record is eligible for a bucket by its class and location (R5-R8, exclude beats include,
:mod:`rater.eligibility`) while the bucket instance is active on the record's local day (R10): effective
inclusive, cancel exclusive, not expired (:mod:`rater.allotments`).  Share-plan pools are
:mod:`rater.pools`.  Everything here is computed from the catalog, the subscriptions and the record's day;
nothing reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from rater.activation import Activation, ActivationState, NoActivations, activation_of
from rater.allotments import Allotments, Candidate, Tiers
from rater.catalog import Catalog
from rater.catalog.model import SharePlanBucket
from rater.eligibility import Eligibility
from rater.instances import FAR, Instance, InstanceIndex
from rater.periods import DayWindow, Period
from rater.pools import Pools
from rater.state import Counter
from rater.subscriptions import ServiceContext, Subscriptions


def same_level_order(catalog: Catalog) -> Callable[[Instance], tuple[int, dt.date, int]]:
    """R13: the sort key of instances at one consumption level: recur type in the order of
    ``settings.same_level_bucket_order``, then earliest expiry, then attachment order."""
    rank = {recur: index for index, recur in enumerate(catalog.settings.same_level_bucket_order)}
    return lambda instance: (rank[instance.recur_type], instance.expiry(catalog), instance.order)


@dataclass
class Resolution:
    """Everything a record may draw from, in order, and the days it holds for."""

    units: list[Candidate] = field(default_factory=list)
    money: list[Candidate] = field(default_factory=list)
    activations: list[Activation] = field(default_factory=list)
    days: tuple[dt.date, dt.date] = (dt.date.min, FAR)
    """``[first, end)``: the local days on which the same resolution holds (:class:`rater.periods.DayWindow`)."""


class Resolver:
    """The allowances of one (catalog, subscriptions): its instances indexed once (:mod:`rater.instances`),
    their allotments (:mod:`rater.allotments`), eligibility (:mod:`rater.eligibility`) and share-plan pools
    (:mod:`rater.pools`), each memoised; resolves records against them.  Rating and balances share one."""

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.index = InstanceIndex(catalog, subscriptions)
        self.allotments = Allotments(catalog)
        self.eligibility = Eligibility(catalog)
        self.pools = Pools(catalog, subscriptions, self.index, self.allotments, self.eligibility)

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
        index = self.index
        root = index.root(account.id)
        levels: list[tuple[str, Iterable[Instance]]] = [
            ("account_service", index.service_instances(owner.service.id)),
            ("account", index.account_instances(account.id)),
        ]
        if account.parent is not None:
            levels.append(("parent", index.account_instances(account.parent)))
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
        for candidate in self.pools.candidates(owner, root, usage_class, location, when, state):
            (result.money if candidate.instance.bucket.money else result.units).append(candidate)
        for instance, package in index.activation_index.get(owner.package.id, ()):
            activation = activation_of(
                self.catalog, self.eligibility, instance, package, root, usage_class, location, when
            )
            if activation is not None:
                result.activations.append(activation)
        result.days = (when.lo, when.hi)
        return result

    def _place(self, result: Resolution, candidates: list[Candidate]) -> None:
        for candidate in candidates:
            (result.money if candidate.instance.bucket.money else result.units).append(candidate)

    def _ordered(self, candidates: list[Candidate]) -> list[Candidate]:
        """R13: recur type order, then earliest expiry, then attachment order."""
        order = same_level_order(self.catalog)
        return sorted(candidates, key=lambda c: order(c.instance))

    def _candidate(
        self, instance: Instance, root: str, usage_class: str, location: str | None, when: DayWindow
    ) -> Candidate | None:
        if not self.eligibility.eligible(instance.bucket, usage_class, location):
            return None
        allotments = self.allotments
        period = allotments.period(instance, when)
        if period is None:
            return None
        tiers = allotments.tiers(instance.bucket, allotments.prorated(instance, period))
        return allotments.with_counter(instance, period, tiers, root)

    # -- the read side: balances (rater/balances.py) -------------------------------------------------------

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
        root = self.index.root(instance.holder)
        bucket = instance.bucket
        allotments = self.allotments
        if isinstance(bucket, SharePlanBucket):
            tiers, full = self.pools.tiers(instance, bucket, period, DayWindow(day), activated)
            return tiers, allotments.with_counter(instance, period, tiers, root, full=full).counter
        tiers = allotments.tiers(bucket, allotments.prorated(instance, period))
        return tiers, allotments.with_counter(instance, period, tiers, root).counter
