"""The product catalog: loading, validation and the compiled, read-only form the rater uses.

``load_catalog(path)`` reads the YAML files (see :func:`rater.catalog.load.catalog_files`), checks the shape
of every entity and every cross-reference, and returns a :class:`Catalog` with lookup indexes built once,
so that rating a record does no parsing.  A bad catalog raises
:class:`rater.issues.ValidationFailed` listing every error.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from rater.catalog.compiled import Quantities, compile_quantities
from rater.catalog.load import RawCatalog, catalog_files, merged_document, read_document, read_raw
from rater.catalog.model import (
    BaseBucket,
    BucketDefinition,
    GeoTree,
    Owner,
    Package,
    RatePlan,
    RoundingRule,
    Service,
    Settings,
    SharePlan,
    SharePlanBucket,
    TimePeriod,
    UsageBucket,
    UsageClass,
)
from rater.catalog.validate import validate
from rater.geotree import GeoIndex
from rater.issues import Issue, IssueLog, ValidationFailed
from rater.units import UnitType

__all__ = [
    "Catalog",
    "catalog_document",
    "check_catalog",
    "check_catalog_document",
    "json_document",
    "load_catalog",
]


@dataclass(frozen=True)
class Catalog:
    """A validated catalog with its indexes.  Immutable: a catalog change is a new load."""

    settings: Settings
    owner: Owner
    usage_classes: Mapping[str, UsageClass]
    geotree: GeoTree
    geo: GeoIndex
    rounding_rules: Mapping[str, RoundingRule]
    time_periods: Mapping[str, TimePeriod]
    rate_plans: Mapping[str, RatePlan]
    base_buckets: Mapping[str, BaseBucket]
    usage_buckets: Mapping[str, UsageBucket]
    share_plans: Mapping[str, SharePlan]
    services: Mapping[str, Service]
    packages: Mapping[str, Package]
    sources: Mapping[tuple[str, str], str]
    zone: zoneinfo.ZoneInfo
    quantities: Quantities = field(init=False, repr=False, compare=False)
    """Every quantity in integer base units (:mod:`rater.catalog.compiled`), compiled when loaded."""

    def __post_init__(self) -> None:
        compiled = compile_quantities(
            self.base_buckets, self.usage_buckets.values(), self.share_plans.values(), self.packages.values()
        )
        object.__setattr__(self, "quantities", compiled)

    @property
    def share_plan_buckets(self) -> dict[str, tuple[SharePlan, SharePlanBucket]]:
        """Share plan bucket id -> (plan, bucket)."""
        return {bucket.id: (plan, bucket) for plan in self.share_plans.values() for bucket in plan.buckets}

    def bucket_unit_type(self, bucket: BucketDefinition) -> UnitType:
        """The unit type shared by the bucket's base buckets (validated to be one, R5/R48)."""
        return self.base_buckets[bucket.base_buckets[0]].unit_type


def _build(raw: RawCatalog) -> Catalog:
    def section(name: str) -> dict[str, object]:
        return dict(raw.entities[name])

    settings = cast(Settings, raw.singles.get("settings", Settings()))
    geotree = cast(GeoTree, raw.singles.get("geotree", GeoTree()))
    return Catalog(
        settings=settings,
        owner=cast(Owner, raw.singles.get("owner", Owner())),
        usage_classes=cast(dict[str, UsageClass], section("usage_classes")),
        geotree=geotree,
        geo=GeoIndex.build(geotree),
        rounding_rules=cast(dict[str, RoundingRule], section("rounding_rules")),
        time_periods=cast(dict[str, TimePeriod], section("time_periods")),
        rate_plans=cast(dict[str, RatePlan], section("rate_plans")),
        base_buckets=cast(dict[str, BaseBucket], section("base_buckets")),
        usage_buckets=cast(dict[str, UsageBucket], section("usage_buckets")),
        share_plans=cast(dict[str, SharePlan], section("share_plans")),
        services=cast(dict[str, Service], section("services")),
        packages=cast(dict[str, Package], section("packages")),
        sources=dict(raw.sources),
        zone=zoneinfo.ZoneInfo(settings.time_zone),
    )


def check_catalog(path: Path) -> tuple[Catalog | None, list[Issue]]:
    """Load and validate; return the catalog (``None`` when there are errors) and every issue found."""
    log = IssueLog()
    raw = read_raw(catalog_files(path), log)
    validate(raw, log)
    if log.has_errors:
        return None, log.issues
    return _build(raw), log.issues


def load_catalog(path: Path) -> Catalog:
    """Load a catalog or raise :class:`rater.issues.ValidationFailed` listing every error."""
    catalog, issues = check_catalog(path)
    if catalog is None:
        raise ValidationFailed(issues)
    return catalog


def check_catalog_document(document: Any, source: str = "catalog") -> tuple[Catalog | None, list[Issue]]:
    """Like :func:`check_catalog`, for a catalog held as one document (a mapping of sections, the form the
    configuration store keeps); findings name ``source`` as their file."""
    log = IssueLog()
    raw = RawCatalog()
    read_document(raw, log, source, document)
    validate(raw, log)
    if log.has_errors:
        return None, log.issues
    return _build(raw), log.issues


def catalog_document(path: Path) -> dict[str, Any]:
    """The catalog files at ``path`` as one JSON-ready document (see :func:`json_document`)."""
    document = json_document(merged_document(catalog_files(path)))
    assert isinstance(document, dict)
    return document


def json_document(value: Any) -> Any:
    """``value`` with exact decimals as strings and dates as ISO 8601 text, so it travels as JSON without a
    float ever appearing (the models read both forms back exactly)."""
    if isinstance(value, Mapping):
        return {str(key): json_document(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_document(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
