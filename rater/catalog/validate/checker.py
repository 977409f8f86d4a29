"""The catalog checker: every section's checks in one pass, in dependency order (the GeoTree before the
locations that name it), and the catalog-wide settings (time zone, owner's rate plan).
"""

from __future__ import annotations

from rater.catalog.load import RawCatalog
from rater.catalog.model import Owner, find_zone
from rater.catalog.validate.buckets import BucketChecks
from rater.catalog.validate.classification import ClassificationChecks
from rater.catalog.validate.products import ProductChecks
from rater.catalog.validate.rate_plans import RatePlanChecks
from rater.catalog.validate.share_plans import SharePlanChecks
from rater.issues import IssueLog


class _Checker(ClassificationChecks, RatePlanChecks, SharePlanChecks, BucketChecks, ProductChecks):
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


def validate(raw: RawCatalog, log: IssueLog) -> None:
    """Run every cross-entity check on ``raw``, recording findings in ``log``."""
    _Checker(raw, log).run()
