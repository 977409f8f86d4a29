"""The Redis kernel and its in-memory twin agree (issue acceptance; style habit 3).

Random catalogs and record sequences (the generator of tests/unit/test_consumption_properties.py: service,
account, parent and share-plan buckets of every type, limits, repeats, rollover) are rated twice: record by
record against ``MemoryStore``, and in random batch sizes through ``rate_batch`` against the Redis kernel.
The outcomes must be byte-identical and every counter hash equal (tier entries e:<p> included, R17); and in
each share-plan pool every unit drawn in a period is some participant's, limited or not: c:<p> is the sum of
the l:<p>:<participant> fields (R61).  The generator's contributors joining and add-ons sold mid-period move
pool tier boundaries; one test draws only such growing pools.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from rater.batch import rate_batch
from rater.memory_store import MemoryStore
from rater.offline import load_folder
from rater.rating import Rater
from rater.redis_store import RedisStore
from tests.unit.test_consumption_properties import _records, _write, growing_pool, scenario, share_spec

pytestmark = pytest.mark.integration


async def _through_redis(
    url: str, rater: Rater, records: list[dict[str, Any]], sizes: list[int]
) -> tuple[list[bytes], dict[str, dict[str, int]]]:
    client = Redis.from_url(url)
    try:
        await client.flushdb()
        store = RedisStore(client)
        out: list[bytes] = []
        start = 0
        cuts = iter(sizes)
        while start < len(records):
            size = max(1, next(cuts, 7))
            chunk = records[start : start + size]
            start += size
            items = [(orjson.dumps(record), f"line:{index}") for index, record in enumerate(chunk)]
            out += [orjson.dumps(outcome.to_dict()) for _, outcome in await rate_batch(rater, store, items)]
        keys = [key.decode() async for key in client.scan_iter(match="rater:*:bucket:*")]
        balances = {key: await store.fields(key) for key in keys}
        return out, balances
    finally:
        await client.aclose()


async def _one_by_one(rater: Rater, store: MemoryStore, records: list[dict[str, Any]]) -> list[bytes]:
    """Each record in a batch of its own, against the in-memory twin."""
    out: list[bytes] = []
    for index, record in enumerate(records):
        ((_, outcome),) = await rate_batch(rater, store, [(orjson.dumps(record), f"line:{index}")])
        out.append(orjson.dumps(outcome.to_dict()))
    return out


def _twins(redis_url: str, case: dict[str, Any], sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case)
        catalog, subscriptions = load_folder(folder)
        records = _records(case)
        memory = MemoryStore()
        expected = asyncio.run(_one_by_one(Rater(catalog, subscriptions), memory, records))
        actual, balances = asyncio.run(_through_redis(redis_url, Rater(catalog, subscriptions), records, sizes))
    assert actual == expected
    assert balances == {key: fields for key, fields in memory.hashes.items() if fields}
    for key, fields in balances.items():
        if key.endswith("/SP/SPB"):  # the share-plan pool of the generator
            for name, consumed in fields.items():
                if name.startswith("c:"):
                    period = name[2:]
                    assert consumed == sum(v for f, v in fields.items() if f.startswith(f"l:{period}:")), (key, fields)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(case=scenario(), sizes=st.lists(st.integers(1, 12), max_size=10))
def test_redis_kernel_matches_memory(redis_url: str, case: dict[str, Any], sizes: list[int]) -> None:
    _twins(redis_url, case, sizes)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    case=st.tuples(scenario(), share_spec().filter(lambda share: share["limit"] is None)).map(
        lambda pair: {**pair[0], "share": pair[1]}
    ),
    sizes=st.lists(st.integers(1, 12), max_size=10),
)
def test_kernel_matches_memory_on_an_unlimited_pool(redis_url: str, case: dict[str, Any], sizes: list[int]) -> None:
    """The same with a share-plan pool whose participants have no limit (R61): the generator draws one in a
    quarter of its cases; here every case has one, counted in l:<period>:<participant> by both twins."""
    _twins(redis_url, case, sizes)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(case=growing_pool(), sizes=st.lists(st.integers(1, 12), max_size=10))
def test_kernel_matches_memory_on_a_pool_whose_tiers_grow(
    redis_url: str, case: dict[str, Any], sizes: list[int]
) -> None:
    """The same with a Variable pool (flat charges on every tier) whose tiers grow mid-period when a
    contributor joins or an add-on is sold (R59, R60, R64): both twins keep e:<period> alike, so both bill
    each tier once (R17)."""
    _twins(redis_url, case, sizes)
