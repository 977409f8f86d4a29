"""Rating one record: the configuration in force (:class:`Rater`), which the core's pure steps take.

The steps follow the reference algorithm of domain-spec §2.0; the store's draw sits between the first two
(:func:`rater.batch.rate_batch` runs them):

* :func:`rater.prepare.prepare`, record to draw plan: owner resolution by usage identifier at the record's
  date (R2); classification: usage class, unit type, quantity in base units (R3); GeoTree location by longest
  pattern prefix for GeoTree-rated classes (R4, R4a); the lowest-level rate plan (R24-R26), the first
  applicable rate group and rate (R27-R28), and rounding (R29); the allowances in consumption order
  (R5-R13, :mod:`rater.consumption`);
* :func:`rater.price.finish` and :func:`rater.price.finish_money`, plan and draw result to outcome: tier
  entries, flat charges and tier rate plans (R15-R19), the charge for what overflows at the plan's precision
  (R30), money buckets paying for it (R46), crossings and notifications (R66);
* :func:`rater.cancellation.settlement`, a cancellation's re-pricing of a prorated period (R41).

Billing activation by time (R50b, :func:`rater.activation.due_activations`) reads the configuration's
instance index (``rater.resolver.index``).

Failures are typed :class:`~rater.errors.RatingError` (R2, R25, R31); the pipeline turns them into rating
exceptions (style habit 6) and keeps R1 (dedupe on the record id) in the store.  Nothing here holds a store,
reads a clock or changes state: a :class:`Rater` only memoises pure results of its configuration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rater.catalog import Catalog
from rater.consumption import Resolution, Resolver
from rater.instances import CACHE_LIMIT
from rater.lru import LRU
from rater.pricing import RateMatch
from rater.state import Counter
from rater.subscriptions import Subscriptions

#: What :func:`rater.prepare.prepare` resolves once per (account-service, class, location, window of days):
#: the resolution, the overage rate plan it names, the ordered counters and the sharing root.
Static = tuple[Resolution, str | None, tuple[Counter, ...], str]


class TimeBound:
    """The rate of a key depends on the record's time: it is looked up per record."""


TIME_BOUND = TimeBound()


@dataclass
class Memo:
    """Pure results memoised for one configuration (a new configuration is a new :class:`Rater`)."""

    statics: LRU[tuple[str, str, str | None, int], list[tuple[dt.date, dt.date, Static]]] = field(
        default_factory=lambda: LRU(CACHE_LIMIT)
    )
    rates: LRU[tuple[str, str, str | None, str | None], RateMatch | TimeBound] = field(
        default_factory=lambda: LRU(CACHE_LIMIT)
    )
    """The overflow rate per (account-service, class, location, overage plan), or :data:`TIME_BOUND` when
    a rate group of the plans it may choose from has a start, a retirement or a time period."""


class Rater:
    """The rating core over one catalog and one set of subscriptions (pure: no store, no clock).

    Per record (domain-spec §2.0): resolve the owner (R2), class and location (R3, R4); find the rate that
    would price the record and round the quantity with it (R29, Q6); draw the quantity down the record's
    allowances in consumption order in one atomic store call (R11-R13); price tier entries, tier rate plans
    and what overflows (R15-R19, R24-R30); let money buckets pay for the overflow (R46); count billing
    activation (R50).  A missing rate is an exception only when something has to be priced (Q6).
    """

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.resolver = Resolver(catalog, subscriptions)
        self.memo = Memo()
        self.located = {
            detail.class_
            for base in catalog.base_buckets.values()
            for detail in base.details
            if detail.location is not None or detail.location_group is not None
        }
        """The usage classes some bucket detail locates: only their resolutions depend on the location (R7)."""
