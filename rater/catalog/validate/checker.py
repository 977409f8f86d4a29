"""Cross-entity catalog checks.  Every finding names the file, the entity and the field.

Rules checked here (besides "every reference resolves"):

* R5/R48: base buckets on one usage bucket share a unit type; details name classes of that unit type
  (money base buckets may name any class, R8); locations only on GeoTree-rated classes (§1.8).
* Tier thresholds, contributions, limits and activation thresholds are quantities of the bucket's unit type
  (R22/R23); tier sizes are positive.
* R20: Prorate and Last Tier Repeats are not offered on nonrecurring buckets; Expire After only on
  nonrecurring, Recur Frequency and Expire After Recurrence only on recurring types.
* R49: a billing-activation bucket only on a billing activation service; Q16: not on a money bucket.
* §1.12/R59: share-plan bucket tiers fit the bucket Type; Repeat only on the last tier.
* R54/R55: an active share plan has at least one bucket; participants are all of the participating type.
* R56/Q13: without overlapping share plans, a service or package takes part in at most one share plan.
* §1.18: a time period window's ``to`` is inclusive of its whole minute (``"23:59"`` ends the day, as the
  seed's "12:00 AM-11:59 PM" weekend does), and later than its ``from``.
* §1.16: GeoTree-rated rates name a location or location group; Class-rated rates do not; the rate's unit
  and rounding rule fit the class's unit type.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from rater.catalog.load import KIND, RawCatalog
from rater.catalog.model import (
    BaseBucket,
    BucketDefinition,
    GeoNode,
    GeoTree,
    Owner,
    Package,
    RatePlan,
    Rater,
    RecurType,
    RoundingRule,
    Service,
    Settings,
    SharePlan,
    SharePlanBucket,
    SharePlanBucketType,
    TimePeriod,
    UsageBucket,
    UsageClass,
    find_zone,
)
from rater.geotree import normalise_identifier
from rater.issues import IssueLog
from rater.units import UnitError, UnitType, parse_quantity, unit_size


class _Checker:
    def __init__(self, raw: RawCatalog, log: IssueLog) -> None:
        self.raw = raw
        self.log = log
        self.classes: dict[str, UsageClass] = raw.entities["usage_classes"]  # type: ignore[assignment]
        self.rate_plans: dict[str, RatePlan] = raw.entities["rate_plans"]  # type: ignore[assignment]
        self.rounding: dict[str, RoundingRule] = raw.entities["rounding_rules"]  # type: ignore[assignment]
        self.periods: dict[str, TimePeriod] = raw.entities["time_periods"]  # type: ignore[assignment]
        self.base: dict[str, BaseBucket] = raw.entities["base_buckets"]  # type: ignore[assignment]
        self.usage: dict[str, UsageBucket] = raw.entities["usage_buckets"]  # type: ignore[assignment]
        self.share: dict[str, SharePlan] = raw.entities["share_plans"]  # type: ignore[assignment]
        self.services: dict[str, Service] = raw.entities["services"]  # type: ignore[assignment]
        self.packages: dict[str, Package] = raw.entities["packages"]  # type: ignore[assignment]
        settings = raw.singles.get("settings")
        self.settings = settings if isinstance(settings, Settings) else Settings()
        tree = raw.singles.get("geotree")
        self.tree = tree if isinstance(tree, GeoTree) else GeoTree()
        self.nodes: set[str] = set()
        self.groups = {group.id for group in self.tree.location_groups}

    # -- helpers -------------------------------------------------------------------------------------------

    def err(self, section: str, entity: str, field: str, message: str) -> None:
        self.log.error(self.raw.source(section, entity), KIND[section], entity, field, message)

    def warn(self, section: str, entity: str, field: str, message: str) -> None:
        self.log.warning(self.raw.source(section, entity), KIND[section], entity, field, message)

    def ref(self, section: str, entity: str, field: str, target: str | None, pool: object, what: str) -> bool:
        if target is None:
            return False
        if target not in pool:  # type: ignore[operator]
            if target in self.raw.refused.get(what.replace(" ", "_"), ()):
                message = f"{what} {target!r} is not valid: see its own errors"
            else:
                message = f"unknown {what} {target!r}"
            self.err(section, entity, field, message)
            return False
        return True

    # -- sections ------------------------------------------------------------------------------------------

    def run(self) -> None:
        self.check_settings()
        self.check_geotree()
        for rule in self.rounding.values():
            self.check_rounding(rule)
        for period in self.periods.values():
            self.check_period(period)
        for plan in self.rate_plans.values():
            self.check_rate_plan(plan)
        for base in self.base.values():
            self.check_base_bucket(base)
        for bucket in self.usage.values():
            self.check_bucket("usage_buckets", bucket.id, "", bucket)
        for service in self.services.values():
            self.check_service(service)
        for package in self.packages.values():
            self.check_package(package)
        for share_plan in self.share.values():
            self.check_share_plan(share_plan)
        self.check_one_plan_rule()

    def check_settings(self) -> None:
        if find_zone(self.settings.time_zone) is None:
            self.log.error(
                self.raw.source("settings", ""),
                "settings",
                "",
                "time_zone",
                f"unknown time zone {self.settings.time_zone!r}",
            )
        owner = self.raw.singles.get("owner")
        if isinstance(owner, Owner) and owner.rate_plan is not None and owner.rate_plan not in self.rate_plans:
            self.log.error(
                self.raw.source("owner", ""), "owner", owner.id, "rate_plan", f"unknown rate plan {owner.rate_plan!r}"
            )

    def check_geotree(self) -> None:
        file = self.raw.source("geotree", "")
        seen_patterns: dict[str, str] = {}

        def walk(nodes: tuple[GeoNode, ...], path: str) -> None:
            for index, node in enumerate(nodes):
                here = f"{path}[{index}]"
                if node.id in self.nodes:
                    self.log.error(file, "geotree", node.id, f"{here}.id", "duplicate node id")
                self.nodes.add(node.id)
                for pattern in node.patterns:
                    key = normalise_identifier(pattern)
                    if key in seen_patterns:
                        self.log.error(
                            file,
                            "geotree",
                            node.id,
                            f"{here}.patterns",
                            f"pattern {pattern!r} also on node {seen_patterns[key]!r}",
                        )
                    seen_patterns[key] = node.id
                walk(node.children, f"{here}.children")

        walk(self.tree.nodes, "nodes")
        for index, group in enumerate(self.tree.location_groups):
            for location in group.locations:
                if location not in self.nodes:
                    self.log.error(
                        file,
                        "geotree",
                        group.id,
                        f"location_groups[{index}].locations",
                        f"unknown location {location!r}",
                    )

    def check_rounding(self, rule: RoundingRule) -> None:
        try:
            size = unit_size(rule.unit, rule.unit_type)
        except UnitError as exc:
            self.err("rounding_rules", rule.id, "unit", str(exc))
            return
        for field_name in ("minimum", "increment"):
            value = getattr(rule, field_name) * size
            if value != value.to_integral_value():
                self.err("rounding_rules", rule.id, field_name, f"must be a whole number of base units ({value} found)")

    def check_period(self, period: TimePeriod) -> None:
        for index, detail in enumerate(period.details):
            start = detail.from_
            end = detail.to
            if start == "24:00":
                self.err("time_periods", period.id, f"details[{index}].from", "'24:00' can only end a window")
            elif end != "24:00" and isinstance(start, dt.time) and isinstance(end, dt.time) and end <= start:
                self.err("time_periods", period.id, f"details[{index}].to", "must be later than 'from'")

    def check_rate_plan(self, plan: RatePlan) -> None:
        sec = "rate_plans"
        group_ids = Counter(group.id for group in plan.rate_groups)
        for gi, group in enumerate(plan.rate_groups):
            where = f"rate_groups[{gi}]"
            if group_ids[group.id] > 1:
                self.err(sec, plan.id, f"{where}.id", f"duplicate rate group id {group.id!r}")
            self.ref(sec, plan.id, f"{where}.time_period", group.time_period, self.periods, "time period")
            if group.start is not None and group.retired is not None and _as_dt(group.retired) <= _as_dt(group.start):
                self.err(sec, plan.id, f"{where}.retired", "must be later than start")
            rate_ids = Counter(rate.id for rate in group.rates if rate.id is not None)
            for ri, rate in enumerate(group.rates):
                at = f"{where}.rates[{ri}]"
                if rate.id is not None and rate_ids[rate.id] > 1:
                    self.err(sec, plan.id, f"{at}.id", f"duplicate rate id {rate.id!r}")
                if not self.ref(sec, plan.id, f"{at}.class", rate.class_, self.classes, "usage class"):
                    continue
                cls = self.classes[rate.class_]
                self.check_location(sec, plan.id, at, cls, rate.location, rate.location_group, required=True)
                try:
                    unit_size(rate.per, cls.unit_type)
                except UnitError as exc:
                    self.err(sec, plan.id, f"{at}.per", str(exc))
                if self.ref(sec, plan.id, f"{at}.rounding_rule", rate.rounding_rule, self.rounding, "rounding rule"):
                    rule = self.rounding[rate.rounding_rule]  # type: ignore[index]
                    if not rule.active:
                        self.warn(sec, plan.id, f"{at}.rounding_rule", f"rounding rule {rule.id!r} is not active")
                    if rule.unit_type != cls.unit_type:
                        self.err(
                            sec,
                            plan.id,
                            f"{at}.rounding_rule",
                            f"rounding rule {rule.id!r} is for {rule.unit_type.value}, "
                            f"class {cls.id!r} is {cls.unit_type.value}",
                        )

    def check_location(
        self,
        sec: str,
        entity: str,
        at: str,
        cls: UsageClass,
        location: str | None,
        group: str | None,
        *,
        required: bool,
    ) -> None:
        if cls.rater is Rater.GEOTREE:
            if location is not None and group is not None:
                self.err(sec, entity, f"{at}.location_group", "give a location or a location group, not both")
            if required and location is None and group is None:
                self.err(
                    sec,
                    entity,
                    f"{at}.location",
                    f"class {cls.id!r} is GeoTree-rated: a location or location group is required",
                )
            self.ref(sec, entity, f"{at}.location", location, self.nodes, "GeoTree location")
            self.ref(sec, entity, f"{at}.location_group", group, self.groups, "location group")
        elif location is not None or group is not None:
            field = "location" if location is not None else "location_group"
            self.err(
                sec,
                entity,
                f"{at}.{field}",
                f"class {cls.id!r} is Class-rated: locations apply only to GeoTree-rated classes",
            )

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

    def quantity(
        self, sec: str, entity: str, field: str, text: object, unit_type: UnitType, binary: bool
    ) -> int | None:
        try:
            return parse_quantity(text, unit_type, binary=binary)
        except UnitError as exc:
            self.err(sec, entity, field, str(exc))
            return None

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

    def check_service(self, service: Service) -> None:
        sec = "services"
        for index, bucket_id in enumerate(service.usage_buckets):
            if not self.ref(sec, service.id, f"usage_buckets[{index}]", bucket_id, self.usage, "usage bucket"):
                continue
            if self.usage[bucket_id].billing_activation is not None and not service.billing_activation:
                self.err(
                    sec,
                    service.id,
                    f"usage_buckets[{index}]",
                    f"billing-activation bucket {bucket_id!r} can only go on a billing activation service (R49)",
                )
        for bucket_id, count in Counter(service.usage_buckets).items():
            if count > 1:
                self.err(sec, service.id, "usage_buckets", f"usage bucket {bucket_id!r} is attached twice")

    def check_package(self, package: Package) -> None:
        sec = "packages"
        seen: set[str] = set()
        for index, entry in enumerate(package.services):
            self.ref(sec, package.id, f"services[{index}].service", entry.service, self.services, "service")
            self.ref(sec, package.id, f"services[{index}].rate_plan", entry.rate_plan, self.rate_plans, "rate plan")
            if entry.service in seen:
                self.err(sec, package.id, f"services[{index}].service", f"service {entry.service!r} listed twice")
            seen.add(entry.service)
        freq_ids = Counter(freq.id for freq in package.frequencies)
        for index, freq in enumerate(package.frequencies):
            if freq_ids[freq.id] > 1:
                self.err(sec, package.id, f"frequencies[{index}].id", f"duplicate frequency id {freq.id!r}")
            self.ref(sec, package.id, f"frequencies[{index}].rate_plan", freq.rate_plan, self.rate_plans, "rate plan")
        add_on = package.share_plan_add_on
        if add_on is not None and self.ref(
            sec, package.id, "share_plan_add_on.share_plan", add_on.share_plan, self.share, "share plan"
        ):
            plan = self.share[add_on.share_plan]
            buckets = {bucket.id: bucket for bucket in plan.buckets}
            for index, allotment in enumerate(add_on.allotments):
                at = f"share_plan_add_on.allotments[{index}]"
                if allotment.bucket not in buckets:
                    self.err(
                        sec, package.id, f"{at}.bucket", f"share plan {plan.id!r} has no bucket {allotment.bucket!r}"
                    )
                    continue
                bucket = buckets[allotment.bucket]
                unit_type = self.silent_unit_type(bucket)
                if unit_type is not None:
                    self.quantity(
                        sec, package.id, f"{at}.amount", allotment.amount, unit_type, bucket.binary_data_units
                    )

    def silent_unit_type(self, bucket: BucketDefinition) -> UnitType | None:
        types = {self.base[b].unit_type for b in bucket.base_buckets if b in self.base}
        return types.pop() if len(types) == 1 else None

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


def _as_dt(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def validate(raw: RawCatalog, log: IssueLog) -> None:
    """Run every cross-entity check on ``raw``, recording findings in ``log``."""
    _Checker(raw, log).run()
