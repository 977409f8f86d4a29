"""What the pipeline asks of a store besides plain draws, on each store (the in-memory twin, one Redis server
and a 3-master cluster, whose keys land in different slots: every claim is a single-key command):
record-id claims and their release (R1 across sharing roots), billing-activation mark reads (R53), and the
whole-or-nothing draw of a record whose rate is missing (Q6)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from rater.keys import activation_key, bucket_key, claim_key, record_key
from rater.memory_store import MemoryStore
from rater.redis_store import RedisStore
from rater.state import Counter, DrawRequest, Store
from tests.integration.conftest import fresh_cluster, fresh_redis

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(
    request: pytest.FixtureRequest, redis_url: str, redis_cluster_nodes: list[tuple[str, int]]
) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client: Redis | RedisCluster = (
        await fresh_redis(redis_url) if request.param == "redis" else fresh_cluster(redis_cluster_nodes)
    )
    yield RedisStore(client, result_ttl=60)
    await client.aclose()


async def test_the_first_fingerprint_of_an_id_is_kept(store: Store) -> None:
    """Claims in order: a (fp1) and b (fp2) are new (None); a again with fp1 answers fp1 (a redelivery: the
    caller goes on), a with fp3 answers fp1 (a duplicate), and fp1 stays; ids with braces and colons are
    ids like any other."""
    assert await store.claim([("a", "fp1"), ("b", "fp2"), ("a", "fp1")]) == [None, None, "fp1"]
    assert await store.claim([("a", "fp3"), ("x{ACC-1}:y", "fp4"), ("x{ACC-1}:y", "fp5")]) == ["fp1", None, "fp4"]
    assert await store.claim([("a", "fp1")]) == ["fp1"]
    assert await store.claim([]) == []


async def test_marks_are_read_as_set_or_not(store: Store) -> None:
    """R53: only the package whose ``activated`` field is set reads True; keys of two roots in one call."""
    one, two = activation_key("ROOT-1", "AP-1"), activation_key("ROOT-2", "AP-2")
    assert await store.marked([one, two], "activated") == [False, False]
    assert await store.mark(two, "activated", 1)
    assert await store.marked([one, two], "activated") == [False, True]
    assert await store.marked([], "activated") == []


async def test_a_claim_expires_with_the_result_ttl(redis_url: str) -> None:
    """Claims live as long as draw results (RATER_RESULT_TTL): the kernel key carries the TTL given."""
    client = await fresh_redis(redis_url)
    try:
        await RedisStore(client, result_ttl=120).claim([("ttl-1", "fp")])
        assert 0 < await client.ttl(claim_key("ttl-1")) <= 120
    finally:
        await client.aclose()


async def test_a_whole_or_nothing_draw_writes_nothing_unless_it_fits(store: Store) -> None:
    """A record whose rate is missing draws whole or not at all (Q6).  A counter of 10 (period 0): a whole
    draw of 4 fits (0 -> 4, stored, replayed on a repeat); a whole draw of 7 would leave 1: refused, nothing
    written (the counter stays at 4, no stored result: asked again it is refused again, not replayed); its
    activation counter behind it counts nothing either.  A plain draw of 7 then takes 6 and leaves 1."""
    pool = bucket_key("ROOT", "B")
    activation = activation_key("ROOT", "AP")
    counter = Counter(pool, 0, allowance=10)
    observe = Counter(activation, 0, observe=True, threshold=100)
    fits = DrawRequest(record_key("ROOT", "fits"), 4, (counter, observe), whole=True)
    ((drawn,),) = [await store.draw_many([fits])]
    assert (drawn.refused, drawn.remaining, [(d.before, d.after) for d in drawn.draws]) == (False, 0, [(0, 4), (0, 4)])
    assert (await store.draw_many([fits]))[0].replayed
    over = DrawRequest(record_key("ROOT", "over"), 7, (counter, observe), whole=True)
    for _ in range(2):
        (refused,) = await store.draw_many([over])
        assert (refused.refused, refused.remaining, refused.draws, refused.replayed) == (True, 1, (), False)
    assert (await store.fields(pool))["c:0"] == 4
    assert (await store.fields(activation))["c:0"] == 4
    (plain,) = await store.draw_many([DrawRequest(record_key("ROOT", "plain"), 7, (counter,))])
    assert (plain.remaining, plain.draws[0].before, plain.draws[0].after) == (1, 4, 10)


async def test_a_claim_is_released_only_while_it_holds_the_fingerprint(store: Store) -> None:
    """A record that drew nothing forgets its claim: released with its own fingerprint the id is free again;
    released with another, the claim stays."""
    assert await store.claim([("r", "fp1")]) == [None]
    await store.release([("r", "other")])
    assert await store.claim([("r", "fp2")]) == ["fp1"]
    await store.release([("r", "fp1")])
    assert await store.claim([("r", "fp2")]) == [None]
