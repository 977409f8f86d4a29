"""The live crossing feed (SSE) on a real Kafka-protocol broker and a real Redis.

E20's usage is rated through the Redis kernel; C1's 5 GB record takes P's usage-invoicer pool from 6 to
11 GB and enters tier 2 (R15, R57): one crossing of account P.  Published on ``tier-crossings`` with a
crossing of Q's bucket (another family) and one of C1's, a stream on P (P's token) carries P's and C1's
(its child) in topic order and never Q's; a stream on C1 carries only C1's; C1's token may not open P's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from rater.batch import rate_batch
from rater.events import RatedCharge
from rater.offline import load_folder
from rater.rating import Rater
from rater.redis_store import RedisStore
from streams.api.app import build_api
from streams.api.crossings import CrossingFeed
from streams.configuration.topics import TopicSpec, create_topics
from streams.dev.servers import KafkaBroker
from tests.integration._api import E20, api_context

pytestmark = pytest.mark.integration

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with KafkaBroker() as running:
        yield running.bootstrap


async def _crossings(redis_client: Redis) -> list[dict[str, Any]]:
    """E20 rated into Redis; the crossings the rated charges carry."""
    catalog, subscriptions = load_folder(E20)
    rater = Rater(catalog, subscriptions)
    lines = [line for line in (E20 / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    outcomes = await rate_batch(rater, RedisStore(redis_client), [(line, str(n)) for n, line in enumerate(lines)])
    return [c.to_dict() for _, o in outcomes if isinstance(o, RatedCharge) for c in o.crossings]


@pytest.fixture
async def feed_api(broker: str, redis_url: str, redis_client: Redis) -> AsyncIterator[tuple[Client, str, Any, str]]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    topic = f"{prefix}tier-crossings"
    await create_topics(broker, [TopicSpec(topic, 1)])
    crossings = await _crossings(redis_client)
    catalog, subscriptions = load_folder(E20)
    context = api_context(redis_url, redis_client, catalog, subscriptions, kafka=broker, topic_prefix=prefix)
    client = TestClient(TestServer(build_api(context)))
    await client.start_server()
    feed = context.extras["crossing_feed"]
    assert isinstance(feed, CrossingFeed)
    await asyncio.wait_for(feed.ready.wait(), 30)
    yield client, topic, crossings, broker
    await client.close()


async def _next_event(response: ClientResponse) -> bytes:
    while True:
        block = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 20)
        if not block.startswith(b":"):
            return block


def _body(block: bytes) -> dict[str, Any]:
    lines = dict(line.split(b": ", 1) for line in block.strip().split(b"\n"))
    assert lines[b"event"] == b"crossing"
    body: dict[str, Any] = orjson.loads(lines[b"data"])
    assert lines[b"id"].decode() == body["crossing_id"]
    return body


async def test_stream_carries_the_accounts_and_its_childrens_crossings(feed_api: tuple[Client, str, Any, str]) -> None:
    http, topic, crossings, bootstrap = feed_api
    (pool,) = crossings
    assert (pool["account"], pool["kind"], pool["tier"], pool["at"]) == ("P", "tier", 2, 10_000_000_001)
    other = {**pool, "account": "Q", "crossing_id": "Q/SP-ACCOUNT/SPB-DATA:2026-03-01:tier:2:0"}
    child = {**pool, "account": "C1", "crossing_id": "C1/X:2026-03-01:exhausted:2:0", "kind": "exhausted"}
    as_p = await http.get("/v1/accounts/P/crossings/stream", headers={"Authorization": "Bearer p-token"})
    as_c1 = await http.get("/v1/accounts/C1/crossings/stream", headers={"Authorization": "Bearer c1-token"})
    for response in (as_p, as_c1):
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        assert await response.content.readuntil(b"\n\n") == b": connected\n\n"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in (other, pool, child):
            await producer.send_and_wait(topic, orjson.dumps(event), key=event["account"].encode())
    finally:
        await producer.stop()
    assert [_body(await _next_event(as_p))["crossing_id"] for _ in range(2)] == [
        pool["crossing_id"],
        child["crossing_id"],
    ]
    assert _body(await _next_event(as_c1)) == child
    as_p.close()
    as_c1.close()


async def test_a_child_may_not_follow_its_parent(feed_api: tuple[Client, str, Any, str]) -> None:
    http, *_ = feed_api
    refused = await http.get("/v1/accounts/P/crossings/stream", headers={"Authorization": "Bearer c1-token"})
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "forbidden"
    missing = await http.get("/v1/accounts/P/crossings/stream")
    assert missing.status == 401
