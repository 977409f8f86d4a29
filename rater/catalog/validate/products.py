"""Cross-entity checks of services and packages: a service's usage buckets resolve and are attached once, and
a billing-activation bucket goes only on a billing activation service (R49); a package's services and rate
plans resolve and each is listed once, its frequency ids are unique, and its share plan add-on gives
allotments to buckets of that plan in their unit type (R64).
"""

from __future__ import annotations

from collections import Counter

from rater.catalog.model import Package, Service
from rater.catalog.validate.base import CheckerBase


class ProductChecks(CheckerBase):
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
