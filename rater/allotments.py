"""Allotments: what one bucket instance holds in one period, and the store counter that tracks it.

For an instance on a local day: the period containing the day, or none while the instance is not active
(R10; periods R35-R39); the tiers in base units (R15, R22, R23) with tier 1 prorated in a period the instance
starts or is cancelled in (R40, R41); and the counter the draw-down kernel keeps for it (:mod:`rater.state`:
rollover base R36, tier entries R17, participation limit R61).  A candidate (:class:`Candidate`) is one
instance's allotment offered to one record.

Everything is a pure function of the catalog and the instance, so periods and tiers are memoised once per
configuration; nothing reads a clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from rater.catalog import Catalog
from rater.catalog.model import BucketDefinition, RecurType
from rater.instances import CACHE_LIMIT, FAR, Instance
from rater.keys import bucket_key
from rater.lru import LRU
from rater.periods import DayWindow, Period, prorate
from rater.state import Counter
from rater.units import UnitType


@dataclass(frozen=True, slots=True)
class Tiers:
    """A bucket's tiers in base units for one period (before rollover carry)."""

    sizes: tuple[int, ...]
    flat_charges: tuple[Decimal, ...]
    rate_plans: tuple[str | None, ...]
    repeats: bool

    def with_carry(self, carry: int) -> tuple[int, ...]:
        """R36: the carry joins tier 1."""
        if not carry:
            return self.sizes
        return (self.sizes[0] + carry, *self.sizes[1:])


@dataclass(frozen=True, slots=True)
class Candidate:
    """One allowance for one record: the instance, its period, its tiers and the store counter."""

    instance: Instance
    period: Period
    tiers: Tiers
    counter: Counter
    unit_type: UnitType
    participant: str | None = None
    level: str = ""
    """The consumption level as seen from the drawing account (R11): a parent's account bucket is
    ``parent`` to its children."""


def _ends(sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Cumulative ends E(1)..E(k-1) of the tiers before the last (the counter's ``tier_ends``)."""
    ends: list[int] = []
    end = 0
    for size in sizes[:-1]:
        end += size
        ends.append(end)
    return tuple(ends)


class Allotments:
    """Periods, tiers and counters of bucket instances over one catalog, memoised (instances and the catalog
    are immutable)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._tiers: LRU[tuple[int, tuple[int, int] | None, tuple[int, ...] | None], Tiers] = LRU(CACHE_LIMIT)
        self._periods: LRU[tuple[str, dt.date], tuple[Period | None, dt.date, dt.date]] = LRU(CACHE_LIMIT)

    def period(self, instance: Instance, when: DayWindow) -> Period | None:
        """``instance.period(day)``, memoised (instances and the catalog are immutable); ``when`` learns the
        days that answer alike: the period's days while the instance exists, or the days before it starts
        or after it ends (R10)."""
        key = (instance.id, when.day)
        found = self._periods.get(key)
        if found is None:
            period = instance.period(self.catalog, when.day)
            expiry = instance.expiry(self.catalog)
            if period is not None:
                found = (period, period.start, min(period.end, expiry))
            elif when.day < instance.effective:
                found = (None, dt.date.min, instance.effective)
            else:
                found = (None, expiry, FAR)
            self._periods.put(key, found)
        period, first, end = found
        when.inside(first, end)
        return period

    def prorated(self, instance: Instance, period: Period) -> tuple[int, int] | None:
        """R40/R41: (active days, period days) when tier 1 is prorated in ``period``, else ``None``."""
        if not instance.bucket.prorate or instance.recur_type is RecurType.NONRECURRING:
            return None
        end = period.end
        if instance.cancel is not None and instance.cancel < end:
            end = instance.cancel
        active = (end - period.start).days
        full = period.full_days
        if active >= full:
            return None
        return active, full

    def tiers(
        self, bucket: BucketDefinition, proration: tuple[int, int] | None, *, sizes: tuple[int, ...] | None = None
    ) -> Tiers:
        """The bucket's tiers in base units (R15, R22, R23), tier 1 prorated when asked (R40).

        Pure in an immutable catalog, so memoised."""
        key = (id(bucket), proration, sizes)
        cached = self._tiers.get(key)
        if cached is None:
            cached = self._tiers.put(key, self._tiers_uncached(bucket, proration, sizes))
        return cached

    def _tiers_uncached(
        self, bucket: BucketDefinition, proration: tuple[int, int] | None, sizes: tuple[int, ...] | None
    ) -> Tiers:
        if sizes is None:
            sizes = self.catalog.quantities.of(bucket).sizes
        if proration is not None and sizes:
            sizes = (prorate(sizes[0], *proration), *sizes[1:])
        repeats = bucket.last_tier_repeats or bucket.tiers[-1].repeat
        return Tiers(
            sizes=sizes,
            flat_charges=tuple(tier.flat_charge for tier in bucket.tiers),
            rate_plans=tuple(tier.rate_plan for tier in bucket.tiers),
            repeats=repeats,
        )

    def with_counter(
        self,
        instance: Instance,
        period: Period,
        tiers: Tiers,
        root: str,
        participant: str | None = None,
        limit: int = 0,
        full: Tiers | None = None,
    ) -> Candidate:
        """The store counter of a candidate.  ``full`` is a whole period's tiers (no proration), which
        untouched periods roll forward with (R36); by default the bucket's configured tiers.  A unit bucket's
        counter keeps its tier entries (``tier_ends``, R17), so tiers whose boundaries move within a period
        (contributors, add-ons, R59, R60, R64) are entered once; a money bucket's keeps none (its draw is
        priced by value, R46)."""
        bucket = instance.bucket
        full = full if full is not None else self.tiers(bucket, None)
        carry_base = 0
        if self.catalog.settings.rollover_size == "last_tier" and full.sizes:
            carry_base = full.sizes[-1]  # Q3 alternative: S is the last tier's size
        counter = Counter(
            key=bucket_key(root, instance.id),
            period=period.index,
            allowance=sum(tiers.sizes),
            unbounded=tiers.repeats,
            rollover=instance.recur_type is RecurType.RECURRING_ROLLOVER,
            full_allowance=sum(full.sizes),
            limit_field=f"l:{period.index}:{participant}" if participant is not None else None,
            limit=limit,
            carry_base=carry_base,
            tier_ends=None if bucket.money else _ends(tiers.sizes),
        )
        unit_type = self.catalog.bucket_unit_type(bucket)
        return Candidate(instance, period, tiers, counter, unit_type, participant, instance.level)
