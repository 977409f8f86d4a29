"""Period arithmetic (rater.periods): bill-day alignment (R39), calendar durations (R37), proration (R40-R42).

Every date is an account-local day; periods are [start, end) with the start inclusive and the end exclusive
(R42).  ``full_start`` is where the period would have started had the allotment existed before it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from rater.periods import Period, add_duration, period_at, period_by_index, prorate
from rater.units import CalendarUnit, Duration

MONTH = Duration(1, CalendarUnit.MONTH)
QUARTER = Duration(3, CalendarUnit.MONTH)
YEAR = Duration(1, CalendarUnit.YEAR)
WEEK = Duration(1, CalendarUnit.WEEK)
FORTNIGHT = Duration(2, CalendarUnit.WEEK)
TEN_DAYS = Duration(10, CalendarUnit.DAY)


def d(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, day)


def _at(start: dt.date, frequency: Duration, bill_day: int, day: dt.date) -> Period:
    found = period_at(start, frequency, bill_day, day)
    assert found is not None
    return found


# --- R39: monthly periods aligned to the usage bill day ------------------------------------------------------


def test_stub_first_period_runs_from_the_start_to_the_next_bill_day() -> None:
    """R39: start Jun 16 2026, bill day 1, monthly.  The boundary on or before Jun 16 is Jun 1, so period 0 is
    the stub [Jun 16, Jul 1) (15 days) with full_start Jun 1 (a full period has 30 days); period 1 is the full
    [Jul 1, Aug 1) (31 days)."""
    start = d(2026, 6, 16)
    first = _at(start, MONTH, 1, d(2026, 6, 20))
    assert first == Period(0, d(2026, 6, 16), d(2026, 7, 1), d(2026, 6, 1))
    assert (first.days, first.full_days) == (15, 30)
    assert _at(start, MONTH, 1, d(2026, 6, 16)) == first
    assert _at(start, MONTH, 1, d(2026, 6, 30)) == first
    second = _at(start, MONTH, 1, d(2026, 7, 1))
    assert second == Period(1, d(2026, 7, 1), d(2026, 8, 1), d(2026, 7, 1))
    assert (second.days, second.full_days) == (31, 31)


def test_start_on_the_bill_day_has_no_stub() -> None:
    """R39: start Jun 15, bill day 15 -> the start is a boundary: period 0 = [Jun 15, Jul 15), full_start = start."""
    assert _at(d(2026, 6, 15), MONTH, 15, d(2026, 7, 14)) == Period(0, d(2026, 6, 15), d(2026, 7, 15), d(2026, 6, 15))
    assert _at(d(2026, 6, 15), MONTH, 15, d(2026, 7, 15)).index == 1


def test_bill_day_31_in_february_of_a_leap_year() -> None:
    """R39: bill day 31 past a short month's end is its last day.  2028 is a leap year: start Jan 31 2028 ->
    [Jan 31, Feb 29), [Feb 29, Mar 31), [Mar 31, Apr 30) (April has 30 days), [Apr 30, May 31)."""
    start = d(2028, 1, 31)
    assert _at(start, MONTH, 31, d(2028, 2, 28)) == Period(0, d(2028, 1, 31), d(2028, 2, 29), d(2028, 1, 31))
    assert _at(start, MONTH, 31, d(2028, 2, 29)) == Period(1, d(2028, 2, 29), d(2028, 3, 31), d(2028, 2, 29))
    assert _at(start, MONTH, 31, d(2028, 3, 30)).index == 1
    assert _at(start, MONTH, 31, d(2028, 3, 31)) == Period(2, d(2028, 3, 31), d(2028, 4, 30), d(2028, 3, 31))
    assert _at(start, MONTH, 31, d(2028, 4, 30)) == Period(3, d(2028, 4, 30), d(2028, 5, 31), d(2028, 4, 30))


def test_bill_day_31_in_february_of_a_common_year() -> None:
    """R39: 2026 is a common year: bill day 31 falls on Feb 28.  Start Feb 10 2026: the boundary on or before it
    is Jan 31, so period 0 = [Feb 10, Feb 28) with full_start Jan 31 (28 full days); Feb 28 opens period 1 =
    [Feb 28, Mar 31)."""
    start = d(2026, 2, 10)
    first = _at(start, MONTH, 31, d(2026, 2, 27))
    assert first == Period(0, d(2026, 2, 10), d(2026, 2, 28), d(2026, 1, 31))
    assert (first.days, first.full_days) == (18, 28)
    assert _at(start, MONTH, 31, d(2026, 2, 28)) == Period(1, d(2026, 2, 28), d(2026, 3, 31), d(2026, 2, 28))


def test_bill_day_31_in_april() -> None:
    """R39: April has 30 days, so bill day 31 is Apr 30: start Apr 5 2026 -> [Apr 5, Apr 30) from full_start
    Mar 31; Apr 30 opens [Apr 30, May 31)."""
    start = d(2026, 4, 5)
    assert _at(start, MONTH, 31, d(2026, 4, 29)) == Period(0, d(2026, 4, 5), d(2026, 4, 30), d(2026, 3, 31))
    assert _at(start, MONTH, 31, d(2026, 4, 30)) == Period(1, d(2026, 4, 30), d(2026, 5, 31), d(2026, 4, 30))


def test_bill_day_30_around_february() -> None:
    """R39: bill day 30, start Jan 30 2026: [Jan 30, Feb 28) (Feb 30 -> Feb 28), then [Feb 28, Mar 30): the
    boundary returns to the 30th in March."""
    start = d(2026, 1, 30)
    assert _at(start, MONTH, 30, d(2026, 2, 27)) == Period(0, d(2026, 1, 30), d(2026, 2, 28), d(2026, 1, 30))
    assert _at(start, MONTH, 30, d(2026, 2, 28)) == Period(1, d(2026, 2, 28), d(2026, 3, 30), d(2026, 2, 28))
    assert _at(start, MONTH, 30, d(2026, 3, 30)) == Period(2, d(2026, 3, 30), d(2026, 4, 30), d(2026, 3, 30))


def test_bill_day_29_in_leap_and_common_february() -> None:
    """R39: bill day 29 is Feb 29 in 2028 and Feb 28 in 2026.
    2028, start Feb 1: [Feb 1, Feb 29) from full_start Jan 29, then [Feb 29, Mar 29).
    2026, start Feb 1: [Feb 1, Feb 28) from full_start Jan 29, then [Feb 28, Mar 29)."""
    assert _at(d(2028, 2, 1), MONTH, 29, d(2028, 2, 28)) == Period(0, d(2028, 2, 1), d(2028, 2, 29), d(2028, 1, 29))
    assert _at(d(2028, 2, 1), MONTH, 29, d(2028, 2, 29)) == Period(1, d(2028, 2, 29), d(2028, 3, 29), d(2028, 2, 29))
    assert _at(d(2026, 2, 1), MONTH, 29, d(2026, 2, 27)) == Period(0, d(2026, 2, 1), d(2026, 2, 28), d(2026, 1, 29))
    assert _at(d(2026, 2, 1), MONTH, 29, d(2026, 2, 28)) == Period(1, d(2026, 2, 28), d(2026, 3, 29), d(2026, 2, 28))


def test_start_on_a_clamped_boundary() -> None:
    """R39: start Feb 28 2026 with bill day 31: Feb 28 is that month's boundary, so there is no stub:
    [Feb 28, Mar 31) with full_start Feb 28; start Mar 1 instead is a stub from full_start Feb 28."""
    assert _at(d(2026, 2, 28), MONTH, 31, d(2026, 3, 15)) == Period(0, d(2026, 2, 28), d(2026, 3, 31), d(2026, 2, 28))
    assert _at(d(2026, 3, 1), MONTH, 31, d(2026, 3, 15)) == Period(0, d(2026, 3, 1), d(2026, 3, 31), d(2026, 2, 28))


def test_quarterly_periods_align_to_the_bill_day() -> None:
    """R39: 3 months, bill day 1, start Feb 10 2026: boundaries every 3rd month from Feb 1:
    [Feb 10, May 1) (full_start Feb 1), [May 1, Aug 1), [Aug 1, Nov 1), [Nov 1, Feb 1 2027)."""
    start = d(2026, 2, 10)
    assert _at(start, QUARTER, 1, d(2026, 4, 30)) == Period(0, d(2026, 2, 10), d(2026, 5, 1), d(2026, 2, 1))
    assert _at(start, QUARTER, 1, d(2026, 5, 1)) == Period(1, d(2026, 5, 1), d(2026, 8, 1), d(2026, 5, 1))
    assert _at(start, QUARTER, 1, d(2026, 10, 31)) == Period(2, d(2026, 8, 1), d(2026, 11, 1), d(2026, 8, 1))
    assert _at(start, QUARTER, 1, d(2027, 1, 31)) == Period(3, d(2026, 11, 1), d(2027, 2, 1), d(2026, 11, 1))


def test_quarterly_with_bill_day_31() -> None:
    """R39: 3 months, bill day 31, start Jan 31 2026: [Jan 31, Apr 30) (Apr 31 -> 30), [Apr 30, Jul 31),
    [Jul 31, Oct 31)."""
    start = d(2026, 1, 31)
    assert _at(start, QUARTER, 31, d(2026, 4, 29)) == Period(0, d(2026, 1, 31), d(2026, 4, 30), d(2026, 1, 31))
    assert _at(start, QUARTER, 31, d(2026, 4, 30)) == Period(1, d(2026, 4, 30), d(2026, 7, 31), d(2026, 4, 30))
    assert _at(start, QUARTER, 31, d(2026, 8, 1)) == Period(2, d(2026, 7, 31), d(2026, 10, 31), d(2026, 7, 31))


def test_yearly_periods_align_to_the_bill_day() -> None:
    """R39: 1 year (= 12 months), bill day 15, start Mar 20 2026: the boundary on or before is Mar 15 2026, so
    period 0 = [Mar 20 2026, Mar 15 2027) with full_start Mar 15 2026 (365 full days); period 1 =
    [Mar 15 2027, Mar 15 2028)."""
    start = d(2026, 3, 20)
    first = _at(start, YEAR, 15, d(2027, 3, 14))
    assert first == Period(0, d(2026, 3, 20), d(2027, 3, 15), d(2026, 3, 15))
    assert first.full_days == 365
    assert _at(start, YEAR, 15, d(2027, 3, 15)) == Period(1, d(2027, 3, 15), d(2028, 3, 15), d(2027, 3, 15))


def test_yearly_bill_day_29_from_a_leap_february() -> None:
    """R39: yearly, bill day 29, start Feb 29 2028 -> [Feb 29 2028, Feb 28 2029) (2029 is common), then
    [Feb 28 2029, Feb 28 2030)."""
    start = d(2028, 2, 29)
    assert _at(start, YEAR, 29, d(2029, 2, 27)) == Period(0, d(2028, 2, 29), d(2029, 2, 28), d(2028, 2, 29))
    assert _at(start, YEAR, 29, d(2029, 2, 28)) == Period(1, d(2029, 2, 28), d(2030, 2, 28), d(2029, 2, 28))


# --- day and week frequencies run from the start -------------------------------------------------------------


def test_week_periods_run_from_the_start_ignoring_the_bill_day() -> None:
    """R39: 1 week from Thursday Mar 5 2026 (bill day 1 ignored): [Mar 5, Mar 12), [Mar 12, Mar 19),
    and Mar 19 is index (19 - 5) // 7 = 2: [Mar 19, Mar 26).  No stub: full_start == start."""
    start = d(2026, 3, 5)
    assert _at(start, WEEK, 1, d(2026, 3, 5)) == Period(0, d(2026, 3, 5), d(2026, 3, 12), d(2026, 3, 5))
    assert _at(start, WEEK, 1, d(2026, 3, 11)).index == 0
    assert _at(start, WEEK, 1, d(2026, 3, 19)) == Period(2, d(2026, 3, 19), d(2026, 3, 26), d(2026, 3, 19))
    assert _at(start, FORTNIGHT, 1, d(2026, 3, 19)) == Period(1, d(2026, 3, 19), d(2026, 4, 2), d(2026, 3, 19))


def test_day_periods_run_from_the_start() -> None:
    """R39: 10 days from Feb 25 2026: index (Mar 17 - Feb 25) // 10 = 20 // 10 = 2 -> [Mar 17, Mar 27)."""
    start = d(2026, 2, 25)
    assert _at(start, TEN_DAYS, 31, d(2026, 3, 7)) == Period(1, d(2026, 3, 7), d(2026, 3, 17), d(2026, 3, 7))
    assert _at(start, TEN_DAYS, 31, d(2026, 3, 17)) == Period(2, d(2026, 3, 17), d(2026, 3, 27), d(2026, 3, 17))


@pytest.mark.parametrize("frequency", [MONTH, QUARTER, YEAR, WEEK, TEN_DAYS])
def test_period_at_before_the_start_is_none(frequency: Duration) -> None:
    """R10/R39: no period contains a day before the allotment starts: Jun 15 for a start on Jun 16 -> None."""
    assert period_at(d(2026, 6, 16), frequency, 1, d(2026, 6, 15)) is None
    assert period_at(d(2026, 6, 16), frequency, 1, d(2025, 1, 1)) is None


@pytest.mark.parametrize(
    ("start", "frequency", "bill_day"),
    [
        (d(2026, 6, 16), MONTH, 1),
        (d(2027, 12, 31), MONTH, 31),
        (d(2026, 1, 30), MONTH, 30),
        (d(2027, 11, 3), MONTH, 29),
        (d(2026, 2, 10), QUARTER, 31),
        (d(2026, 3, 20), YEAR, 15),
        (d(2026, 3, 5), WEEK, 1),
        (d(2026, 2, 25), TEN_DAYS, 1),
    ],
)
def test_period_by_index_agrees_with_period_at_for_every_day(
    start: dt.date, frequency: Duration, bill_day: int
) -> None:
    """R39: for every day over two years from the start, period_at(day) contains the day, equals
    period_by_index(its index), and consecutive periods tile time: the index grows by 0 or 1 from one day to
    the next, and a new period starts exactly where the previous one ended (no gap, no overlap)."""
    previous: Period | None = None
    for offset in range(2 * 366):
        day = start + dt.timedelta(days=offset)
        period = _at(start, frequency, bill_day, day)
        assert period.start <= day < period.end
        assert period.full_start <= period.start
        assert period_by_index(start, frequency, bill_day, period.index) == period
        if previous is None:
            assert period.index == 0
            assert period.start == start
        elif period.index != previous.index:
            assert period.index == previous.index + 1
            assert period.start == previous.end == day
        else:
            assert period == previous
        previous = period


# --- calendar durations (R37 expire-after, R50b time expiry) ------------------------------------------------


def test_add_duration_clamps_to_the_month_end() -> None:
    """R37: Jan 31 + 1 month = Feb 28 (2026) / Feb 29 (2028); Jan 31 + 3 months = Apr 30; Mar 10 + 3 months =
    Jun 10 (E10's expiry, end exclusive); Feb 29 2028 + 1 year = Feb 28 2029; 7 days and 2 weeks are days."""
    assert add_duration(d(2026, 1, 31), MONTH) == d(2026, 2, 28)
    assert add_duration(d(2028, 1, 31), MONTH) == d(2028, 2, 29)
    assert add_duration(d(2026, 1, 31), QUARTER) == d(2026, 4, 30)
    assert add_duration(d(2026, 3, 10), QUARTER) == d(2026, 6, 10)
    assert add_duration(d(2028, 2, 29), YEAR) == d(2029, 2, 28)
    assert add_duration(d(2026, 12, 15), MONTH) == d(2027, 1, 15)
    assert add_duration(d(2026, 3, 1), Duration(7, CalendarUnit.DAY)) == d(2026, 3, 8)
    assert add_duration(d(2026, 3, 1), FORTNIGHT) == d(2026, 3, 15)


# --- R40-R42: proration -------------------------------------------------------------------------------------


def test_prorate_e12_half_of_june() -> None:
    """R40 (E12): 30 GB tier 1, 15 active days of a 30-day June -> 30 x 15/30 = 15 (in GB and in bytes)."""
    assert prorate(30, 15, 30) == 15
    assert prorate(30 * 10**9, 15, 30) == 15 * 10**9


def test_prorate_rounds_half_up_to_whole_base_units() -> None:
    """R40: 10 x 1/3 = 3.33 -> 3; 10 x 2/3 = 6.67 -> 7; 1 x 15/30 = 0.5 -> 1 (half up); 3 x 1/2 = 1.5 -> 2;
    5 x 1/2 = 2.5 -> 3 (half up, not half even)."""
    assert prorate(10, 1, 3) == 3
    assert prorate(10, 2, 3) == 7
    assert prorate(1, 15, 30) == 1
    assert prorate(3, 1, 2) == 2
    assert prorate(5, 1, 2) == 3


def test_prorate_counts_at_least_one_day() -> None:
    """R42: a prorated period is at least one day: 0 active days counts as 1 -> 30 x 1/30 = 1; negative too."""
    assert prorate(30, 0, 30) == 1
    assert prorate(30, -3, 30) == 1
    assert prorate(30, 1, 30) == 1


def test_prorate_never_exceeds_the_full_size() -> None:
    """R40: active days are capped at the period's days: 30 x min(40, 30)/30 = 30; an empty period (0 days)
    leaves the size unchanged."""
    assert prorate(30, 40, 30) == 30
    assert prorate(30, 30, 30) == 30
    assert prorate(30, 5, 0) == 30
