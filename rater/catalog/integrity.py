"""Referential integrity: an entity in use cannot be deleted (seeds: Base Buckets, Usage Buckets and Share
Plans screens).

* a base bucket configured on a usage bucket or share plan bucket is in use;
* a usage bucket attached to a service (catalog) or to an account-service / account is in use;
* a share plan added to an account (or named by an add-on package) is in use;

and, by the same rule, rate plans, usage classes, rounding rules, time periods, services, packages and
GeoTree locations that other entities reference.  :func:`check_delete` refuses such a deletion with the
list of referrers; provisioning (:mod:`rater.provisioning`) calls it before applying a delete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from rater.catalog import Catalog
from rater.catalog.model import BucketDefinition, GeoNode
from rater.errors import RaterError
from rater.subscriptions import BucketInstance, Subscriptions

KINDS = (
    "base_bucket",
    "usage_bucket",
    "share_plan",
    "rate_plan",
    "usage_class",
    "rounding_rule",
    "time_period",
    "service",
    "package",
    "location",
    "location_group",
)


class EntityInUse(RaterError):
    """Refusal to delete an entity that others reference; ``referrers`` says which."""

    def __init__(self, kind: str, entity: str, referrers: list[str]) -> None:
        self.kind = kind
        self.entity = entity
        self.referrers = referrers
        super().__init__(f"{kind} {entity!r} is in use and cannot be deleted: referenced by {', '.join(referrers)}")


def references(catalog: Catalog, subscriptions: Subscriptions | None = None) -> dict[tuple[str, str], list[str]]:
    """Map (kind, id) -> the entities that reference it, as ``"kind 'id' field"`` strings."""
    refs: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(kind: str, target: str | None, referrer: str) -> None:
        if target is not None:
            refs[(kind, target)].append(referrer)

    def bucket_refs(bucket: BucketDefinition, owner: str) -> None:
        for base in bucket.base_buckets:
            add("base_bucket", base, f"{owner} base_buckets")
        add("rate_plan", bucket.overage_rate_plan, f"{owner} overage_rate_plan")
        for index, tier in enumerate(bucket.tiers):
            add("rate_plan", tier.rate_plan, f"{owner} tiers[{index}].rate_plan")

    for plan in catalog.rate_plans.values():
        for group in plan.rate_groups:
            add("time_period", group.time_period, f"rate_plan {plan.id!r} group {group.id!r}")
            for rate in group.rates:
                where = f"rate_plan {plan.id!r} group {group.id!r}"
                add("usage_class", rate.class_, where)
                add("rounding_rule", rate.rounding_rule, where)
                add("location", rate.location, where)
                add("location_group", rate.location_group, where)
    for base in catalog.base_buckets.values():
        for detail in base.details:
            add("usage_class", detail.class_, f"base_bucket {base.id!r}")
            add("location", detail.location, f"base_bucket {base.id!r}")
            add("location_group", detail.location_group, f"base_bucket {base.id!r}")
    for location_group in catalog.geotree.location_groups:
        for location in location_group.locations:
            add("location", location, f"location_group {location_group.id!r}")
    for usage_bucket in catalog.usage_buckets.values():
        bucket_refs(usage_bucket, f"usage_bucket {usage_bucket.id!r}")
    for share in catalog.share_plans.values():
        add("service", share.selling_service, f"share_plan {share.id!r} selling_service")
        for participant in share.participants:
            add(share.participating_type.value, participant, f"share_plan {share.id!r} participants")
        for bucket in share.buckets:
            bucket_refs(bucket, f"share_plan {share.id!r} bucket {bucket.id!r}")
    for service in catalog.services.values():
        for bucket_id in service.usage_buckets:
            add("usage_bucket", bucket_id, f"service {service.id!r}")
    for package in catalog.packages.values():
        for entry in package.services:
            add("service", entry.service, f"package {package.id!r}")
            add("rate_plan", entry.rate_plan, f"package {package.id!r} services")
        for frequency in package.frequencies:
            add("rate_plan", frequency.rate_plan, f"package {package.id!r} frequency {frequency.id!r}")
        if package.share_plan_add_on is not None:
            add("share_plan", package.share_plan_add_on.share_plan, f"package {package.id!r} share_plan_add_on")
    add("rate_plan", catalog.owner.rate_plan, f"owner {catalog.owner.id!r}")
    if subscriptions is not None:
        _subscription_refs(subscriptions, add)
    return dict(refs)


def _subscription_refs(subscriptions: Subscriptions, add: Callable[[str, str | None, str], None]) -> None:
    def instance(bucket: BucketInstance, owner: str) -> None:
        add("usage_bucket", bucket.usage_bucket, owner)
        add("rate_plan", bucket.overage_rate_plan, f"{owner} overage_rate_plan")

    for account in subscriptions.accounts.values():
        where = f"account {account.id!r}"
        add("rate_plan", account.rate_plan, where)
        for bucket in account.buckets:
            instance(bucket, where)
        for share in account.share_plans:
            add("share_plan", share.share_plan, where)
        for package in account.packages:
            add("package", package.package, f"account-package {package.id!r}")
            add("rate_plan", package.rate_plan, f"account-package {package.id!r}")
            for service in package.services:
                add("service", service.service, f"account-service {service.id!r}")
                add("rate_plan", service.rate_plan, f"account-service {service.id!r}")
                for bucket in service.buckets:
                    instance(bucket, f"account-service {service.id!r}")


def check_delete(catalog: Catalog, subscriptions: Subscriptions | None, kind: str, entity: str) -> None:
    """Raise :class:`EntityInUse` if ``entity`` of ``kind`` is referenced; return quietly if it may go.

    Raises ``KeyError`` for an unknown kind or an entity that does not exist.
    """
    if kind not in KINDS:
        raise KeyError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    if not _exists(catalog, kind, entity):
        raise KeyError(f"no {kind} {entity!r} in the catalog")
    referrers = references(catalog, subscriptions).get((kind, entity), [])
    if referrers:
        raise EntityInUse(kind, entity, sorted(set(referrers)))


def _exists(catalog: Catalog, kind: str, entity: str) -> bool:
    pools: dict[str, object] = {
        "base_bucket": catalog.base_buckets,
        "usage_bucket": catalog.usage_buckets,
        "share_plan": catalog.share_plans,
        "rate_plan": catalog.rate_plans,
        "usage_class": catalog.usage_classes,
        "rounding_rule": catalog.rounding_rules,
        "time_period": catalog.time_periods,
        "service": catalog.services,
        "package": catalog.packages,
        "location": _node_ids(catalog.geotree.nodes),
        "location_group": {group.id for group in catalog.geotree.location_groups},
    }
    return entity in pools[kind]  # type: ignore[operator]


def _node_ids(nodes: tuple[GeoNode, ...]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        found.add(node.id)
        found |= _node_ids(node.children)
    return found
