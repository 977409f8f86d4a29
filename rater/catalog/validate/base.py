"""What every cross-entity catalog check shares: the catalog's sections by id, the GeoTree's node and
location group ids, and the helpers that record a finding naming the file, the entity and the field,
resolve a reference, read a quantity in a bucket's unit type, and check a location against its class
(§1.8, §1.16: locations only on GeoTree-rated classes).
"""

from __future__ import annotations

from rater.catalog.load import KIND, RawCatalog
from rater.catalog.model import (
    BaseBucket,
    BucketDefinition,
    GeoTree,
    Package,
    RatePlan,
    Rater,
    RoundingRule,
    Service,
    Settings,
    SharePlan,
    TimePeriod,
    UsageBucket,
    UsageClass,
)
from rater.issues import IssueLog
from rater.units import UnitError, UnitType, parse_quantity


class CheckerBase:
    """The state of one validation run and its helpers; each section's checks extend it."""

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

    def quantity(
        self, sec: str, entity: str, field: str, text: object, unit_type: UnitType, binary: bool
    ) -> int | None:
        try:
            return parse_quantity(text, unit_type, binary=binary)
        except UnitError as exc:
            self.err(sec, entity, field, str(exc))
            return None

    def silent_unit_type(self, bucket: BucketDefinition) -> UnitType | None:
        types = {self.base[b].unit_type for b in bucket.base_buckets if b in self.base}
        return types.pop() if len(types) == 1 else None

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
