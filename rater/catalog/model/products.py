"""The product entities: services with the usage buckets attached in the catalog, and packages with their
services, frequencies and share plan add-on (§1.3, R24, R64).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from rater.catalog.model.fields import DurationField, Entity, Id, Quantity, Text


class Service(Entity):
    """§1.3 service with the usage buckets attached in the catalog."""

    id: Id
    name: Text = ""
    service_type: Text | None = None
    usage_buckets: tuple[Id, ...] = ()
    billing_activation: bool = False


def _service_entry(value: object) -> object:
    return {"service": value} if isinstance(value, str) else value


class PackageService(Entity):
    """A service in a package, with the package-service rate plan (R24 level 3)."""

    service: Id
    rate_plan: Id | None = None


class PackageFrequency(Entity):
    """A package frequency (billing cadence) with its rate plan (R24 level 5)."""

    id: Id
    every: DurationField
    rate_plan: Id | None = None


class AddOnAllotment(Entity):
    bucket: Id
    amount: Quantity


class SharePlanAddOn(Entity):
    """R64: a "Share Plan Add-On" package adds these allotments to the share plan's buckets."""

    share_plan: Id
    allotments: tuple[AddOnAllotment, ...] = Field(min_length=1)


class Package(Entity):
    """§1.3 package."""

    id: Id
    name: Text = ""
    services: tuple[Annotated[PackageService, BeforeValidator(_service_entry)], ...] = Field(min_length=1)
    frequencies: tuple[PackageFrequency, ...] = ()
    share_plan_add_on: SharePlanAddOn | None = None
