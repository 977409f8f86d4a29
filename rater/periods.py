"""Period arithmetic in event time: recurrence periods, expiry and proration fractions (R35-R44).

All dates here are local days of the account (start inclusive, end exclusive, R42); the caller turns a
record's instant into its account-local date.  Nothing reads a clock.

Alignment (R39, [INT]):

* Month and year frequencies align to the usage bill day.  Boundaries fall on the bill day of every
  ``n``-th month, counted from the boundary on or before the instance's start; a bill day past the end of
  a short month is that month's last day (bill day 31 -> Feb 28 or 29).  The first period runs from the
  start to the next boundary (a stub when the start is mid-period).
* Day and week frequencies run from the instance's start in steps of the frequency.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rater.units import CalendarUnit, Duration


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a recurring allotment: ``index`` 0 is the first (possibly a stub)."""

    index: int
    start: dt.date
    end: dt.date
    full_start: dt.date
    """Where the period would have started had the instance existed before it (for proration, R40)."""

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def full_days(self) -> int:
        return (self.end - self.full_start).days


class DayWindow:
    """The days around ``day`` on which a computation's day-dependent decisions all come out the same.

    A computation asks its questions about the day through :meth:`before` and :meth:`inside`; each answer
    narrows ``[lo, hi)`` to the days that answer alike.  Whatever else it reads is not the day, so its result
    holds for every day of the window: resolution (rater.consumption) is memoised per window, not per day.
    """

    __slots__ = ("day", "hi", "lo")

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.lo = dt.date.min
        self.hi = dt.date.max

    def before(self, edge: dt.date) -> bool:
        """``day < edge``."""
        if self.day < edge:
            self.hi = min(self.hi, edge)
            return True
        self.lo = max(self.lo, edge)
        return False

    def inside(self, start: dt.date, end: dt.date) -> None:
        """Narrow to ``[start, end)``, which holds ``day`` (the period a decision was taken in)."""
        self.lo = max(self.lo, start)
        self.hi = min(self.hi, end)


def bill_boundary(year: int, month: int, bill_day: int) -> dt.date:
    """The bill day of ``year``-``month``, clamped to the month's last day."""
    return dt.date(year, month, min(bill_day, calendar.monthrange(year, month)[1]))


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    total = year * 12 + (month - 1) + months
    return total // 12, total % 12 + 1


def _boundary_on_or_before(day: dt.date, bill_day: int) -> dt.date:
    here = bill_boundary(day.year, day.month, bill_day)
    if here <= day:
        return here
    year, month = add_months(day.year, day.month, -1)
    return bill_boundary(year, month, bill_day)


def _month_span(frequency: Duration) -> int | None:
    if frequency.unit is CalendarUnit.MONTH:
        return frequency.count
    if frequency.unit is CalendarUnit.YEAR:
        return frequency.count * 12
    return None


def _day_span(frequency: Duration) -> int:
    return frequency.count * (7 if frequency.unit is CalendarUnit.WEEK else 1)


def period_at(start: dt.date, frequency: Duration, bill_day: int, day: dt.date) -> Period | None:
    """The period containing ``day`` for an allotment starting on ``start`` (``None`` before the start).

    Monthly periods align to ``bill_day`` (R39); daily and weekly ones run from ``start``.
    """
    if day < start:
        return None
    months = _month_span(frequency)
    if months is None:
        span = _day_span(frequency)
        index = (day - start).days // span
        begin = start + dt.timedelta(days=index * span)
        return Period(index, begin, begin + dt.timedelta(days=span), begin)
    anchor = _boundary_on_or_before(start, bill_day)
    elapsed = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    if bill_boundary(*add_months(anchor.year, anchor.month, elapsed), bill_day) > day:
        elapsed -= 1
    index = elapsed // months
    full_start = bill_boundary(*add_months(anchor.year, anchor.month, index * months), bill_day)
    end = bill_boundary(*add_months(anchor.year, anchor.month, (index + 1) * months), bill_day)
    return Period(index, max(full_start, start), end, full_start)


def period_by_index(start: dt.date, frequency: Duration, bill_day: int, index: int) -> Period:
    """Period number ``index`` (>= 0) of an allotment starting on ``start``."""
    months = _month_span(frequency)
    if months is None:
        span = _day_span(frequency)
        begin = start + dt.timedelta(days=index * span)
        return Period(index, begin, begin + dt.timedelta(days=span), begin)
    anchor = _boundary_on_or_before(start, bill_day)
    full_start = bill_boundary(*add_months(anchor.year, anchor.month, index * months), bill_day)
    end = bill_boundary(*add_months(anchor.year, anchor.month, (index + 1) * months), bill_day)
    return Period(index, max(full_start, start), end, full_start)


def add_duration(day: dt.date, duration: Duration) -> dt.date:
    """``day`` plus a calendar duration; month arithmetic clamps to the month's last day (Jan 31 + 1 month
    = Feb 28/29)."""
    months = _month_span(duration)
    if months is None:
        return day + dt.timedelta(days=_day_span(duration))
    year, month = add_months(day.year, day.month, months)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def prorate(size: int, active_days: int, period_days: int) -> int:
    """R40/R41: ``size x active / period`` in whole base units, half up; at least one day counts (R42)."""
    if period_days <= 0:
        return size
    active = max(1, min(active_days, period_days))
    exact = Decimal(size) * active / period_days
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))
