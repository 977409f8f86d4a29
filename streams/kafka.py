"""Kafka clients shared by the runtime, the CLI and the dev stack: the one way a producer is built, and what
every consumer of ``usage`` reads.

Every producer of the project comes from :func:`start_producer` (the worker's sender, the publishers of the
API and of ``rater provision`` / ``rater exceptions reprocess``, ``rater send``, the demo and the bench):
``acks=all``, so a message counts as sent only once every in-sync replica has it (architecture step 6),
and a start that fails leaves no half-open connection behind.  Callers choose only the batching.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

#: Consumers of ``usage`` read committed data only: a record of an aborted transaction is never rated.
READ_COMMITTED = "read_committed"


async def start_producer(
    bootstrap: str, *, linger_ms: int = 0, max_batch_size: int = 16 * 1024, request_timeout_ms: int = 40_000
) -> AIOKafkaProducer:
    """A started producer on ``bootstrap`` with ``acks=all``.  ``linger_ms`` and ``max_batch_size`` (bytes
    per partition batch) trade latency for fewer produce requests; the defaults are aiokafka's."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=max_batch_size,
        request_timeout_ms=request_timeout_ms,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()  # its half-open connections; the next start tries afresh
        raise
    return producer


class TopicPublisher:
    """Publishes to one topic with a producer started on first use (``rater provision`` needs a broker only
    when a cancellation has adjustments).  Each call returns once the broker has the message."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer: AIOKafkaProducer | None = None

    async def __call__(self, key: bytes | None, value: bytes) -> None:
        if self.producer is None:
            self.producer = await start_producer(self.bootstrap)
        await self.producer.send_and_wait(self.topic, key=key, value=value)

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
