"""Tier arithmetic from a counter's (before, after) (rater.tiers): R15-R19 and R66 crossings.

Tier j covers (E(j-1), E(j)] with E(j) = s1 + ... + sj; with unmoved sizes a draw (before, after] enters
every tier occurrence whose start lies in [before, after).  Occurrence ordinals: tier j of k is j, repeat r
of the last tier k + r, the allowance used up (no repeats) k + 1; a draw enters the ordinals above the one
the period had entered that its ``after`` reaches (R17 with boundaries that move).
"""

from __future__ import annotations

from rater.tiers import TierSlice, allowance, percent_crossings, reached, slices, tier_at

TWO_HUNDREDS = (100, 100)
"""R15's example: two tiers of 100 messages each; E1 = 100, E2 = 200."""

REPEATING = (10, 5)
"""E(1) = 10, E(2) = 15; with repeats, repeat r of tier 2 covers (15 + 5(r - 1), 15 + 5r]."""


# --- R15 / R16: boundaries ------------------------------------------------------------------------------------


def test_exactly_e1_stays_in_tier_1() -> None:
    """R15/R16: 100 units from 0 fill tier 1 (0, 100] and do not reach tier 2 (C = E1 = 100 is not > E1)."""
    assert slices(TWO_HUNDREDS, False, 0, 100) == [TierSlice(1, 0, 100, entered=True, start=0, end=100)]


def test_e1_plus_one_enters_tier_2() -> None:
    """R15/R16: the 101st unit reaches tier 2: 0 -> 101 is 100 in T1 and 1 in T2 (entered, starts at 100)."""
    assert slices(TWO_HUNDREDS, False, 0, 101) == [
        TierSlice(1, 0, 100, entered=True, start=0, end=100),
        TierSlice(2, 0, 1, entered=True, start=100, end=200),
    ]


def test_a_draw_starting_at_e1_enters_tier_2() -> None:
    """R16: before = 100 = E1, after = 101: one unit in T2, entered by this draw (before <= start = 100)."""
    assert slices(TWO_HUNDREDS, False, 100, 101) == [TierSlice(2, 0, 1, entered=True, start=100, end=200)]


def test_a_draw_inside_a_tier_does_not_enter_it() -> None:
    """R17: the flat charge is once per period: 30 -> 60 lies inside T1, already entered at unit 1."""
    assert slices(TWO_HUNDREDS, False, 30, 60) == [TierSlice(1, 0, 30, entered=False, start=0, end=100)]


def test_tier_1_is_entered_by_the_first_unit() -> None:
    """R17: any usage > 0 reaches tier 1: 0 -> 1 enters T1 with 1 unit."""
    assert slices(TWO_HUNDREDS, False, 0, 1) == [TierSlice(1, 0, 1, entered=True, start=0, end=100)]


def test_zero_quantity_gives_no_slice() -> None:
    """Q20/R17: a draw of 0 (before == after) touches no tier, so no flat charge, even at C = 0 or C = E1."""
    assert slices(TWO_HUNDREDS, False, 0, 0) == []
    assert slices(TWO_HUNDREDS, False, 100, 100) == []
    assert slices(REPEATING, True, 10**9, 10**9) == []


def test_without_repeats_nothing_lies_past_the_last_tier() -> None:
    """R19b: without repeats the tiers end at E2 = 200: a (hypothetical) draw 150 -> 250 has only its 50 units
    in T2; the other 50 belong to no tier (the store never draws them: they overflow)."""
    assert slices(TWO_HUNDREDS, False, 150, 250) == [TierSlice(2, 0, 50, entered=False, start=100, end=200)]
    assert slices(TWO_HUNDREDS, False, 200, 210) == []


# --- R19a: repeats --------------------------------------------------------------------------------------------


def test_last_tier_repeats_with_each_start_entered() -> None:
    """R19a: sizes 10, 5 repeating; 0 -> 27: T1 10 (0-10], T2 5 (10-15], repeat 1 (15-20], repeat 2 (20-25],
    repeat 3 gets 27 - 25 = 2 units (25-30]; every occurrence starts inside the draw, so all are entered."""
    assert slices(REPEATING, True, 0, 27) == [
        TierSlice(1, 0, 10, entered=True, start=0, end=10),
        TierSlice(2, 0, 5, entered=True, start=10, end=15),
        TierSlice(2, 1, 5, entered=True, start=15, end=20),
        TierSlice(2, 2, 5, entered=True, start=20, end=25),
        TierSlice(2, 3, 2, entered=True, start=25, end=30),
    ]


def test_repeat_1_starts_right_after_e_k() -> None:
    """R19a: before = 15 = E2 is not > E2, so the walk is the ordinary one: 15 -> 16 enters repeat 1 (15, 20].
    before = 16: the jump gives skip = (16 - 15) // 5 = 0 -> repeat 1 again, not entered (16 > 15)."""
    assert slices(REPEATING, True, 15, 16) == [TierSlice(2, 1, 1, entered=True, start=15, end=20)]
    assert slices(REPEATING, True, 16, 17) == [TierSlice(2, 1, 1, entered=False, start=15, end=20)]


def test_repeats_far_beyond_jump_arithmetically() -> None:
    """R19a: before = 10^9.  skip = (10^9 - 15) // 5 = 999,999,985 // 5 = 199,999,997, so the walk starts at
    repeat 199,999,998 covering (15 + 5 x 199,999,997, +5] = (10^9, 10^9 + 5].  A draw of 7 units: 5 there
    (entered: before == start) and 2 in repeat 199,999,999 (10^9 + 5, 10^9 + 10] (entered)."""
    before = 10**9
    assert slices(REPEATING, True, before, before + 7) == [
        TierSlice(2, 199_999_998, 5, entered=True, start=before, end=before + 5),
        TierSlice(2, 199_999_999, 2, entered=True, start=before + 5, end=before + 10),
    ]


def test_repeats_far_beyond_mid_occurrence() -> None:
    """R19a: before = 10^9 + 3 lies inside repeat 199,999,998 (10^9, 10^9 + 5]: skip = (10^9 + 3 - 15) // 5 =
    199,999,997 (remainder 3).  3 -> 5 units: 2 there (not entered), 1 entering repeat 199,999,999."""
    before = 10**9 + 3
    assert slices(REPEATING, True, before, before + 3) == [
        TierSlice(2, 199_999_998, 2, entered=False, start=10**9, end=10**9 + 5),
        TierSlice(2, 199_999_999, 1, entered=True, start=10**9 + 5, end=10**9 + 10),
    ]


# --- tier_at and allowance ------------------------------------------------------------------------------------


def test_tier_at() -> None:
    """R15: unit C falls in (tier, repeat): 0 -> (0, 0) (no usage); 1 and 100 -> T1; 101 and 200 -> T2; past
    E2 without repeats -> the last tier (2, 0).  Repeating 10, 5: 15 -> (2, 0); 16 and 20 -> (2, 1); 21 ->
    (2, 2); 10^9 + 1 -> repeat (10^9 + 1 - 15 - 1) // 5 + 1 = 199,999,998."""
    assert tier_at(TWO_HUNDREDS, False, 0) == (0, 0)
    assert tier_at(TWO_HUNDREDS, False, 1) == (1, 0)
    assert tier_at(TWO_HUNDREDS, False, 100) == (1, 0)
    assert tier_at(TWO_HUNDREDS, False, 101) == (2, 0)
    assert tier_at(TWO_HUNDREDS, False, 200) == (2, 0)
    assert tier_at(TWO_HUNDREDS, False, 250) == (2, 0)
    assert tier_at(REPEATING, True, 15) == (2, 0)
    assert tier_at(REPEATING, True, 16) == (2, 1)
    assert tier_at(REPEATING, True, 20) == (2, 1)
    assert tier_at(REPEATING, True, 21) == (2, 2)
    assert tier_at(REPEATING, True, 10**9 + 1) == (2, 199_999_998)


def test_allowance() -> None:
    """R19: the most a period can draw is E(k) = 100 + 100 = 200; unbounded (None) when the last tier repeats."""
    assert allowance(TWO_HUNDREDS, False) == 200
    assert allowance(REPEATING, False) == 15
    assert allowance(REPEATING, True) is None
    assert allowance(TWO_HUNDREDS, True) is None


# --- R66: percentage crossings --------------------------------------------------------------------------------


def test_percent_crossings_one_at_a_time() -> None:
    """R66: a 100-unit tier with 50% and 90%: marks at 0 + 50 and 0 + 90.  0 -> 50 crosses 50% (before 0 < 50
    <= 50); 50 -> 95 crosses only 90% (50 is not > before = 50); 95 -> 100 crosses nothing."""
    assert percent_crossings((100,), False, 0, 50, (50, 90)) == [(1, 0, 50)]
    assert percent_crossings((100,), False, 50, 95, (50, 90)) == [(1, 0, 90)]
    assert percent_crossings((100,), False, 95, 100, (50, 90)) == []


def test_percent_crossings_both_in_one_draw() -> None:
    """R66: 0 -> 95 passes both marks 50 and 90 of the 100-unit tier: [(1, 0, 50), (1, 0, 90)]; the order of
    the configured percentages does not matter, and a repeated percentage fires once."""
    assert percent_crossings((100,), False, 0, 95, (90, 50)) == [(1, 0, 50), (1, 0, 90)]
    assert percent_crossings((100,), False, 0, 95, (50, 50, 90)) == [(1, 0, 50), (1, 0, 90)]


def test_percent_crossings_ceil_for_odd_sizes() -> None:
    """R66: 50% of a 3-unit tier is 1.5 -> ceil -> mark at 2: 0 -> 1 crosses nothing, 1 -> 2 crosses.  Tier 2 of
    (100, 3) covers (100, 103]: its mark is 100 + 2 = 102, and 0 -> 103 crosses 50% of T1 (at 50) and of T2."""
    assert percent_crossings((3,), False, 0, 1, (50,)) == []
    assert percent_crossings((3,), False, 1, 2, (50,)) == [(1, 0, 50)]
    assert percent_crossings((100, 3), False, 101, 102, (50,)) == [(2, 0, 50)]
    assert percent_crossings((100, 3), False, 0, 103, (50,)) == [(1, 0, 50), (2, 0, 50)]


def test_percent_crossings_per_repeat_and_at_100() -> None:
    """R66: each occurrence fires its own crossings.  Sizes 10, 5 repeating, 80% and 100%: T1 marks 8, 10;
    T2 (10, 15] marks 10 + ceil(4) = 14 and 15; repeat 1 (15, 20] marks 19 and 20.  12 -> 19 crosses T2 80%
    (14) and 100% (15) and repeat 1's 80% (19)."""
    assert percent_crossings(REPEATING, True, 12, 19, (80, 100)) == [(2, 0, 80), (2, 0, 100), (2, 1, 80)]
    assert percent_crossings(REPEATING, True, 0, 10, (80, 100)) == [(1, 0, 80), (1, 0, 100)]


def test_percent_crossings_without_percentages_or_usage() -> None:
    """R66: no configured percentages -> nothing; a zero draw -> nothing."""
    assert percent_crossings((100,), False, 0, 100, ()) == []
    assert percent_crossings((100,), False, 50, 50, (50,)) == []


# --- R17: occurrence ordinals and boundaries that move ---------------------------------------------------------


def test_reached_counts_tiers_and_the_allowance_used_up() -> None:
    """R16 + R19b: tiers 100 + 100 without repeats.  0 -> 0 (no usage); 1 and 100 -> 1 (T1); 101 and 199 ->
    2 (T2); 200 = E2 -> 3 (used up, the exhausted crossing); 250 (only after boundaries moved down) -> 3."""
    assert [reached(TWO_HUNDREDS, False, c) for c in (0, 1, 100, 101, 199, 200, 250)] == [0, 1, 1, 2, 2, 3, 3]


def test_reached_counts_repeats() -> None:
    """R19a: tiers 10 + 5 repeating.  15 = E2 -> 2; 16 and 20 -> 2 + ceil(1/5) = 2 + ceil(5/5) = 3 (repeat
    1); 21 -> 4; 10^9 + 1 -> 2 + ceil((10^9 + 1 - 15) / 5) = 2 + ceil(199,999,997.2) = 200,000,000, the
    ordinal of repeat 199,999,998, where tier_at puts that unit."""
    assert [reached(REPEATING, True, c) for c in (15, 16, 20, 21)] == [2, 3, 3, 4]
    assert reached(REPEATING, True, 10**9 + 1) == 2 + 199_999_998
    assert tier_at(REPEATING, True, 10**9 + 1) == (2, 199_999_998)


def test_reached_with_tiers_of_size_0() -> None:
    """R16 for a Variable pool's empty tiers (R59): (0, 100): unit 1 is past E1 = 0, so it reaches T2 (2);
    (100, 0) without repeats: 100 = E2 uses the allowance up (3); with repeats an empty last tier has nothing
    to repeat: 100 -> 1 (T2 covers (100, 100], not reached), 150 -> 2 and no further."""
    assert reached((0, 100), False, 1) == 2
    assert reached((100, 0), False, 100) == 3
    assert (reached((100, 0), True, 100), reached((100, 0), True, 150)) == (1, 2)


def test_a_tier_entered_before_its_boundary_moved_up_is_not_entered_again() -> None:
    """R17, the issue's case.  Tiers 100 + 100: 0 -> 110 enters T1 and T2 (the period has entered 2).  A
    contributor joins and the tiers grow to 150 + 150.  110 -> 160 crosses the new start of T2 (150), but
    ordinal 2 is not above 2: nothing is entered; 160 -> 300 reaches 3 (used up), still no tier occurrence."""
    assert slices(TWO_HUNDREDS, False, 0, 110, 0) == [
        TierSlice(1, 0, 100, entered=True, start=0, end=100),
        TierSlice(2, 0, 10, entered=True, start=100, end=200),
    ]
    grown = (150, 150)
    assert slices(grown, False, 110, 160, 2) == [
        TierSlice(1, 0, 40, entered=False, start=0, end=150),
        TierSlice(2, 0, 10, entered=False, start=150, end=300),
    ]
    assert slices(grown, False, 160, 300, 2) == [TierSlice(2, 0, 140, entered=False, start=150, end=300)]


def test_a_tier_the_period_never_entered_is_entered_once_its_start_is_passed() -> None:
    """R17: tiers grow to 150 + 150 before the counter reaches T2 (entered 1 at 90): 90 -> 160 enters the new
    T2 at its new start, 150."""
    assert slices((150, 150), False, 90, 160, 1) == [
        TierSlice(1, 0, 60, entered=False, start=0, end=150),
        TierSlice(2, 0, 10, entered=True, start=150, end=300),
    ]


def test_occurrences_a_boundary_moved_down_under_the_counter_are_entered_by_the_next_draw() -> None:
    """R16/R17: the counter stands at 120 having entered only T1 (the tiers were larger then).  Under tiers
    50 + 50 + 100, 120 -> 130 reaches T3: T2 (50, 100] lies wholly below the draw and is entered now with
    quantity 0, T3 with the draw's 10 units."""
    assert slices((50, 50, 100), False, 120, 130, 1) == [
        TierSlice(2, 0, 0, entered=True, start=50, end=100),
        TierSlice(3, 0, 10, entered=True, start=100, end=200),
    ]


def test_repeats_are_entered_once_when_the_last_tier_grows() -> None:
    """R19a + R17: tiers 10 + 5 repeating, 0 -> 16 entered repeat 1 (ordinal 3).  The last tier grows to
    10: 16 -> 26 lies in (10, 20] (T2, ordinal 2) and (20, 30] (repeat 1, ordinal 3): neither is above 3;
    26 -> 31 reaches repeat 2 (ordinal 4, (30, 40]), entered."""
    assert reached(REPEATING, True, 16) == 3
    assert slices((10, 10), True, 16, 26, 3) == [
        TierSlice(2, 0, 4, entered=False, start=10, end=20),
        TierSlice(2, 1, 6, entered=False, start=20, end=30),
    ]
    assert slices((10, 10), True, 26, 31, 3) == [
        TierSlice(2, 1, 4, entered=False, start=20, end=30),
        TierSlice(2, 2, 1, entered=True, start=30, end=40),
    ]


def test_a_repricing_names_the_occurrences_entered() -> None:
    """R41: a re-pricing of (0, consumed] passes its own ``due``: the occurrences 1..due are entered even
    past the consumption (a period that entered T2 under other tiers), each untouched one with quantity 0."""
    assert slices(TWO_HUNDREDS, False, 0, 50, 0, 2) == [
        TierSlice(1, 0, 50, entered=True, start=0, end=100),
        TierSlice(2, 0, 0, entered=True, start=100, end=200),
    ]
    assert slices(TWO_HUNDREDS, False, 0, 0, 0, 3) == [
        TierSlice(1, 0, 0, entered=True, start=0, end=100),
        TierSlice(2, 0, 0, entered=True, start=100, end=200),
    ]
