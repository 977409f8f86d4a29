"""Cross-entity catalog checks.  Every finding names the file, the entity and the field.

The checks are grouped by catalog section: :mod:`~rater.catalog.validate.classification` (GeoTree,
rounding rules, time periods), :mod:`~rater.catalog.validate.rate_plans`, :mod:`~rater.catalog.validate.buckets`,
:mod:`~rater.catalog.validate.share_plans` and :mod:`~rater.catalog.validate.products`, each extending the
shared state and helpers of :mod:`~rater.catalog.validate.base`; :mod:`~rater.catalog.validate.checker` runs
them all, with the catalog-wide settings.

Rules checked here (besides "every reference resolves"):

* R5/R48: base buckets on one usage bucket share a unit type; details name classes of that unit type
  (money base buckets may name any class, R8); locations only on GeoTree-rated classes (§1.8).
* Tier thresholds, contributions, limits and activation thresholds are quantities of the bucket's unit type
  (R22/R23); tier sizes are positive.
* R20: Prorate and Last Tier Repeats are not offered on nonrecurring buckets; Expire After only on
  nonrecurring, Recur Frequency and Expire After Recurrence only on recurring types.
* R49: a billing-activation bucket only on a billing activation service; Q16: not on a money bucket.
* §1.12/R59: share-plan bucket tiers fit the bucket Type; Repeat only on the last tier.
* R54/R55: an active share plan has at least one bucket; participants are all of the participating type.
* R56/Q13: without overlapping share plans, a service or package takes part in at most one share plan.
* §1.18: a time period window's ``to`` is inclusive of its whole minute (``"23:59"`` ends the day, as the
  seed's "12:00 AM-11:59 PM" weekend does), and later than its ``from``.
* §1.16: GeoTree-rated rates name a location or location group; Class-rated rates do not; the rate's unit
  and rounding rule fit the class's unit type.
"""

from rater.catalog.validate.checker import validate

__all__ = ["validate"]
