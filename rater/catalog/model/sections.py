"""The catalog's sections: what a catalog file may hold at its top level, each with the model of its
entities.
"""

from __future__ import annotations

from rater.catalog.model.buckets import BaseBucket, UsageBucket
from rater.catalog.model.classification import GeoTree, RoundingRule, TimePeriod, UsageClass
from rater.catalog.model.fields import Entity
from rater.catalog.model.products import Package, Service
from rater.catalog.model.rate_plans import RatePlan
from rater.catalog.model.settings import Owner, Settings
from rater.catalog.model.share_plans import SharePlan

#: Catalog sections that are lists of entities, with the model of each entry.
LIST_SECTIONS: dict[str, type[Entity]] = {
    "usage_classes": UsageClass,
    "rounding_rules": RoundingRule,
    "time_periods": TimePeriod,
    "rate_plans": RatePlan,
    "base_buckets": BaseBucket,
    "usage_buckets": UsageBucket,
    "share_plans": SharePlan,
    "services": Service,
    "packages": Package,
}

#: Catalog sections that are single mappings.
MAPPING_SECTIONS: dict[str, type[Entity]] = {"settings": Settings, "owner": Owner, "geotree": GeoTree}
