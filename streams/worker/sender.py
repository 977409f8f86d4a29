"""The worker's outputs to the broker: one producer, one delivery policy, for the lean loop, the Faust agent
and the timer alike."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from rater.errors import TITLES, ExceptionType
from rater.events import Source, delivery_failure, dumps
from streams.configuration.topics import EXCEPTIONS
from streams.kafka import start_producer
from streams.retry import retry
from streams.settings import Settings

log = logging.getLogger("rater.stream")

#: An output message: (topic name, key, value); the topic prefix is added when it is sent.
Message = tuple[str, bytes, bytes]

#: Producer batch size per partition: a rating batch's outputs (about 1 KB each) go out in a few produce
#: requests instead of one per 16 KB (aiokafka's default), which cost the worker a socket write each.
MAX_BATCH_BYTES = 256 * 1024

#: Producer errors no retry cures for that message (aiokafka.errors): the message is sent again alone (it
#: may only have shared a batch with the culprit), and if it is refused again its record gets a bounded
#: ``software_system_error`` event instead.  Every other broker error is retried with backoff (streams/retry.py).
PERMANENT = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    InvalidTimestampError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
)
#: Futures of queued messages, one per message, in order.
Submitted = list["asyncio.Future[Any]"]


class Sender:
    """Outputs go through a plain aiokafka producer (acks=all) rather than Faust's per-message send path,
    measured at ~2,400 messages/s on the embedded broker.  :meth:`deliver` is the one delivery policy of the
    lean loop, the Faust agent and the timer: a broker that is unavailable is waited out (the lot is sent
    again, with backoff: consumers dedupe on event ids and re-emissions are identical); a message the broker
    refuses for good (:data:`PERMANENT`) becomes its record's failure event, so it never stalls a partition."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: Any = None

    async def _producer(self) -> Any:
        if self.producer is None:
            self.producer = await start_producer(
                self.settings.kafka_bootstrap, linger_ms=2, max_batch_size=MAX_BATCH_BYTES
            )
        return self.producer

    async def publish(self, out: list[Message]) -> None:
        """Send every message, named by its topic before ``RATER_TOPIC_PREFIX``, and wait until the broker has
        them all (the delivery of :meth:`send_all`)."""
        await self.send_all([(self.settings.topic(name), key, value) for name, key, value in out])

    async def send_all(self, messages: list[Message]) -> None:
        """Send every message and wait until the broker has them all (or their failure events)."""
        if messages:
            await self.deliver(messages)

    async def submit(self, messages: list[Message]) -> Submitted:
        """Queue every message in order; each future completes when the broker has its message (or fails).
        A message the producer refuses before queueing it (over its request size) gets a failed future."""
        producer = await self._producer()
        futures: Submitted = []
        for topic, key, value in messages:
            try:
                futures.append(await producer.send(topic, value=value, key=key))
            except PERMANENT as exc:
                refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                refused.set_exception(exc)
                futures.append(refused)
        return futures

    async def deliver(self, messages: list[Message], submitted: Submitted | None = None) -> None:
        """Return once every message (already queued as ``submitted``, or queued now) is on the broker, or,
        for a message refused for good, its record's failure event is."""
        pending = submitted

        async def attempt() -> list[Any]:
            nonlocal pending
            futures = pending if pending is not None else await self.submit(messages)
            pending = None  # after a broker error, the lot is queued again
            results = await asyncio.gather(*futures, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, PERMANENT):
                    raise result
            return results

        results = await retry(attempt, "sending the outputs")
        refused = [message for message, result in zip(messages, results, strict=True) if isinstance(result, PERMANENT)]
        replaced: set[str] = set()
        for message in refused:
            await self._alone(message, replaced)

    async def _alone(self, message: Message, replaced: set[str]) -> None:
        """Send one refused message by itself; refused again, send its record's failure event instead (once
        per record); a failure event refused in turn is logged and dropped."""
        current: Message | None = message
        while current is not None:
            topic, key, value = current

            async def attempt(topic: str = topic, key: bytes = key, value: bytes = value) -> Exception | None:
                try:
                    await (await (await self._producer()).send(topic, value=value, key=key))
                except PERMANENT as exc:
                    permanent: Exception = exc  # no retry cures it: answered, not raised
                    return permanent
                return None

            refused = await retry(attempt, "sending an output")
            if refused is None:
                return
            if current is not message:
                log.error("the broker refused the failure event %r for good, dropped: %s", value[:200], refused)
                return
            current = self._failure(message, refused, replaced)

    def _failure(self, message: Message, error: Exception, replaced: set[str]) -> Message | None:
        """The bounded ``software_system_error`` event of the record whose output ``message`` is (None when
        that record has one already)."""
        topic, _, value = message
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError:
            body = None
        body = body if isinstance(body, dict) else {}
        record_id = str(body.get("record_id") or body.get("event_id") or f"{topic}:unreadable")
        where = body.get("source")
        source = Source(where["topic"], where["partition"], where["offset"]) if isinstance(where, dict) else None
        event = delivery_failure(
            record_id,
            body.get("account") if isinstance(body.get("account"), str) else None,
            f"{TITLES[ExceptionType.SOFTWARE_SYSTEM_ERROR]}: the broker refused its {topic} event "
            f"({len(value)} bytes) for good: {type(error).__name__}: {error}",
            source,
        )
        log.error("record %s: %s", event.record_id, event.message)
        if event.record_id in replaced:
            return None
        replaced.add(event.record_id)
        key = (event.account or event.record_id).encode()
        return self.settings.topic(EXCEPTIONS), key, dumps(event)

    async def stop(self) -> None:
        """Flush and close the producer (every send so far was awaited, so nothing is left behind)."""
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
