"""Bucket instances: every allowance attached somewhere, indexed once per (catalog, subscriptions).

An instance is a bucket attached at one place (§1.11, §1.13) with its overrides applied: on an account-service
(a catalog service's usage buckets and the account-service's own), on an account (attached there, or the one
shared allotment of a bucket whose threshold is not per account service, Q5), on a billing activation service
(R49), or as a bucket of an account share plan (R54-R57).  :class:`InstanceIndex` finds them by where they are
drawn from; it also holds every account's sharing root (:func:`sharing_roots`), the hash tag of every key one
record touches.

An instance exists from its effective day (inclusive) to its cancel day (exclusive) or its expiry (R10, R37,
R38); its allotment periods follow its recurrence (R35-R39, :mod:`rater.periods`).  Nothing here reads a
clock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rater.catalog import Catalog
from rater.catalog.model import BucketDefinition, RecurType, SharePlan, UsageBucket
from rater.keys import bucket_key
from rater.periods import Period, add_duration, period_at, period_by_index
from rater.subscriptions import (
    Account,
    AccountPackage,
    AccountService,
    AccountSharePlan,
    BucketInstance,
    Subscriptions,
)
from rater.units import Duration, parse_duration

#: Memoised pure results (tiers, periods, resolutions, pool sizes) are dropped past this many entries, so a
#: long-running worker's memory stays bounded whatever the spread of days it sees.
CACHE_LIMIT = 200_000
FAR = dt.date.max


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


def _nth_period_start(instance: Instance, index: int) -> dt.date:
    assert instance.frequency is not None
    return period_by_index(instance.effective, instance.frequency, instance.bill_day, index).start


class InstanceIndex:
    """The bucket instances of one (catalog, subscriptions), by where they are drawn from, built once."""

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self._service_level: dict[str, list[Instance]] = defaultdict(list)
        self._account_level: dict[str, list[Instance]] = defaultdict(list)
        self._share_level: dict[str, list[Instance]] = defaultdict(list)
        self._activation: dict[str, list[tuple[Instance, AccountPackage]]] = defaultdict(list)
        self._roots = sharing_roots(subscriptions.accounts)
        self._build()

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
        """Billing-activation instances by account-package id (R49)."""
        return self._activation

    def service_instances(self, account_service: str) -> Sequence[Instance]:
        """The account-service's own bucket instances (level 1)."""
        return self._service_level.get(account_service, ())

    def account_instances(self, account_id: str) -> Sequence[Instance]:
        """The account's account-level instances (level 2): attached ones and shared allotments (Q5)."""
        return self._account_level.get(account_id, ())

    def share_instances(self, account_id: str) -> Sequence[Instance]:
        """The share-plan bucket instances held by the account, in tie-break order (R12)."""
        return self._share_level.get(account_id, ())

    def root(self, account_id: str) -> str:
        """The sharing root (hash tag) of an account."""
        return self._roots[account_id]

    def allotment_key(self, instance: Instance) -> str:
        """The store key of an instance's counters (:func:`rater.keys.bucket_key` under its root's tag)."""
        return bucket_key(self._roots[instance.holder], instance.id)


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
