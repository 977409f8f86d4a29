"""Bucket eligibility: may a record of this class and location draw from this bucket (R5-R8, R48)?

A record is eligible for a bucket when an include detail of one of its base buckets has the record's class
and covers its location (no location, or a location or location group covering it, R4b), and no exclude
detail matches the same way: exclude beats include (R6).  Several base buckets on one bucket form one pool
over the union of their details (R7, R48).  Whether the instance is active on the record's day is the
allotment's question (R10, :mod:`rater.allotments`).
"""

from __future__ import annotations

from rater.catalog import Catalog
from rater.catalog.model import BucketDefinition


class Eligibility:
    """Eligibility of records for the buckets of one catalog, memoised (the catalog is immutable)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._eligible: dict[tuple[int, str, str | None], bool] = {}

    def eligible(self, bucket: BucketDefinition, usage_class: str, location: str | None) -> bool:
        """R6: an include detail matches and no exclude detail matches, over all base buckets (R7, R48)."""
        key = (id(bucket), usage_class, location)  # bucket ids repeat across share plans; objects do not
        cached = self._eligible.get(key)
        if cached is not None:
            return cached
        geo = self.catalog.geo
        included = excluded = False
        for base_id in bucket.base_buckets:
            for detail in self.catalog.base_buckets[base_id].details:
                if detail.class_ != usage_class:
                    continue
                if not geo.matches(detail.location, detail.location_group, location):
                    continue
                if detail.exclude:
                    excluded = True
                else:
                    included = True
        result = included and not excluded
        self._eligible[key] = result
        return result
