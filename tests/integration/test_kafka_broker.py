"""The embedded Kafka-protocol broker starts, takes explicitly created topics, and carries records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.configuration.topics import TopicSpec, create_topics
from streams.dev.servers import KafkaBroker
from streams.settings import Settings
from streams.worker.sender import Sender

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with KafkaBroker() as running:
        yield running.bootstrap


async def test_topics_are_created_with_their_partition_counts(broker: str) -> None:
    """Explicit creation (Tansu auto-creates an unknown topic with 4 partitions)."""
    await create_topics(broker, [TopicSpec("usage-test", 6), TopicSpec("rated-test", 2)])
    await create_topics(broker, [TopicSpec("usage-test", 6)])  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        described = await admin.describe_topics(["usage-test", "rated-test"])
    finally:
        await admin.close()
    counts = {topic["topic"]: len(topic["partitions"]) for topic in described}
    assert counts == {"usage-test": 6, "rated-test": 2}


async def test_records_round_trip(broker: str) -> None:
    """100 keyed records produced are consumed back, each exactly once, keys kept."""
    await create_topics(broker, [TopicSpec("round-trip", 3)])
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        for number in range(100):
            await producer.send("round-trip", key=f"k{number % 7}".encode(), value=f"v{number}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "round-trip", bootstrap_servers=broker, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: list[tuple[bytes, bytes]] = []
    try:
        while len(seen) < 100:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break
            for records in batch.values():
                seen += [(record.key or b"", record.value or b"") for record in records]
    finally:
        await consumer.stop()
    assert sorted(value for _, value in seen) == sorted(f"v{n}".encode() for n in range(100))


async def test_an_output_the_producer_refuses_for_good_becomes_a_failure_event_and_the_rest_arrives(
    broker: str,
) -> None:
    """Issue finding 2 on a real broker: aiokafka refuses a 1,200,000-byte message (over its 1 MiB request
    size) with MessageSizeTooLargeError.  :meth:`Sender.deliver` returns (no retry for ever); the two
    small events around it are on rated-charges, and the refused record r2 has one software_system_error
    event on rating-exceptions naming the error, keyed by its account."""
    settings = Settings(kafka_bootstrap=broker, redis_url="redis://unused", topic_prefix="refused-")
    await create_topics(broker, [TopicSpec("refused-rated-charges", 1), TopicSpec("refused-rating-exceptions", 1)])
    huge = orjson.dumps({"record_id": "r2", "account": "ACC-2", "pad": "x" * 1_200_000})
    sender = Sender(settings)
    try:
        await asyncio.wait_for(
            sender.deliver(
                [
                    ("refused-rated-charges", b"ACC-1", b'{"record_id":"r1"}'),
                    ("refused-rated-charges", b"ACC-2", huge),
                    ("refused-rated-charges", b"ACC-3", b'{"record_id":"r3"}'),
                ]
            ),
            timeout=30,
        )
    finally:
        await sender.stop()
    rated = await _values(broker, "refused-rated-charges", 2)
    assert rated == [(b"ACC-1", b'{"record_id":"r1"}'), (b"ACC-3", b'{"record_id":"r3"}')]
    [(key, value)] = await _values(broker, "refused-rating-exceptions", 1)
    event = orjson.loads(value)
    assert (key, event["record_id"], event["type"]) == (b"ACC-2", "r2", "software_system_error")
    assert "MessageSizeTooLargeError" in event["message"]
    assert str(len(huge)) in event["message"]


async def _values(broker: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    """The first messages of ``topic`` (until ``count`` are read, then one more empty fetch)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            got += [(record.key or b"", record.value or b"") for records in batch.values() for record in records]
            if len(got) >= count and not batch:
                break
    finally:
        await consumer.stop()
    return got
