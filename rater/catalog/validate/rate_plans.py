"""Cross-entity checks of rate plans (§1.14-§1.16): rate group and rate ids are unique in a plan, a group
is retired after it starts, time periods and classes resolve; GeoTree-rated rates name a location or
location group, Class-rated rates do not; the rate's unit and rounding rule fit the class's unit type.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from rater.catalog.model import RatePlan
from rater.catalog.validate.base import CheckerBase
from rater.units import UnitError, unit_size


class RatePlanChecks(CheckerBase):
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


def _as_dt(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
