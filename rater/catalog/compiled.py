"""The catalog's quantities in integer base units, compiled once when the catalog is loaded.

The catalog writes thresholds, tier growths, contributions, participation limits, add-on allotments and
activation thresholds as text with units (``"2 GB"``, ``"0.5 MiB"``, R22, R23).  Rating reads them as whole
base units of the bucket's unit type (:func:`rater.units.parse_quantity`, binary units where the bucket says
so), and reads them only from here: no text is parsed while records are rated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rater.catalog.model import (
    BaseBucket,
    BucketDefinition,
    Package,
    SharePlan,
    SharePlanBucket,
    UsageBucket,
)
from rater.units import UnitType, parse_quantity


@dataclass(frozen=True, slots=True)
class BucketQuantities:
    """One bucket definition's quantities, in base units of ``unit_type``."""

    unit_type: UnitType
    thresholds: tuple[int | None, ...]
    """Each tier's threshold (its size, R15); ``None`` where the tier has none."""
    growths: tuple[int | None, ...]
    """Each tier's growth per contributor (Variable Multiple Tier, R59); ``None`` where it has none."""
    contributions: Mapping[str, int]
    """A share-plan bucket's contribution per catalog participant (R59); the last entry of a participant
    listed twice, and only participants with a contribution."""
    limits: Mapping[str, int | None]
    """A share-plan bucket's participation limit per catalog participant (R61); the last entry of a
    participant listed twice; ``None`` for an entry without a limit."""
    activation_threshold: int | None
    """A billing-activation bucket's usage threshold (R50a)."""

    @property
    def sizes(self) -> tuple[int, ...]:
        """The tier sizes of a usage bucket: a tier without a threshold has size 0."""
        return tuple(0 if size is None else size for size in self.thresholds)


class Quantities:
    """The compiled quantities of one catalog: per bucket definition (by identity: share-plan bucket ids
    repeat across plans), and the add-on allotments of each package per share-plan bucket (R64)."""

    def __init__(self, buckets: dict[int, BucketQuantities], add_ons: dict[tuple[str, str, str], int]) -> None:
        self._buckets = buckets
        self._add_ons = add_ons

    def of(self, bucket: BucketDefinition) -> BucketQuantities:
        return self._buckets[id(bucket)]

    def add_on(self, package: str, share_plan: str, bucket: str) -> int:
        """What catalog package ``package``, a "Share Plan Add-On" of ``share_plan``, adds to tier 1 of the
        plan's bucket ``bucket`` (R64); 0 when it adds nothing."""
        return self._add_ons.get((package, share_plan, bucket), 0)


def compile_quantities(
    base_buckets: Mapping[str, BaseBucket],
    usage_buckets: Iterable[UsageBucket],
    share_plans: Iterable[SharePlan],
    packages: Iterable[Package],
) -> Quantities:
    """Parse every quantity of a validated catalog once."""
    compiled: dict[int, BucketQuantities] = {}
    units: dict[tuple[str, str], UnitType] = {}  # (share plan, bucket id) -> unit type, for add-ons
    binary: dict[tuple[str, str], bool] = {}
    for bucket in usage_buckets:
        compiled[id(bucket)] = _compile(bucket, base_buckets)
    for plan in share_plans:
        for share_bucket in plan.buckets:
            compiled[id(share_bucket)] = _compile(share_bucket, base_buckets)
            units[(plan.id, share_bucket.id)] = compiled[id(share_bucket)].unit_type
            binary[(plan.id, share_bucket.id)] = share_bucket.binary_data_units
    add_ons: dict[tuple[str, str, str], int] = {}
    for package in packages:
        add_on = package.share_plan_add_on
        if add_on is None:
            continue
        for allotment in add_on.allotments:
            where = (add_on.share_plan, allotment.bucket)
            if where not in units:
                continue  # validation reports an add-on of an unknown bucket
            key = (package.id, add_on.share_plan, allotment.bucket)
            amount = parse_quantity(allotment.amount, units[where], binary=binary[where])
            add_ons[key] = add_ons.get(key, 0) + amount
    return Quantities(compiled, add_ons)


def _compile(bucket: BucketDefinition, base_buckets: Mapping[str, BaseBucket]) -> BucketQuantities:
    unit_type = base_buckets[bucket.base_buckets[0]].unit_type
    binary = bucket.binary_data_units

    def parse(text: object | None) -> int | None:
        return None if text is None else parse_quantity(text, unit_type, binary=binary)

    contributions: dict[str, int] = {}
    limits: dict[str, int | None] = {}
    if isinstance(bucket, SharePlanBucket):
        for entry in bucket.participants:
            limits[entry.participant] = parse(entry.participation_limit)
            if entry.contribution is not None:
                contributions[entry.participant] = parse_quantity(entry.contribution, unit_type, binary=binary)
    activation = bucket.billing_activation if isinstance(bucket, UsageBucket) else None
    return BucketQuantities(
        unit_type=unit_type,
        thresholds=tuple(parse(tier.threshold) for tier in bucket.tiers),
        growths=tuple(parse(tier.tier_growth) for tier in bucket.tiers),
        contributions=contributions,
        limits=limits,
        activation_threshold=parse(activation.usage_threshold) if activation is not None else None,
    )
