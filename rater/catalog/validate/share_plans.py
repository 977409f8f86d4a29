"""Cross-entity checks of share plans:

* R54/R55: an active share plan has at least one bucket; participants are all of the participating type.
* §1.12/R59: share plan bucket tiers fit the bucket Type; Repeat only on the last tier (R19), never on a
  nonrecurring bucket (R20); contributions and participation limits are quantities of the bucket's unit
  type, given for participants of the plan.
* R56/Q13: without overlapping share plans, a service or package takes part in at most one share plan.
"""

from __future__ import annotations

from collections import Counter

from rater.catalog.model import RecurType, SharePlan, SharePlanBucket, SharePlanBucketType
from rater.catalog.validate.buckets import BucketChecks
from rater.units import UnitError, parse_quantity


class SharePlanChecks(BucketChecks):
    def check_share_plan(self, plan: SharePlan) -> None:
        sec = "share_plans"
        if self.ref(sec, plan.id, "selling_service", plan.selling_service, self.services, "service"):
            pass
        if plan.active and not plan.buckets:
            self.err(sec, plan.id, "buckets", "an active share plan needs at least one bucket (R54)")
        pool, kind = (
            (self.services, "service") if plan.participating_type.value == "service" else (self.packages, "package")
        )
        other, other_kind = (self.packages, "package") if kind == "service" else (self.services, "service")
        for index, participant in enumerate(plan.participants):
            if participant in pool:
                continue
            if participant in other:
                self.err(
                    sec,
                    plan.id,
                    f"participants[{index}]",
                    f"{participant!r} is a {other_kind}; this plan's participating type is {kind} (R55)",
                )
            else:
                self.err(sec, plan.id, f"participants[{index}]", f"unknown {kind} {participant!r}")
        ids = Counter(bucket.id for bucket in plan.buckets)
        for bi, bucket in enumerate(plan.buckets):
            prefix = f"buckets[{bi}]."
            if ids[bucket.id] > 1:
                self.err(sec, plan.id, f"{prefix}id", f"duplicate bucket id {bucket.id!r}")
            self.check_bucket(sec, plan.id, prefix, bucket)
            self.check_share_bucket_type(plan, prefix, bucket)

    def check_share_bucket_type(self, plan: SharePlan, prefix: str, bucket: SharePlanBucket) -> None:
        sec = "share_plans"
        if bucket.last_tier_repeats:
            self.err(
                sec, plan.id, f"{prefix}last_tier_repeats", "share plan buckets repeat with 'repeat' on the last tier"
            )
        last = len(bucket.tiers) - 1
        for index, tier in enumerate(bucket.tiers):
            at = f"{prefix}tiers[{index}]"
            if tier.repeat and index != last:
                self.err(sec, plan.id, f"{at}.repeat", "only the last tier can repeat (R19)")
            if tier.repeat and bucket.recur_type is RecurType.NONRECURRING:
                self.err(sec, plan.id, f"{at}.repeat", "not offered on nonrecurring buckets (R20)")
            if bucket.type is SharePlanBucketType.FIXED:
                if tier.threshold is None:
                    self.err(sec, plan.id, f"{at}.threshold", "required on Fixed buckets")
                if tier.tier_growth is not None:
                    self.err(sec, plan.id, f"{at}.tier_growth", "only on Variable Multiple Tier buckets")
            elif bucket.type is SharePlanBucketType.VARIABLE_SINGLE_TIER:
                if tier.threshold is not None or tier.tier_growth is not None:
                    self.err(sec, plan.id, at, "a Variable Single Tier bucket's size is the sum of contributions (R59)")
            elif tier.tier_growth is None:
                self.err(sec, plan.id, f"{at}.tier_growth", "required on Variable Multiple Tier buckets (R59)")
            elif tier.threshold is not None:
                self.err(sec, plan.id, f"{at}.threshold", "Variable Multiple Tier sizes come from tier_growth (R59)")
        pool_unit = self.silent_unit_type(bucket)
        if bucket.type is not SharePlanBucketType.FIXED and pool_unit is not None:
            contributes = False
            amounts: set[int] = set()
            for entry in bucket.participants:
                if entry.contribution is not None:
                    try:
                        amount = parse_quantity(entry.contribution, pool_unit, binary=bucket.binary_data_units)
                    except UnitError:
                        contributes = True  # reported above
                        continue
                    contributes |= amount > 0
                    if amount > 0:
                        amounts.add(amount)
            if not contributes:
                self.warn(
                    sec, plan.id, f"{prefix}participants", "no participant contributes: the pool stays empty (R59)"
                )
            if bucket.type is SharePlanBucketType.VARIABLE_MULTIPLE_TIER and len(amounts) > 1:
                # R59/Q1: tier j = tier_growth_j x the number of contributors; contributions only count them.
                self.warn(
                    sec,
                    plan.id,
                    f"{prefix}participants",
                    "on a Variable Multiple Tier bucket a contribution only marks a contributor (0 or none: not "
                    "one; any amount above 0: one); the different amounts given are not added to the pool, "
                    "whose tier j is tier_growth_j x the number of contributors (R59, Q1)",
                )
        if bucket.type is SharePlanBucketType.VARIABLE_SINGLE_TIER and len(bucket.tiers) != 1:
            self.err(sec, plan.id, f"{prefix}tiers", "a Variable Single Tier bucket has exactly one tier (R59)")
        unit_type = self.silent_unit_type(bucket)
        seen: set[str] = set()
        for index, entry in enumerate(bucket.participants):
            at = f"{prefix}participants[{index}]"
            if entry.participant not in plan.participants:
                self.err(sec, plan.id, f"{at}.participant", f"{entry.participant!r} is not a participant of the plan")
            if entry.participant in seen:
                self.err(sec, plan.id, f"{at}.participant", f"{entry.participant!r} listed twice")
            seen.add(entry.participant)
            for field_name in ("contribution", "participation_limit"):
                text = getattr(entry, field_name)
                if text is not None and unit_type is not None:
                    self.quantity(sec, plan.id, f"{at}.{field_name}", text, unit_type, bucket.binary_data_units)
            if entry.contribution is not None and bucket.type is SharePlanBucketType.FIXED:
                self.warn(sec, plan.id, f"{at}.contribution", "contributions are ignored on Fixed buckets (R59)")

    def check_one_plan_rule(self) -> None:
        if self.settings.overlapping_share_plans:
            return
        first: dict[tuple[str, str], str] = {}
        for plan in self.share.values():
            for index, participant_id in enumerate(plan.participants):
                participant = (plan.participating_type.value, participant_id)
                if participant in first and first[participant] != plan.id:
                    self.err(
                        "share_plans",
                        plan.id,
                        f"participants[{index}]",
                        f"{participant[0]} {participant_id!r} already takes part in share plan {first[participant]!r}; "
                        "set settings.overlapping_share_plans to allow it (R56)",
                    )
                first.setdefault(participant, plan.id)
