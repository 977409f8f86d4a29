"""Record-id claims (R1 across sharing roots) and billing-activation mark reads, the two calls the pipeline
makes besides draws, on each store: the in-memory twin, one Redis server and a 3-master cluster (whose keys
land in different slots: every claim is a single-key command)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from rater.keys import activation_key, claim_key
from rater.redis_store import RedisStore
from rater.state import AsyncMemoryStore, AsyncStateStore, MemoryStore
from tests.integration.conftest import fresh_cluster, fresh_redis

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(
    request: pytest.FixtureRequest, redis_url: str, redis_cluster_nodes: list[tuple[str, int]]
) -> AsyncIterator[AsyncStateStore]:
    if request.param == "memory":
        yield AsyncMemoryStore(MemoryStore())
        return
    client: Redis | RedisCluster = (
        await fresh_redis(redis_url) if request.param == "redis" else fresh_cluster(redis_cluster_nodes)
    )
    yield RedisStore(client, result_ttl=60)
    await client.aclose()


async def test_the_first_fingerprint_of_an_id_is_kept(store: AsyncStateStore) -> None:
    """Claims in order: a (fp1) and b (fp2) are new (None); a again with fp1 answers fp1 (a redelivery: the
    caller goes on), a with fp3 answers fp1 (a duplicate), and fp1 stays; ids with braces and colons are
    ids like any other."""
    assert await store.claim([("a", "fp1"), ("b", "fp2"), ("a", "fp1")]) == [None, None, "fp1"]
    assert await store.claim([("a", "fp3"), ("x{ACC-1}:y", "fp4"), ("x{ACC-1}:y", "fp5")]) == ["fp1", None, "fp4"]
    assert await store.claim([("a", "fp1")]) == ["fp1"]
    assert await store.claim([]) == []


async def test_marks_are_read_as_set_or_not(store: AsyncStateStore) -> None:
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
