"""Cross-entity checks of base buckets, usage buckets and what usage buckets share with share plan buckets:

* R5/R48: base buckets on one bucket share a unit type; details name classes of that unit type (money base
  buckets may name any class, R8); a money bucket has money base buckets, and only it does.
* Tier thresholds and activation thresholds are quantities of the bucket's unit type (R22/R23); tier sizes
  are positive.
* R20: Prorate and Last Tier Repeats are not offered on nonrecurring buckets; Expire After only on
  nonrecurring, Recur Frequency and Expire After Recurrence only on recurring types.
* Q16: no billing activation on a money bucket; a usage bucket other than a billing activation one has a tier.
* R66: each notification percentage once; R23: binary data units only on data buckets.
"""

from __future__ import annotations

from rater.catalog.model import BaseBucket, BucketDefinition, RecurType, SharePlanBucket, UsageBucket
from rater.catalog.validate.base import CheckerBase
from rater.units import UnitType


class BucketChecks(CheckerBase):
    def check_base_bucket(self, base: BaseBucket) -> None:
        sec = "base_buckets"
        for index, detail in enumerate(base.details):
            at = f"details[{index}]"
            if not self.ref(sec, base.id, f"{at}.class", detail.class_, self.classes, "usage class"):
                continue
            cls = self.classes[detail.class_]
            if base.unit_type is not UnitType.MONEY and cls.unit_type != base.unit_type:
                self.err(
                    sec,
                    base.id,
                    f"{at}.class",
                    f"class {cls.id!r} is {cls.unit_type.value}, the base bucket is {base.unit_type.value} (R5)",
                )
            self.check_location(sec, base.id, at, cls, detail.location, detail.location_group, required=False)
        if base.start is not None and base.retired is not None and base.retired <= base.start:
            self.err(sec, base.id, "retired", "must be later than start")

    def bucket_unit_type(self, sec: str, entity: str, prefix: str, bucket: BucketDefinition) -> UnitType | None:
        types: set[UnitType] = set()
        for index, base_id in enumerate(bucket.base_buckets):
            if self.ref(sec, entity, f"{prefix}base_buckets[{index}]", base_id, self.base, "base bucket"):
                types.add(self.base[base_id].unit_type)
        if len(types) > 1:
            listed = ", ".join(sorted(t.value for t in types))
            self.err(
                sec, entity, f"{prefix}base_buckets", f"base buckets must share one unit type, found {listed} (R5/R48)"
            )
            return None
        if not types:
            return None
        unit_type = types.pop()
        if bucket.money and unit_type is not UnitType.MONEY:
            self.err(
                sec, entity, f"{prefix}money", f"a money bucket needs money base buckets, these are {unit_type.value}"
            )
            return None
        if not bucket.money and unit_type is UnitType.MONEY:
            self.err(sec, entity, f"{prefix}money", "money base buckets need 'money: true' on the bucket")
            return None
        return unit_type

    def check_bucket(self, sec: str, entity: str, prefix: str, bucket: BucketDefinition) -> None:
        """Checks common to usage buckets (``prefix=""``) and share plan buckets (``prefix="buckets[i]."``)."""
        unit_type = self.bucket_unit_type(sec, entity, prefix, bucket)
        nonrecurring = bucket.recur_type is RecurType.NONRECURRING
        if nonrecurring and bucket.prorate:
            self.err(sec, entity, f"{prefix}prorate", "not offered on nonrecurring buckets (R20)")
        if nonrecurring and bucket.last_tier_repeats:
            self.err(sec, entity, f"{prefix}last_tier_repeats", "not offered on nonrecurring buckets (R20)")
        if nonrecurring and bucket.expire_after_recurrence is not None:
            self.err(sec, entity, f"{prefix}expire_after_recurrence", "only for recurring buckets (R38)")
        if not nonrecurring and bucket.expire_after is not None:
            self.err(sec, entity, f"{prefix}expire_after", "only for nonrecurring buckets (R37)")
        if len(set(bucket.notify_at_percent)) != len(bucket.notify_at_percent):
            self.err(sec, entity, f"{prefix}notify_at_percent", "each percentage once (R66)")
        if bucket.binary_data_units and unit_type not in (UnitType.DATA, None):
            self.err(sec, entity, f"{prefix}binary_data_units", "only for data buckets (R23)")
        self.ref(sec, entity, f"{prefix}overage_rate_plan", bucket.overage_rate_plan, self.rate_plans, "rate plan")
        is_share = isinstance(bucket, SharePlanBucket)
        for index, tier in enumerate(bucket.tiers):
            at = f"{prefix}tiers[{index}]"
            self.ref(sec, entity, f"{at}.rate_plan", tier.rate_plan, self.rate_plans, "rate plan")
            if not is_share:
                if tier.tier_growth is not None:
                    self.err(sec, entity, f"{at}.tier_growth", "only on Variable Multiple Tier share plan buckets")
                if tier.repeat:
                    self.err(sec, entity, f"{at}.repeat", "usage buckets repeat with last_tier_repeats")
                if tier.threshold is None:
                    self.err(sec, entity, f"{at}.threshold", "required")
            for field_name in ("threshold", "tier_growth"):
                text = getattr(tier, field_name)
                if text is not None and unit_type is not None:
                    size = self.quantity(sec, entity, f"{at}.{field_name}", text, unit_type, bucket.binary_data_units)
                    if size is not None and size <= 0:
                        self.err(sec, entity, f"{at}.{field_name}", "a tier must be at least one base unit")
        if isinstance(bucket, UsageBucket):
            self.check_usage_bucket_only(entity, bucket, unit_type)

    def check_usage_bucket_only(self, entity: str, bucket: UsageBucket, unit_type: UnitType | None) -> None:
        sec = "usage_buckets"
        activation = bucket.billing_activation
        if activation is None and not bucket.tiers:
            self.err(sec, entity, "tiers", "required: at least one tier (only a billing activation bucket has none)")
        if activation is None and bucket.recur_type is not RecurType.NONRECURRING and bucket.recur_frequency is None:
            self.err(sec, entity, "recur_frequency", f"required for {bucket.recur_type.value} buckets")
        if bucket.recur_type is RecurType.NONRECURRING and bucket.recur_frequency is not None:
            self.err(sec, entity, "recur_frequency", "nonrecurring buckets do not recur")
        if activation is not None:
            if bucket.money:
                self.err(sec, entity, "billing_activation", "not offered on money buckets (Q16)")
            elif unit_type is not None:
                self.quantity(
                    sec,
                    entity,
                    "billing_activation.usage_threshold",
                    activation.usage_threshold,
                    unit_type,
                    bucket.binary_data_units,
                )
