"""Share-plan pools: which share-plan buckets serve a participant, and how big each pool is (R54-R64).

A share plan's buckets are drawn last (R11, R58), in the holding account's tie-break order, then attachment
order (R12).  They serve the participants of the plan's participating type, service or package (R55), on the
holding account and, at share level usage invoicer, on every account whose usage invoicer holds the plan
(R57); a bucket that lists participants serves only those, each up to its participation limit per period
(R61).  A package under billing activation neither participates nor contributes until activated (R53).

A pool's size (R59): Fixed is the configured tiers; Variable Single Tier is one tier, the sum of the
contributions; Variable Multiple Tier grows each tier by its growth times the number of contributors.
Contributions count from the day a contributor is effective until the next reset after it leaves (R60, Q15)
and are not prorated (R43); add-on allotments join tier 1 (R64).  Every participant of a period reads one
pool size, computed once per window of days (:class:`rater.periods.DayWindow`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from rater.activation import ActivationState, activation_gate
from rater.allotments import Allotments, Candidate, Tiers
from rater.catalog import Catalog
from rater.catalog.model import ParticipatingType, ShareLevel, SharePlan, SharePlanBucket, SharePlanBucketType
from rater.eligibility import Eligibility
from rater.instances import CACHE_LIMIT, Instance, InstanceIndex
from rater.lru import LRU
from rater.periods import DayWindow, Period
from rater.state import UNLIMITED
from rater.subscriptions import Account, ServiceContext, Subscriptions

#: Pool sizes kept per (share-plan bucket instance, period, activation epoch): one per window of days.
POOL_WINDOWS = 8


class Pools:
    """The share-plan buckets of one configuration: who they serve and how much they hold."""

    def __init__(
        self,
        catalog: Catalog,
        subscriptions: Subscriptions,
        index: InstanceIndex,
        allotments: Allotments,
        eligibility: Eligibility,
    ) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.index = index
        self.allotments = allotments
        self.eligibility = eligibility
        self._pools: LRU[tuple[str, int, int], list[tuple[dt.date, dt.date, tuple[Tiers, Tiers]]]] = LRU(CACHE_LIMIT)

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
            for instance in self.index.share_instances(holder.id):
                plan = instance.share_plan
                assert plan is not None
                if holder.id != account.id and plan.share_level is not ShareLevel.USAGE_INVOICER:
                    continue
                participant = self._participant_of(plan, owner)
                if participant is not None and self.serves(instance, participant[0]):
                    found.append((instance, participant))
        found.sort(key=lambda item: (_tie_break(item[0]), item[0].order))
        return found

    def candidates(
        self,
        owner: ServiceContext,
        root: str,
        usage_class: str,
        location: str | None,
        when: DayWindow,
        marks: ActivationState,
    ) -> list[Candidate]:
        """The share-plan allowances a record of ``owner`` may draw from, in order (R11, R12): eligible (R6),
        active on the record's day (R10), with the pool's tiers (R59), the participant's limit (R61) and, for a
        package not yet activated, the activation mark the draw must find set (R53)."""
        found: list[Candidate] = []
        for instance, (catalog_participant, participant) in self.share_plans_serving(owner):
            bucket = instance.bucket
            assert isinstance(bucket, SharePlanBucket)
            if not self.eligibility.eligible(bucket, usage_class, location):
                continue
            period = self.allotments.period(instance, when)
            if period is None:
                continue
            tiers, full = self._pool(instance, bucket, period, when, marks)
            limit = self.participation_limit(instance, catalog_participant)
            limit = UNLIMITED if limit is None else limit
            candidate = self.allotments.with_counter(instance, period, tiers, root, participant, limit, full)
            gate = activation_gate(self.index, owner.package, root, when)
            if gate is not None:
                candidate = replace(candidate, counter=replace(candidate.counter, requires=gate))
            found.append(candidate)
        return found

    def _pool(
        self, instance: Instance, bucket: SharePlanBucket, period: Period, when: DayWindow, marks: ActivationState
    ) -> tuple[Tiers, Tiers]:
        """:meth:`tiers` cached per (pool instance, period, activation epoch of its root) and window of days:
        every participant's record of the period reads the same pool size, computed once however many
        accounts contribute to it (R59).  The pool's accounts all share its root
        (:func:`rater.instances.sharing_roots`)."""
        key = (instance.id, period.index, marks.epoch(self.index.root(instance.holder)))
        windows = self._pools.get(key)
        if windows is None:
            windows = self._pools.put(key, [])
        for first, end, sizes in windows:
            if first <= when.day < end:
                when.inside(first, end)
                return sizes
        inner = DayWindow(when.day)
        sizes = self.tiers(instance, bucket, period, inner, marks.activated)
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

    def tiers(
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
        allotments = self.allotments
        return (
            allotments.tiers(bucket, allotments.prorated(instance, period), sizes=sizes),
            allotments.tiers(bucket, None, sizes=sizes),
        )

    def scope(self, instance: Instance) -> list[Account]:
        """Accounts whose services take part in a share-plan instance's plan (R57): the holder, and for Usage
        Invoicer level every account whose usage invoicer is the holder."""
        plan = instance.share_plan
        assert plan is not None
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
        for account in self.scope(instance):
            root = self.index.root(account.id)
            for package in account.packages:
                targets: list[tuple[str, dt.date, dt.date | None]] = []
                if plan.participating_type is ParticipatingType.PACKAGE:
                    targets.append((package.package, package.effective, package.cancel))
                else:
                    for service in package.services:
                        context = self.subscriptions.services[service.id]
                        targets.append((service.service, context.effective, context.cancel))
                waiting = activation_gate(self.index, package, root, when) is not None
                if waiting and not activated(root, package.id):
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
        for account in self.scope(instance):
            for package in account.packages:
                amount = quantities.add_on(package.package, plan.id, bucket.id)
                if not amount:
                    continue
                if when.before(package.effective) or (package.cancel is not None and package.cancel <= period.start):
                    continue
                total += amount
        return total

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
