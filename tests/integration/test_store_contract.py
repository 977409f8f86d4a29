"""One contract, three stores: the in-memory reference (``MemoryStore``), the Redis kernel on one server,
and the same kernel on a 3-master Redis Cluster.  Every test runs against each with identical expectations
(docs/consumption.md §6; the kernel header in rater/lua/rater.lua)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from rater import memory_store
from rater.keys import bucket_key, record_key
from rater.redis_store import RedisStore
from rater.state import MAX, UNLIMITED, Counter, DrawRequest, DrawResult
from tests.integration.conftest import fresh_cluster, fresh_redis

pytestmark = pytest.mark.integration

ROOT = "ACC-1"
A = bucket_key(ROOT, "AS-1/A")
B = bucket_key(ROOT, "AS-1/B")
POOL = bucket_key(ROOT, "ACC-1/SP/POOL")
ACT = f"rater:{{{ROOT}}}:activation:AP-1"


class Store:
    """The contract's view of a store (:class:`rater.state.Store`): draws, reads, marks, adjusts, written the
    way these tests read best, over the in-memory twin or the Redis kernel alike."""

    def __init__(self, impl: memory_store.MemoryStore | RedisStore) -> None:
        self.impl = impl
        self.redis = impl if isinstance(impl, RedisStore) else None

    async def result(self, record: str, quantity: int, *counters: Counter) -> DrawResult:
        (result,) = await self.impl.draw_many([DrawRequest(record_key(ROOT, record), quantity, counters)])
        return result

    async def entries(self, record: str, quantity: int, *counters: Counter) -> list[tuple[int, int, int | None]]:
        """Per counter (before, after, entered): the tier entries a draw reports (R17)."""
        result = await self.result(record, quantity, *counters)
        return [(d.before, d.after, d.entered) for d in result.draws]

    async def draw(self, record: str, quantity: int, *counters: Counter) -> tuple[int, list[tuple[int, ...]], bool]:
        """(remaining, per counter (before, after, carry, allowance or -1, limit before, limit after, marked),
        replayed)."""
        result = await self.result(record, quantity, *counters)
        rows: list[tuple[int, ...]] = [
            (
                d.before,
                d.after,
                d.carry,
                -1 if d.allowance is None else d.allowance,
                d.limit_before,
                d.limit_after,
                int(d.marked),
            )
            for d in result.draws
        ]
        return result.remaining, rows, result.replayed

    async def fields(self, key: str) -> dict[str, int]:
        return await self.impl.fields(key)

    async def adjust(
        self,
        operation: str,
        key: str,
        field: str,
        expected: int,
        value: int,
        payload: bytes,
        also: tuple[str, int] | None = None,
    ) -> bytes | None:
        return await self.impl.adjust(record_key(ROOT, operation), key, field, expected, value, payload, also)

    async def mark(self, key: str, field: str) -> bool:
        return await self.impl.mark(key, field, 1)


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(
    request: pytest.FixtureRequest, redis_url: str, redis_cluster_nodes: list[tuple[str, int]]
) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield Store(memory_store.MemoryStore())
        return
    client: Redis | RedisCluster = (
        await fresh_redis(redis_url) if request.param == "redis" else fresh_cluster(redis_cluster_nodes)
    )
    yield Store(RedisStore(client))
    await client.aclose()


async def test_draws_in_order_up_to_each_allowance(store: Store) -> None:
    """R11/R19b: counters of 5 and 10; 12 units -> 5 then 7, nothing left; 20 more -> 0 then 3, 17 left."""
    first = await store.draw("r1", 12, Counter(A, 0, allowance=5), Counter(B, 0, allowance=10))
    assert first == (0, [(0, 5, 0, 5, 0, 0, 0), (0, 7, 0, 10, 0, 0, 0)], False)
    second = await store.draw("r2", 20, Counter(A, 0, allowance=5), Counter(B, 0, allowance=10))
    assert second == (17, [(5, 5, 0, 5, 0, 0, 0), (7, 10, 0, 10, 0, 0, 0)], False)


async def test_a_redelivered_record_gets_its_result_back_and_changes_nothing(store: Store) -> None:
    """R1 / property 2: the second draw of r1 (even asking for more) returns the first result, replayed."""
    first = await store.draw("r1", 4, Counter(A, 0, allowance=5))
    again = await store.draw("r1", 99, Counter(A, 0, allowance=5))
    assert again == (first[0], first[1], True)
    assert (await store.fields(A))["c:0"] == 4


async def test_unbounded_counter_takes_everything(store: Store) -> None:
    """R19a: a repeating last tier has no cap: 10^12 units are drawn in full."""
    assert await store.draw("r1", 10**12, Counter(A, 0, allowance=10, unbounded=True)) == (
        0,
        [(0, 10**12, 0, -1, 0, 0, 0)],
        False,
    )


async def test_quantities_stay_exact_near_two_to_the_53(store: Store) -> None:
    """Property 4: 2^53 - 1 bytes is drawn and read back exactly (Lua numbers are doubles)."""
    big = 2**53 - 1
    assert (await store.draw("r1", big, Counter(A, 0, allowance=big)))[1] == [(0, big, 0, big, 0, 0, 0)]
    assert (await store.fields(A))["c:0"] == big


async def test_participation_limit_caps_each_participant(store: Store) -> None:
    """R61: pool 100, participant limit 30: 50 asked -> 30 drawn; again 10 -> 0; another participant 10 -> 10."""
    pool = Counter(POOL, 0, allowance=100, limit_field="l:0:AS-1", limit=30)
    assert (await store.draw("r1", 50, pool))[1] == [(0, 30, 0, 100, 0, 30, 0)]
    assert (await store.draw("r2", 10, pool))[1] == [(30, 30, 0, 100, 30, 30, 0)]
    other = Counter(POOL, 0, allowance=100, limit_field="l:0:AS-2", limit=30)
    assert (await store.draw("r3", 10, other))[1] == [(30, 40, 0, 100, 0, 10, 0)]


async def test_a_participant_without_a_limit_is_counted_not_capped(store: Store) -> None:
    """R61: pool 100; AS-1 has no limit (UNLIMITED = 2^53 - 1), AS-2 a limit of 30.  AS-1 asks 60 -> 60
    (pool 0 -> 60, l:0:AS-1 0 -> 60); AS-2 asks 50 -> 30 (its limit; pool 90); AS-1 asks 20 -> the pool's
    last 10 (l:0:AS-1 60 -> 70).  The hash holds c:0 100, l:0:AS-1 70, l:0:AS-2 30."""
    free = Counter(POOL, 0, allowance=100, limit_field="l:0:AS-1", limit=UNLIMITED)
    capped = Counter(POOL, 0, allowance=100, limit_field="l:0:AS-2", limit=30)
    assert (await store.draw("r1", 60, free))[1] == [(0, 60, 0, 100, 0, 60, 0)]
    assert (await store.draw("r2", 50, capped))[1] == [(60, 90, 0, 100, 0, 30, 0)]
    assert (await store.draw("r3", 20, free))[1] == [(90, 100, 0, 100, 60, 70, 0)]
    assert await store.fields(POOL) == {"c:0": 100, "l:0:AS-1": 70, "l:0:AS-2": 30, "latest": 0}


async def test_an_unlimited_participant_on_an_unbounded_pool_stays_exact_near_two_to_the_53(store: Store) -> None:
    """Property 4 with R61: on a pool whose last tier repeats (no cap), a participant without a limit draws
    2^53 - 2 in one record and 1 in the next: the pool and its participation field both read 2^53 - 1,
    exactly, and the limit never bit."""
    free = Counter(POOL, 0, unbounded=True, limit_field="l:0:AS-1", limit=UNLIMITED)
    assert (await store.draw("r1", UNLIMITED - 1, free))[1] == [(0, UNLIMITED - 1, 0, -1, 0, UNLIMITED - 1, 0)]
    assert (await store.draw("r2", 1, free))[1] == [(UNLIMITED - 1, UNLIMITED, 0, -1, UNLIMITED - 1, UNLIMITED, 0)]
    assert await store.fields(POOL) == {"c:0": UNLIMITED, "l:0:AS-1": UNLIMITED, "latest": 0}


async def test_rollover_carries_and_compounds_across_untouched_periods(store: Store) -> None:
    """R36/E8: allowance 100 per period.  P0 uses 80 -> P1 carry 20 (120); P1 uses 110 -> nobody draws in P2
    (100 + 10 = 110 carried whole) -> P3 carry 110, allowance 210."""
    counter = Counter(A, 0, allowance=100, rollover=True, full_allowance=100)
    await store.draw("r0", 80, counter)
    assert (await store.draw("r1", 110, Counter(A, 1, allowance=100, rollover=True, full_allowance=100)))[1] == [
        (0, 110, 20, 120, 0, 0, 0)
    ]
    assert (await store.draw("r3", 1, Counter(A, 3, allowance=100, rollover=True, full_allowance=100)))[1] == [
        (0, 1, 110, 210, 0, 0, 0)
    ]


async def test_late_record_draws_from_its_own_period(store: Store) -> None:
    """Property 3: after period 1 opened, a record of period 0 still draws from period 0's counter."""
    await store.draw("r1", 3, Counter(A, 1, allowance=5))
    assert (await store.draw("r0", 4, Counter(A, 0, allowance=5)))[1] == [(0, 4, 0, 5, 0, 0, 0)]
    fields = await store.fields(A)
    assert (fields["c:0"], fields["c:1"], fields["latest"]) == (4, 3, 1)


async def test_old_periods_are_dropped_behind_the_retention(store: Store) -> None:
    """Fields of periods more than `retain` behind the latest are deleted when a new period opens."""
    for period in range(5):
        await store.draw(f"r{period}", 1, Counter(A, period, allowance=5, retain=2))
    assert sorted(name for name in await store.fields(A) if name.startswith("c:")) == ["c:2", "c:3", "c:4"]


async def test_observe_counter_counts_and_marks_activation_once(store: Store) -> None:
    """R50/R51: an observe counter takes nothing; its count reaching the threshold (1,000) marks the package
    activated once: 600 -> not yet; +500 -> 1,100 marks; +10 -> already marked."""
    observe = Counter(ACT, 0, observe=True, threshold=1000)
    bucket = Counter(A, 0, allowance=10_000)
    assert await store.draw("r1", 600, observe, bucket) == (
        0,
        [(0, 600, 0, -1, 0, 0, 0), (0, 600, 0, 10_000, 0, 0, 0)],
        False,
    )
    assert (await store.draw("r2", 500, observe))[1] == [(600, 1100, 0, -1, 0, 0, 1)]
    assert (await store.draw("r3", 10, observe))[1] == [(1100, 1110, 0, -1, 0, 0, 0)]


async def test_requires_gates_a_counter_on_a_mark_set_earlier_in_the_same_call(store: Store) -> None:
    """R53: the pool requires the package's mark; r1 (below threshold) skips it; r2 crosses the threshold in
    its observe counter, which comes first, so its pool counter applies in the same call."""
    observe = Counter(ACT, 0, observe=True, threshold=100)
    pool = Counter(POOL, 0, allowance=1000, requires=(ACT, "activated"))
    assert await store.draw("r1", 60, observe, pool) == (60, [(0, 60, 0, -1, 0, 0, 0), (0, 0, 0, -1, 0, 0, 0)], False)
    assert await store.draw("r2", 60, observe, pool) == (
        0,
        [(60, 120, 0, -1, 0, 0, 1), (0, 60, 0, 1000, 0, 0, 0)],
        False,
    )


async def test_adjust_and_mark_happen_once(store: Store) -> None:
    """R41: adjust cuts a field once per operation (21 -> 20, payload P1) and answers the first payload to a
    repeat, changing nothing; mark sets once."""
    await store.draw("r1", 21, Counter(A, 0, allowance=40))
    assert await store.adjust("op-1", A, "c:0", 21, 20, b"P1") == b"P1"
    assert await store.adjust("op-1", A, "c:0", 21, 5, b"P2") == b"P1"
    assert (await store.fields(A))["c:0"] == 20
    assert await store.mark(ACT, "activated") is True
    assert await store.mark(ACT, "activated") is False


async def test_adjust_cuts_once_per_operation_and_keeps_its_payload(store: Store) -> None:
    """R41, E13's 21 GB case in GB: c:0 = 21.  A cut expecting 20 is refused (a record drew meanwhile) and
    changes nothing; expecting 21 it sets c:0 = 20 and keeps the payload.  The same operation again (a
    retry after a crash, re-priced from the cut counter) answers the first payload and leaves c:0 at 20;
    another operation expecting 20 cuts again."""
    await store.draw("r1", 21, Counter(A, 0, allowance=40))
    assert await store.adjust("op-1", A, "c:0", 20, 20, b'{"total_amount":"9.00"}') is None
    assert (await store.fields(A))["c:0"] == 21
    assert await store.adjust("op-1", A, "c:0", 21, 20, b'{"total_amount":"9.00"}') == b'{"total_amount":"9.00"}'
    assert await store.adjust("op-1", A, "c:0", 20, 10, b'{"total_amount":"8.00"}') == b'{"total_amount":"9.00"}'
    assert (await store.fields(A))["c:0"] == 20
    assert await store.adjust("op-2", B, "c:0", 0, 0, b"{}") == b"{}"  # a hash never drawn holds 0


async def test_rollover_of_the_last_tier_size(store: Store) -> None:
    """Q3 alternative (settings.rollover_size: last_tier): S is the last tier's size, 50; P0 uses 20 ->
    P1 carry 30; nobody draws in P2 -> P3 carry 50 (no compounding)."""

    def counter(period: int) -> Counter:
        return Counter(A, period, allowance=150, rollover=True, full_allowance=150, carry_base=50)

    await store.draw("r0", 20, counter(0))
    assert (await store.draw("r1", 1, counter(1)))[1] == [(0, 1, 30, 180, 0, 0, 0)]
    assert (await store.draw("r3", 1, counter(3)))[1] == [(0, 1, 50, 200, 0, 0, 0)]


async def test_a_draw_writes_only_the_fields_it_changes(store: Store) -> None:
    """Point 3: 10 units over A (10), the pool B (limit field l:0:AS-1) and a rollover counter R: A takes all;
    B and R are read and take nothing.  A holds c:0 and latest; B only latest (no c:0, no l:0:AS-1: absent
    reads as 0); R also its carry r:0 and allowance a:0 (rollover counters only)."""
    roll = bucket_key(ROOT, "AS-1/R")
    counters = (
        Counter(A, 0, allowance=10),
        Counter(B, 0, allowance=10, limit_field="l:0:AS-1", limit=5),
        Counter(roll, 0, allowance=7, rollover=True, full_allowance=7),
    )
    assert (await store.draw("r1", 10, *counters))[1] == [
        (0, 10, 0, 10, 0, 0, 0),
        (0, 0, 0, 10, 0, 0, 0),
        (0, 0, 0, 7, 0, 0, 0),
    ]
    assert await store.fields(A) == {"c:0": 10, "latest": 0}
    assert await store.fields(B) == {"latest": 0}
    assert await store.fields(roll) == {"r:0": 0, "a:0": 7, "latest": 0}


async def test_activate_now_marks_even_without_usage(store: Store) -> None:
    """R50b: an observe counter due by time marks the package activated on a record of 0 units (count
    unchanged, so no c:0 is written), once; the next one reports no mark."""
    due = Counter(ACT, 0, observe=True, threshold=1, activate_now=True)
    assert await store.draw("r1", 0, due) == (0, [(0, 0, 0, -1, 0, 0, 1)], False)
    assert await store.fields(ACT) == {"activated": 1, "latest": 0}
    assert await store.draw("r2", 3, due) == (3, [(0, 3, 0, -1, 0, 0, 0)], False)


async def test_a_result_stored_by_the_previous_kernel_replays(redis_client: Redis) -> None:
    """Upgrade safety (R1): a result stored before the JSON reply (``remaining;b,a,c,al,lb,la,m;...``) is
    returned as a replay and nothing changes."""
    key = record_key(ROOT, "old")
    await redis_client.set(key, "4;0,6,2,12,0,6,0")
    store = RedisStore(redis_client)
    result = await store.draw(key, 99, [Counter(A, 0, allowance=5)])
    assert (result.remaining, result.replayed, result.draws[0]) == (4, True, (0, 6, 2, 12, 0, 6, False, None))
    assert await store.fields(A) == {}


async def test_keys_named_again_and_required_keys_resolve_in_one_call(store: Store) -> None:
    """The kernel's key references: A requires a field of ACT (a key no counter draws from), B comes next
    on a key of its own, and A is drawn again later in the call (R11 order).  10 units: A 4 of 4, B 5 of
    5, A again 1 of the 4 its larger allowance leaves; each counter sees the writes of those before it."""
    assert await store.mark(ACT, "activated") is True
    counters = (
        Counter(A, 0, allowance=4, requires=(ACT, "activated")),
        Counter(B, 0, allowance=5),
        Counter(A, 0, allowance=8),
    )
    assert await store.draw("r1", 10, *counters) == (
        0,
        [(0, 4, 0, 4, 0, 0, 0), (0, 5, 0, 5, 0, 0, 0), (4, 5, 0, 8, 0, 0, 0)],
        False,
    )
    assert (await store.fields(A))["c:0"] == 5
    assert (await store.fields(B))["c:0"] == 5


# --- tier entries (R17: e:<period>) and exact integers -------------------------------------------------------


async def test_tier_entries_are_kept_per_period_and_never_go_back(store: Store) -> None:
    """R17 with moving boundaries.  Tiers 100 + 100 (ends (100,), allowance 200, no repeats): ordinals T1 = 1,
    T2 = 2, used up = 3.  r1 50: no e:0 yet (reported None: what 0 reaches), 50 reaches T1 -> e:0 = 1.  r2 60: 50 -> 110
    reaches T2 -> e:0 = 2.  The tiers grow to 150 + 150 (a contributor joined): r3 30: 110 -> 140 lies in the
    new T1 (reaches 1), e:0 stays 2 and is not written; r4 20: 140 -> 160 reaches T2 again, still 2; r5 200:
    160 -> 300 takes 140 and uses the allowance up (300 >= E2 = 300) -> e:0 = 3."""
    small = Counter(A, 0, allowance=200, tier_ends=(100,))
    grown = Counter(A, 0, allowance=300, tier_ends=(150,))
    assert await store.entries("r1", 50, small) == [(0, 50, None)]
    assert await store.fields(A) == {"c:0": 50, "e:0": 1, "latest": 0}
    assert await store.entries("r2", 60, small) == [(50, 110, 1)]
    assert (await store.fields(A))["e:0"] == 2
    assert await store.entries("r3", 30, grown) == [(110, 140, 2)]
    assert await store.entries("r4", 20, grown) == [(140, 160, 2)]
    assert await store.fields(A) == {"c:0": 160, "e:0": 2, "latest": 0}
    assert await store.entries("r5", 200, grown) == [(160, 300, 2)]
    assert await store.fields(A) == {"c:0": 300, "e:0": 3, "latest": 0}


async def test_absent_tier_entries_read_as_what_the_consumption_reaches(store: Store) -> None:
    """Upgrade safety: a period drawn without tier entries (c:0 = 150 under tiers 100 + 100) has no e:0; a
    draw reports None (pricing takes what 150 reaches, T2) and a draw of 0 writes nothing; the first draw
    that takes something (10: 150 -> 160, still T2) records e:0 = 2, so a later move of the boundaries
    cannot lose it."""
    await store.draw("r0", 150, Counter(A, 0, allowance=200))
    tracked = Counter(A, 0, allowance=200, tier_ends=(100,))
    assert await store.entries("r1", 0, tracked) == [(150, 150, None)]
    assert await store.fields(A) == {"c:0": 150, "latest": 0}
    assert await store.entries("r2", 10, tracked) == [(150, 160, None)]
    assert await store.fields(A) == {"c:0": 160, "e:0": 2, "latest": 0}


async def test_tier_entries_count_repeats_and_the_rollover_carry(store: Store) -> None:
    """R19a + R36: tiers 10 + 5 repeating (ends (10,), allowance 15, unbounded), rollover.  P0 draws 4
    (reaches T1: e:0 = 1).  P1 carries 15 - 4 = 11, which joins tier 1: E1 = 21, E2 = 26, repeats of 5.
    r1 27: reaches 2 + ceil((27 - 26) / 5) = 3 (repeat 1).  r2 9: 27 -> 36 reaches 2 + ceil(10 / 5) = 4;
    entered before it 3.  Counters without tier ends, and periods without e:, report None."""

    def counter(period: int) -> Counter:
        return Counter(A, period, allowance=15, unbounded=True, rollover=True, full_allowance=15, tier_ends=(10,))

    assert await store.entries("r0", 4, counter(0), Counter(B, 0, allowance=5)) == [(0, 4, None), (0, 0, None)]
    assert (await store.fields(A))["e:0"] == 1
    assert await store.entries("r1", 27, counter(1)) == [(0, 27, None)]
    assert (await store.fields(A))["e:1"] == 3
    assert await store.entries("r2", 9, counter(1)) == [(27, 36, 3)]
    assert (await store.fields(A))["e:1"] == 4


async def test_tier_entries_of_old_periods_are_dropped_behind_the_retention(store: Store) -> None:
    """e:<period> goes with the other fields of periods more than `retain` behind the latest."""
    for period in range(5):
        await store.draw(f"r{period}", 1, Counter(A, period, allowance=5, retain=2, tier_ends=()))
    assert sorted(name for name in await store.fields(A) if name[:2] in ("c:", "e:")) == [
        "c:2",
        "c:3",
        "c:4",
        "e:2",
        "e:3",
        "e:4",
    ]


async def test_an_unbounded_counter_saturates_at_two_to_the_53_minus_1(store: Store) -> None:
    """Exact integers: an unbounded counter (R19a) holds at most MAX = 2^53 - 1.  MAX - 5 drawn, then 10
    asked: 5 taken, 5 remain (they overflow like an exhausted allowance's rest, R19b); c:0 = MAX.  A counter
    already full takes nothing more."""
    unbounded = Counter(A, 0, allowance=10, unbounded=True)
    assert await store.draw("r1", MAX - 5, unbounded) == (0, [(0, MAX - 5, 0, -1, 0, 0, 0)], False)
    assert await store.draw("r2", 10, unbounded) == (5, [(MAX - 5, MAX, 0, -1, 0, 0, 0)], False)
    assert await store.draw("r3", 1, unbounded) == (1, [(MAX, MAX, 0, -1, 0, 0, 0)], False)
    assert (await store.fields(A))["c:0"] == MAX


async def test_an_observe_counter_stops_counting_at_two_to_the_53_minus_1(store: Store) -> None:
    """Exact integers, R50: a billing-activation count reaches MAX - 1, then 5 more stop at MAX (which is
    past the threshold 10, so the mark was set by the first record and is not set again)."""
    observe = Counter(ACT, 0, observe=True, threshold=10)
    assert (await store.draw("r1", MAX - 1, observe))[1] == [(0, MAX - 1, 0, -1, 0, 0, 1)]
    assert (await store.draw("r2", 5, observe))[1] == [(MAX - 1, MAX, 0, -1, 0, 0, 0)]
    assert (await store.draw("r3", 5, observe))[1] == [(MAX, MAX, 0, -1, 0, 0, 0)]
    assert await store.fields(ACT) == {"c:0": MAX, "activated": 1, "latest": 0}


async def test_a_rollover_carry_and_its_cap_saturate_at_two_to_the_53_minus_1(store: Store) -> None:
    """Exact integers, R36: allowance MAX - 10, P0 draws 0 (opens it: a:0 written), nobody draws in P1 and
    P2.  P3's carry = (MAX - 10 - 0) + 0, then + MAX - 10 twice, saturated at MAX; the cap allowance + carry
    also saturates: the draw reports allowance MAX and takes 7 of 7."""
    big = MAX - 10

    def counter(period: int) -> Counter:
        return Counter(A, period, allowance=big, rollover=True, full_allowance=big)

    await store.draw("r0", 0, counter(0))
    assert (await store.draw("r3", 7, counter(3)))[1] == [(0, 7, MAX, MAX, 0, 0, 0)]
    assert (await store.fields(A))["r:3"] == MAX


async def test_a_tier_ordinal_saturates_at_two_to_the_53_minus_1(store: Store) -> None:
    """Exact integers: tiers 0 + 1 repeating (ends (0,), allowance 1): MAX units reach 2 + (MAX - 1) =
    MAX + 1 occurrences, recorded as MAX."""
    counter = Counter(A, 0, allowance=1, unbounded=True, tier_ends=(0,))
    assert await store.entries("r1", MAX, counter) == [(0, MAX, None)]
    assert (await store.fields(A))["e:0"] == MAX


async def test_adjust_writes_the_tier_entries_with_the_cut(store: Store) -> None:
    """R41 + R17: a cut writes c:0 and the tier entries it reaches (e:0) together, once per operation."""
    await store.draw("r1", 21, Counter(A, 0, allowance=40, tier_ends=(20,)))
    assert (await store.fields(A))["e:0"] == 2
    assert await store.adjust("op-1", A, "c:0", 21, 20, b"{}", ("e:0", 3)) == b"{}"
    assert await store.adjust("op-1", A, "c:0", 20, 10, b"{}", ("e:0", 9)) == b"{}"
    assert await store.fields(A) == {"c:0": 20, "e:0": 3, "latest": 0}
    assert await store.adjust("op-2", B, "c:0", 0, 5, b"{}", ("e:0", 1)) == b"{}"
    assert await store.adjust("op-2", B, "c:0", 0, 6, b"{}", ("e:0", 2)) == b"{}"
    assert await store.fields(B) == {"c:0": 5, "e:0": 1}
