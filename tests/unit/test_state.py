"""The in-memory twin of the kernel (rater.memory_store.MemoryStore): the one atomic step of rating.

Dedupe (R1), ordered draw with caps (R11, R19b), participation limits (R61), observe counters for billing
activation (R50, R51), ``requires`` (R53), rollover roll-forward (R36, E8), late records, retention, adjust
(R41) and mark.
"""

from __future__ import annotations

import copy
from typing import Any

from rater.state import Counter, Draw
from tests.unit._builders import Twin


def _core(draw: Draw) -> tuple[int, int, int, int | None]:
    """(before, after, carry, allowance with carry) of one counter's draw."""
    return draw.before, draw.after, draw.carry, draw.allowance


def test_dedupe_returns_the_stored_result_and_changes_nothing() -> None:
    """R1: record "r1" draws 30 of a 100 allowance: (0, 30), remaining 0.  Redelivered with quantity 80, it
    gets the stored result back (0 -> 30, remaining 0) with replayed=True, and the store is unchanged (c:0
    stays 30, not 110)."""
    store = Twin()
    counter = Counter("k", 0, allowance=100)
    first = store.draw("r1", 30, [counter])
    assert _core(first.draws[0]) == (0, 30, 0, 100)
    assert first.remaining == 0
    assert not first.replayed
    before = copy.deepcopy(store.hashes)
    again = store.draw("r1", 80, [counter, Counter("other", 0, allowance=5)])
    assert again.replayed
    assert (again.draws, again.remaining) == (first.draws, first.remaining)
    assert store.hashes == before
    assert store.fields("k")["c:0"] == 30
    assert "other" not in store.hashes


def test_draw_in_order_with_caps_fills_the_first_counter_first() -> None:
    """R11/R14: counters of 5 and 10, quantity 12 -> 5 from the first, 12 - 5 = 7 from the second,
    remaining 0."""
    store = Twin()
    result = store.draw("r1", 12, [Counter("a", 0, allowance=5), Counter("b", 0, allowance=10)])
    assert [(d.before, d.after, d.taken) for d in result.draws] == [(0, 5, 5), (0, 7, 7)]
    assert result.remaining == 0


def test_draw_past_every_cap_leaves_the_rest_remaining() -> None:
    """R19b: counters of 5 and 10, quantity 20 -> 5 + 10 taken, 20 - 15 = 5 remaining (overflow)."""
    store = Twin()
    result = store.draw("r1", 20, [Counter("a", 0, allowance=5), Counter("b", 0, allowance=10)])
    assert [(d.before, d.after) for d in result.draws] == [(0, 5), (0, 10)]
    assert [d.allowance for d in result.draws] == [5, 10]
    assert result.remaining == 5


def test_caps_count_earlier_consumption() -> None:
    """R19b: a 10 allowance with 7 already consumed takes min(8, 10 - 7) = 3; the next record finds it full
    (before 10, after 10) and everything remains."""
    store = Twin()
    store.draw("r1", 7, [Counter("a", 0, allowance=10)])
    second = store.draw("r2", 8, [Counter("a", 0, allowance=10)])
    assert (second.draws[0].before, second.draws[0].after, second.remaining) == (7, 10, 5)
    third = store.draw("r3", 4, [Counter("a", 0, allowance=10)])
    assert (third.draws[0].taken, third.remaining) == (0, 4)


def test_unbounded_counter_takes_all() -> None:
    """R19a: a repeating bucket has no cap: 1,000,000 units all go to it (allowance None), remaining 0, and a
    later counter takes nothing."""
    store = Twin()
    result = store.draw(
        "r1", 1_000_000, [Counter("rep", 0, allowance=10, unbounded=True), Counter("b", 0, allowance=5)]
    )
    assert _core(result.draws[0]) == (0, 1_000_000, 0, None)
    assert result.draws[1].taken == 0
    assert result.remaining == 0


def test_participation_limit_caps_and_accumulates() -> None:
    """R61: pool of 100, participant A limited to 30 (field l:0:A).
    r1: A draws 20 -> takes min(20, 100, 30 - 0) = 20; limit 0 -> 20.
    r2: A draws 20 -> takes min(20, 80, 30 - 20) = 10; limit 20 -> 30; 10 remain.
    r3: A draws 5 -> takes 0.
    r4: B (own field l:0:B, limit 30) draws 25 -> takes 25 from the pool (pool consumed 30 -> 55)."""
    store = Twin()

    def pool(participant: str) -> Counter:
        return Counter("pool", 0, allowance=100, limit_field=f"l:0:{participant}", limit=30)

    r1 = store.draw("r1", 20, [pool("A")])
    assert (r1.draws[0].taken, r1.draws[0].limit_before, r1.draws[0].limit_after, r1.remaining) == (20, 0, 20, 0)
    r2 = store.draw("r2", 20, [pool("A")])
    assert (r2.draws[0].before, r2.draws[0].after) == (20, 30)
    assert (r2.draws[0].limit_before, r2.draws[0].limit_after, r2.remaining) == (20, 30, 10)
    r3 = store.draw("r3", 5, [pool("A")])
    assert (r3.draws[0].taken, r3.remaining) == (0, 5)
    r4 = store.draw("r4", 25, [pool("B")])
    assert (r4.draws[0].before, r4.draws[0].after, r4.draws[0].limit_after) == (30, 55, 25)
    assert store.fields("pool") == {"c:0": 55, "l:0:A": 30, "l:0:B": 25, "latest": 0}


def test_a_draw_writes_only_the_fields_it_changes() -> None:
    """Store contract point 3: a counter without rollover keeps no r:/a: fields, and a take of 0 writes no c:
    or l: field (absent reads as 0).  A takes 10 of 10; B (limit field l:0:B) is read but takes nothing, so
    its hash holds only "latest"; a rollover counter keeps r:0 (carry 0) and a:0 even when it takes nothing."""
    store = Twin()
    counters = [
        Counter("A", 0, allowance=10),
        Counter("B", 0, allowance=10, limit_field="l:0:B", limit=5),
        Counter("R", 0, allowance=7, rollover=True, full_allowance=7),
    ]
    result = store.draw("r1", 10, counters)
    assert [(d.before, d.after, d.allowance) for d in result.draws] == [(0, 10, 10), (0, 0, 10), (0, 0, 7)]
    assert store.fields("A") == {"c:0": 10, "latest": 0}
    assert store.fields("B") == {"latest": 0}
    assert store.fields("R") == {"r:0": 0, "a:0": 7, "latest": 0}


def test_participation_limit_past_it_goes_to_the_next_counter() -> None:
    """R61: A is limited to 10 in plan 1 (pool 100) and draws 25: 10 from plan 1, then 15 from plan 2 (pool 50),
    remaining 0."""
    store = Twin()
    result = store.draw(
        "r1",
        25,
        [Counter("plan1", 0, allowance=100, limit_field="l:0:A", limit=10), Counter("plan2", 0, allowance=50)],
    )
    assert [d.taken for d in result.draws] == [10, 15]
    assert result.remaining == 0


def test_observe_counter_counts_without_taking_and_marks_at_the_threshold() -> None:
    """R50/R51: an observe counter with threshold 100 (E14 in units: 0.6 MB then 0.5 MB of a 1 MB threshold).
    r1: 60 -> count 0 -> 60, not marked; the next counter (allowance 1000) still takes all 60 (remaining 0).
    r2: 50 -> count 60 -> 110 >= 100: marked, field "activated" set.  r3: 10 -> 120, not marked again."""
    store = Twin()
    trigger = Counter("act", 0, observe=True, threshold=100)
    bucket = Counter("b", 0, allowance=1000)
    r1 = store.draw("r1", 60, [trigger, bucket])
    assert (r1.draws[0].before, r1.draws[0].after, r1.draws[0].marked) == (0, 60, False)
    assert (r1.draws[1].taken, r1.remaining) == (60, 0)
    assert "activated" not in store.fields("act")
    r2 = store.draw("r2", 50, [trigger])
    assert (r2.draws[0].before, r2.draws[0].after, r2.draws[0].marked) == (60, 110, True)
    assert r2.remaining == 50
    assert store.fields("act")["activated"] == 1
    r3 = store.draw("r3", 10, [trigger])
    assert (r3.draws[0].after, r3.draws[0].marked) == (120, False)


def test_observe_counter_reaching_exactly_the_threshold_marks() -> None:
    """R51: "reaches" means cumulative >= threshold: 40 + 60 = 100 >= 100 marks on the second record."""
    store = Twin()
    trigger = Counter("act", 0, observe=True, threshold=100)
    assert not store.draw("r1", 40, [trigger]).draws[0].marked
    assert store.draw("r2", 60, [trigger]).draws[0].marked


def test_observe_counter_activate_now_marks_once() -> None:
    """R50b: activate_now (the time rule) marks at once even with count 1 < threshold 100; the next draw, again
    with activate_now, is not marked (the field is already set).  Threshold 0 without activate_now never marks."""
    store = Twin()
    first = store.draw("r1", 1, [Counter("act", 0, observe=True, threshold=100, activate_now=True)])
    assert first.draws[0].marked
    second = store.draw("r2", 1, [Counter("act", 0, observe=True, threshold=100, activate_now=True)])
    assert not second.draws[0].marked
    assert store.fields("act")["activated"] == 1
    quiet = store.draw("r3", 10**6, [Counter("other", 0, observe=True)])
    assert not quiet.draws[0].marked
    assert "activated" not in store.fields("other")


def test_requires_skips_a_counter_until_the_field_exists() -> None:
    """R53: a bucket requiring ("act", "activated") takes nothing before activation: r1 of 30 -> (0, 0),
    30 remaining.  After mark("act", "activated"), r2 of 30 takes 30 of its 100."""
    store = Twin()
    gated = Counter("pkg-bucket", 0, allowance=100, requires=("act", "activated"))
    r1 = store.draw("r1", 30, [gated])
    assert (r1.draws[0].before, r1.draws[0].after, r1.remaining) == (0, 0, 30)
    assert store.mark("act", "activated", 1)
    r2 = store.draw("r2", 30, [gated])
    assert (r2.draws[0].before, r2.draws[0].after, r2.remaining) == (0, 30, 0)


def _rollover(period: int) -> Counter:
    return Counter("roll", period, allowance=100, rollover=True, full_allowance=100)


def test_rollover_carries_unused_into_the_next_period() -> None:
    """R36 / E8: S = 100.  Period 0: used 80 -> carry max(0, 100 - 80) = 20.  Period 1: allowance 100 + 20 = 120,
    used 110 -> carry 120 - 110 = 10.  Period 2: allowance 110 (carry compounds)."""
    store = Twin()
    p0 = store.draw("r1", 80, [_rollover(0)])
    assert _core(p0.draws[0]) == (0, 80, 0, 100)
    p1 = store.draw("r2", 110, [_rollover(1)])
    assert _core(p1.draws[0]) == (0, 110, 20, 120)
    assert p1.remaining == 0
    p2 = store.draw("r3", 1, [_rollover(2)])
    assert (p2.draws[0].carry, p2.draws[0].allowance) == (10, 110)


def test_rollover_is_capped_by_the_carry_allowance() -> None:
    """R36: period 1 allowance 120 (carry 20): a 130 draw takes 120 and leaves 10; period 2 gets carry 0."""
    store = Twin()
    store.draw("r1", 80, [_rollover(0)])
    p1 = store.draw("r2", 130, [_rollover(1)])
    assert (p1.draws[0].after, p1.remaining) == (120, 10)
    assert store.draw("r3", 1, [_rollover(2)]).draws[0].carry == 0


def test_rollover_rolls_forward_through_an_untouched_period() -> None:
    """R36 / E8 with a gap: period 0 used 80 (carry 20); period 1 allowance 120, used 110 (carry 10); period 2
    nobody draws: its whole allowance 100 + 10 = 110 is unused; so period 3's carry is 110 and its allowance
    100 + 110 = 210."""
    store = Twin()
    store.draw("r1", 80, [_rollover(0)])
    store.draw("r2", 110, [_rollover(1)])
    p3 = store.draw("r3", 1, [_rollover(3)])
    assert (p3.draws[0].carry, p3.draws[0].allowance) == (110, 210)


def test_rollover_rolls_forward_from_period_0_through_one_gap() -> None:
    """R36: period 0 used 80 -> period 1 (untouched) would hold 100 + 20 = 120, all unused -> period 2 carry 120,
    allowance 220."""
    store = Twin()
    store.draw("r1", 80, [_rollover(0)])
    p2 = store.draw("r2", 1, [_rollover(2)])
    assert (p2.draws[0].carry, p2.draws[0].allowance) == (120, 220)


def test_recurring_counter_never_carries() -> None:
    """R35 / E8: a recurring (not rollover) 100 bucket used 70 in period 0 starts period 1 at 100 (30 forfeited)."""
    store = Twin()
    store.draw("r1", 70, [Counter("rec", 0, allowance=100, full_allowance=100)])
    p1 = store.draw("r2", 1, [Counter("rec", 1, allowance=100, full_allowance=100)])
    assert (p1.draws[0].before, p1.draws[0].carry, p1.draws[0].allowance) == (0, 0, 100)


def test_late_record_draws_from_its_own_older_period() -> None:
    """Late records: period 0 used 80, period 1 opened (carry 20, used 10).  A late record for period 0 of 30
    takes min(30, 100 - 80) = 20 from period 0 (80 -> 100), leaves 10, and period 1's carry stays 20 (fixed when
    period 1 was first drawn from)."""
    store = Twin()
    store.draw("r1", 80, [_rollover(0)])
    store.draw("r2", 10, [_rollover(1)])
    late = store.draw("late", 30, [_rollover(0)])
    assert (late.draws[0].before, late.draws[0].after, late.draws[0].carry, late.remaining) == (80, 100, 0, 10)
    fields = store.fields("roll")
    assert (fields["c:0"], fields["c:1"], fields["r:1"], fields["latest"]) == (100, 10, 20, 1)


def test_late_record_for_an_untouched_older_period_starts_without_carry() -> None:
    """Store contract point 3: period 0 used 80, period 2 opened (carry 120).  A late record for untouched
    period 1 starts without carry: allowance 100, and "latest" stays 2."""
    store = Twin()
    store.draw("r1", 80, [_rollover(0)])
    store.draw("r2", 1, [_rollover(2)])
    late = store.draw("late", 150, [_rollover(1)])
    assert (late.draws[0].carry, late.draws[0].allowance, late.draws[0].after, late.remaining) == (0, 100, 100, 50)
    assert store.fields("roll")["latest"] == 2


def test_retention_deletes_periods_older_than_retain() -> None:
    """Store contract point 4: retain = 1, a rollover counter of 10.  Period 0 (with a limit field l:0:A)
    uses 5, then period 2 opens with carry 15 (5 left of period 0, then period 1 untouched: 10 + 5): fields of
    periods < 2 - 1 = 1 are deleted, so c:0, r:0, a:0 and l:0:A go; period 2's fields and "latest" stay."""
    store = Twin()

    def counter(period: int, **options: Any) -> Counter:
        return Counter("k", period, allowance=10, rollover=True, full_allowance=10, retain=1, **options)

    store.draw("r1", 5, [counter(0, limit_field="l:0:A", limit=8)])
    assert set(store.fields("k")) == {"c:0", "r:0", "a:0", "l:0:A", "latest"}
    store.draw("r2", 3, [counter(2)])
    assert store.fields("k") == {"c:2": 3, "r:2": 15, "a:2": 10, "latest": 2}


def test_retention_keeps_retain_periods_back() -> None:
    """Store contract point 4: default retain = 3; draws in periods 0..4: opening period 4 deletes periods
    < 4 - 3 = 1 (only period 0); periods 1, 2, 3, 4 stay."""
    store = Twin()
    for period in range(5):
        store.draw(f"r{period}", 1, [Counter("k", period, allowance=10)])
    periods = {int(name.split(":")[1]) for name in store.fields("k") if name != "latest"}
    assert periods == {1, 2, 3, 4}


def test_adjust_cuts_a_field_once_per_operation() -> None:
    """R41: c:0 = 12.  adjust("cancel-1", c:0 12 -> 10, payload P1) sets 10 and answers P1; repeating
    "cancel-1" (12 -> 5, payload P2) answers P1 and changes nothing; "cancel-2" expecting 12 when c:0 holds 10
    answers None and changes nothing (a record drew meanwhile: re-price); "cancel-3" on a hash never drawn
    expects 0 and sets 4, with the tier entries e:0 = 2 beside it."""
    store = Twin()
    store.draw("r1", 12, [Counter("k", 0, allowance=30)])
    assert store.adjust("cancel-1", "k", "c:0", 12, 10, b"P1") == b"P1"
    assert store.fields("k")["c:0"] == 10
    assert store.adjust("cancel-1", "k", "c:0", 12, 5, b"P2") == b"P1"
    assert store.fields("k")["c:0"] == 10
    assert store.adjust("cancel-2", "k", "c:0", 12, 7, b"P3") is None
    assert store.fields("k")["c:0"] == 10
    assert store.adjust("cancel-3", "new", "c:0", 0, 4, b"P4", ("e:0", 2)) == b"P4"
    assert store.fields("new") == {"c:0": 4, "e:0": 2}


def test_mark_sets_once() -> None:
    """R51: mark(act, activated, 1) is True the first time; mark(act, activated, 2) is False and keeps 1."""
    store = Twin()
    assert store.mark("act", "activated", 1)
    assert not store.mark("act", "activated", 2)
    assert store.fields("act") == {"activated": 1}


def test_fields_is_a_copy() -> None:
    """fields() is a read: changing the returned dict does not change the store."""
    store = Twin()
    store.mark("k", "f", 1)
    copied = store.fields("k")
    copied["f"] = 99
    assert store.fields("k") == {"f": 1}
    assert store.fields("missing") == {}
