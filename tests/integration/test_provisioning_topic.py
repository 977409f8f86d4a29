"""The ``provisioning`` topic's consumer of ``rater api`` (streams/configuration/provisioning_feed.py), on a
real broker and a real valkey-server: no operation can block the topic.  Each operation ends as one result line on
``provisioning-results``, applied or refused, and the consumer goes on to the next one (issue finding 7: a
300-character ``time_zone`` used to fail the consumer, which restarted every 5 s on the same message)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.keys import operation_key
from rater.subscriptions import Subscriptions
from streams.api.app import background, build_api
from streams.api.auth import Tokens
from streams.api.context import ApiContext
from streams.api.exceptions import EXCEPTION_INDEX
from streams.api.exceptions_index import ExceptionIndex
from streams.api.provisioning import CONFIG_STORE
from streams.configuration.provisioning_feed import PROVISIONING, PROVISIONING_RESULTS
from streams.configuration.store import ConfigStore
from streams.configuration.topics import TopicSpec, create_topics
from streams.dev.servers import KafkaBroker
from streams.settings import Settings
from tests.unit.provisioning_builders import ACCOUNTS, CATALOG

pytestmark = pytest.mark.integration

APP = "topic"


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with KafkaBroker() as running:
        yield running.bootstrap


@pytest.fixture
async def api(broker: str, redis_client: Redis, redis_url: str, tmp_path: Path) -> AsyncIterator[ConfigStore]:
    """``rater api``'s application with its background consumers (:func:`streams.api.app.background`)."""
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "subscriptions.yaml").write_text(ACCOUNTS)
    store = ConfigStore(redis_client, APP)
    await store.bootstrap(tmp_path)

    async def config() -> tuple[Catalog, Subscriptions]:
        _, current = await store.current()
        return current.catalog, current.subscriptions

    settings = Settings(broker, redis_url, app_id=APP, session_timeout=6.0)
    ctx = ApiContext(settings, redis_client, Tokens.parse("op-secret", None), config)
    ctx.extras.update({CONFIG_STORE: store, EXCEPTION_INDEX: ExceptionIndex(redis_client, APP)})
    app = build_api(ctx)
    app.cleanup_ctx.append(background)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    yield store
    await client.close()


async def produce(broker: str, messages: list[bytes]) -> None:
    await create_topics(broker, [TopicSpec(PROVISIONING, 1), TopicSpec(PROVISIONING_RESULTS, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        for value in messages:
            await producer.send_and_wait(PROVISIONING, value)
    finally:
        await producer.stop()


async def results(broker: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        PROVISIONING_RESULTS, bootstrap_servers=broker, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < count and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            found += [orjson.loads(m.value or b"") for records in batch.values() for m in records]
    finally:
        await consumer.stop()
    return found


async def test_bad_operations_are_refused_and_the_next_good_one_is_applied(
    api: ConfigStore, broker: str, redis_client: Redis
) -> None:
    """Three messages in one partition, in order:

    1. ``update_account`` with a 300-character ``time_zone``: refused ``invalid_operation`` (the bound, 64
       characters, in docs/subscriptions.md);
    2. an operation whose stored result under its id is not readable (a store value that is not JSON: an
       error no validation foresees): refused ``internal``, its unreadable value replaced by the refusal;
    3. a good ``update_account``: applied, version 1 + 1 = 2 (the seed is version 1, the refusals made none).

    The three result lines come in that order, and the configuration holds the good change."""
    await redis_client.set(operation_key(APP, "unreadable"), b"\xff not json")
    await produce(
        broker,
        [
            orjson.dumps(
                {"id": "bad-zone", "op": "update_account", "account": "TEAM", "set": {"time_zone": "x" * 300}}
            ),
            orjson.dumps({"id": "unreadable", "op": "update_account", "account": "TEAM", "set": {"name": "no"}}),
            orjson.dumps({"id": "good", "op": "update_account", "account": "TEAM", "set": {"name": "Team"}}),
        ],
    )
    lines = await results(broker, 3)
    assert [(line["operation"], line["status"], line.get("error", {}).get("code")) for line in lines] == [
        ("bad-zone", "refused", "invalid_operation"),
        ("unreadable", "refused", "internal"),
        ("good", "applied", None),
    ]
    assert lines[2]["version"] == 2
    assert "set.time_zone" in lines[0]["error"]["issues"][0]
    stored = await api.result("unreadable")
    assert stored is not None
    assert stored.status == "refused"
    version, config = await api.snapshot()
    assert (version, config.accounts["TEAM"].name, config.accounts["TEAM"].time_zone) == (2, "Team", None)
