"""The catalog as written in its YAML files: one pydantic model per entity (domain-spec §1), grouped by
concept in :mod:`~rater.catalog.model.settings`, :mod:`~rater.catalog.model.classification`,
:mod:`~rater.catalog.model.rate_plans`, :mod:`~rater.catalog.model.buckets`,
:mod:`~rater.catalog.model.share_plans` and :mod:`~rater.catalog.model.products`, on the field types of
:mod:`~rater.catalog.model.fields`; :mod:`~rater.catalog.model.sections` maps each catalog section to its model.

These models check the shape of each entity on its own: field names, types, enums, exact decimals,
durations, quantity syntax.  Everything that needs another entity (references, unit types of base buckets,
participating types) is checked in :mod:`rater.catalog.validate`, which names file, entity and field.

The format is documented in ``docs/catalog.md``; ``config/catalog/`` is the complete commented example.
"""

from rater.catalog.model.buckets import (
    BaseBucket,
    BaseBucketDetail,
    BillingActivation,
    BucketDefinition,
    RecurType,
    Tier,
    UsageBucket,
)
from rater.catalog.model.classification import (
    WEEKDAY_INDEX,
    Clock,
    GeoNode,
    GeoTree,
    LocationGroup,
    Rater,
    RoundingRule,
    TimePeriod,
    TimePeriodDetail,
    UsageClass,
    Weekday,
)
from rater.catalog.model.fields import (
    Amount,
    Currency,
    DurationField,
    Entity,
    Id,
    LongText,
    Quantity,
    Text,
    ZoneName,
    find_zone,
)
from rater.catalog.model.products import (
    AddOnAllotment,
    Package,
    PackageFrequency,
    PackageService,
    Service,
    SharePlanAddOn,
)
from rater.catalog.model.rate_plans import DateOrTime, Rate, RateGroup, RatePlan
from rater.catalog.model.sections import LIST_SECTIONS, MAPPING_SECTIONS
from rater.catalog.model.settings import Owner, Settings
from rater.catalog.model.share_plans import (
    ActivationRule,
    ParticipatingType,
    ShareLevel,
    SharePlan,
    SharePlanBucket,
    SharePlanBucketType,
    SharePlanParticipant,
)

__all__ = [
    "LIST_SECTIONS",
    "MAPPING_SECTIONS",
    "WEEKDAY_INDEX",
    "ActivationRule",
    "AddOnAllotment",
    "Amount",
    "BaseBucket",
    "BaseBucketDetail",
    "BillingActivation",
    "BucketDefinition",
    "Clock",
    "Currency",
    "DateOrTime",
    "DurationField",
    "Entity",
    "GeoNode",
    "GeoTree",
    "Id",
    "LocationGroup",
    "LongText",
    "Owner",
    "Package",
    "PackageFrequency",
    "PackageService",
    "ParticipatingType",
    "Quantity",
    "Rate",
    "RateGroup",
    "RatePlan",
    "Rater",
    "RecurType",
    "RoundingRule",
    "Service",
    "Settings",
    "ShareLevel",
    "SharePlan",
    "SharePlanAddOn",
    "SharePlanBucket",
    "SharePlanBucketType",
    "SharePlanParticipant",
    "Text",
    "Tier",
    "TimePeriod",
    "TimePeriodDetail",
    "UsageBucket",
    "UsageClass",
    "Weekday",
    "ZoneName",
    "find_zone",
]
