"""The runtime's Kafka clients that are not a consumer loop of their own: what every producer and consumer of
``usage`` share."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

#: Consumers of ``usage`` read committed data only: a record of an aborted transaction is never rated.
READ_COMMITTED = "read_committed"


class TopicPublisher:
    """Publishes to one topic with a producer started on first use (``rater provision`` needs a broker only
    when a cancellation has adjustments)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer: AIOKafkaProducer | None = None

    async def __call__(self, key: bytes | None, value: bytes) -> None:
        if self.producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # its half-open connections; the next send tries afresh
                raise
            self.producer = producer
        await self.producer.send_and_wait(self.topic, key=key, value=value)

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
