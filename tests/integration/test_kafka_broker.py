"""The embedded Kafka-protocol broker starts, takes explicitly created topics, and carries records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.servers import KafkaBroker
from streams.topics import TopicSpec, create_topics

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
