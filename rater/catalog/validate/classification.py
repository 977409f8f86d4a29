"""Cross-entity checks of the GeoTree, rounding rules and time periods: GeoTree node ids and patterns are
unique and location groups name known locations (§1.7); a rounding rule's minimum and increment are whole
base units of its unit (§1.17); a time period window's ``to`` is inclusive of its whole minute (``"23:59"``
ends the day, as the seed's "12:00 AM-11:59 PM" weekend does), and later than its ``from`` (§1.18).
"""

from __future__ import annotations

import datetime as dt

from rater.catalog.model import GeoNode, RoundingRule, TimePeriod
from rater.catalog.validate.base import CheckerBase
from rater.geotree import normalise_identifier
from rater.units import UnitError, unit_size


class ClassificationChecks(CheckerBase):
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
