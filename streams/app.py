"""The Faust app: one stateless agent rates the ``usage`` topic in batches.

Per batch of raw records (decoded by our codec, never by Faust, style habit 6): one pipelined round trip to
the Redis kernel (``rater.batch.rate_batch``), then every output is sent and its delivery awaited, and only
then does the loop ask for the next batch, which is when Faust acknowledges the batch's events: offsets are
committed only for records whose outputs are on the broker (architecture step 6).  The agent runs with
``concurrency=1`` so a partition is never processed out of order (property 6), and holds no Faust Table
(Faust tables were measured losing records around rebalances); all state is in Redis.

A store that is unavailable is retried with backoff, in place, never skipped (property 7).  Only committed
data is read (``read_committed``): a record of an aborted transaction is never rated.  Every output event is
at most ``RATER_MAX_EVENT_BYTES`` (:func:`messages`), and an output the broker refuses for good becomes its
record's failure event instead of a retry for ever (:class:`Sender`, shared with the lean loop).

Time-driven rules (billing activation by time, R50b) run on a wall-clock timer every
``RATER_TICK_INTERVAL`` seconds; every worker runs it and the kernel's once-only mark makes one
notification per package.  A control message ``{"control": "tick", "time": ...}`` on the usage topic, signed
with ``RATER_CONTROL_KEY`` (streams/control.py), runs them at that time, in its place in the stream (as
offline rating does; useful for replays and tests).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustKafkaConsumer
from faust.transport.drivers.aiokafka import Transport as FaustKafkaTransport

from rater.activation import tick
from rater.batch import rate_batch
from rater.errors import TITLES, ExceptionType, InvalidRecord, RatingError
from rater.events import Notification, Outcome, RatedCharge, RatingExceptionEvent, Source, delivery_failure
from rater.rating import Rater
from rater.record import TimeWindow, control_of
from rater.redis_store import RedisStore
from streams import metrics
from streams.config_store import LiveRater
from streams.control import tick_time
from streams.retry import retry
from streams.settings import DEFAULT_MAX_EVENT_BYTES, Settings
from streams.topics import CROSSINGS, EXCEPTIONS, NOTIFICATIONS, OUTPUTS, RATED, USAGE, TopicSpec  # names re-exported

log = logging.getLogger("rater.stream")

#: An output message: (topic name, key, value); the topic prefix is added when it is sent.
Message = tuple[str, bytes, bytes]
#: Consumers of ``usage`` read committed data only: a record of an aborted transaction is never rated.
READ_COMMITTED = "read_committed"

__all__ = [
    "CROSSINGS",
    "EXCEPTIONS",
    "NOTIFICATIONS",
    "OUTPUTS",
    "RATED",
    "USAGE",
]  # re-exported: its users import them here


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic with its partition count, for explicit creation."""
    return [TopicSpec(settings.topic(USAGE), settings.usage_partitions, settings.replication)] + [
        TopicSpec(settings.topic(name), settings.output_partitions, settings.replication) for name in OUTPUTS
    ]


@dataclass
class Pipeline:
    """What the agent needs: the rating core, the store, and where to send outputs."""

    rater: Rater
    store: RedisStore
    settings: Settings
    live: LiveRater | None = None  # provisioning: the Rater in force follows the configuration store


def messages(
    outcome: Outcome,
    record_id: str,
    *,
    limit: int = DEFAULT_MAX_EVENT_BYTES,
    source: Source | None = None,
    original: bytes = b"",
) -> list[Message]:
    """(topic name, key, value) of every event one outcome publishes, keyed by account; each value at most
    ``limit`` bytes (``RATER_MAX_EVENT_BYTES``, docs/events.md).  An exception event over it keeps a prefix
    of its original; a rated charge whose events would be over it becomes a ``software_system_error``
    exception carrying the record (``original``).  ``source``: where the record was read, named by an
    exception event that had to cut its original (only there: a resent record's events must not differ by
    the offset it was read at, R1)."""
    if isinstance(outcome, RatedCharge):
        key = outcome.account.encode()
        out = [(RATED, key, orjson.dumps(outcome.to_dict()))]
        out += [(CROSSINGS, c.account.encode(), orjson.dumps(c.to_dict())) for c in outcome.crossings]
        out += [(NOTIFICATIONS, n.account.encode(), orjson.dumps(n.to_dict())) for n in outcome.notifications]
        largest = max(len(value) for _, _, value in out)
        if largest <= limit:
            return out
        too_large = RatingError(
            ExceptionType.SOFTWARE_SYSTEM_ERROR,
            f"its rated-charge events would be {largest} bytes, over RATER_MAX_EVENT_BYTES={limit}",
            account=outcome.account,
        )
        outcome = RatingExceptionEvent.from_error(record_id, too_large, original)
    event, value = outcome.bounded(limit, source)
    return [(EXCEPTIONS, (event.account or event.record_id).encode(), value)]


#: Producer batch size per partition: a rating batch's outputs (about 1 KB each) go out in a few produce
#: requests instead of one per 16 KB (aiokafka's default), which cost the worker a socket write each.
MAX_BATCH_BYTES = 256 * 1024

#: Producer errors no retry cures for that message (aiokafka.errors): the message is sent again alone (it
#: may only have shared a batch with the culprit), and if it is refused again its record gets a bounded
#: ``software_system_error`` event instead.  Every other broker error is retried with backoff.
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
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap, acks="all", linger_ms=2, max_batch_size=MAX_BATCH_BYTES
            )
            await producer.start()
            self.producer = producer
        return self.producer

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
        delay = 0.1
        while True:
            try:
                futures = submitted if submitted is not None else await self.submit(messages)
                submitted = None
                results = await asyncio.gather(*futures, return_exceptions=True)
                for result in results:
                    if isinstance(result, BaseException) and not isinstance(result, PERMANENT):
                        raise result
                break
            except KafkaError as exc:
                log.warning("broker unavailable, sending the outputs again in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        refused = [message for message, result in zip(messages, results, strict=True) if isinstance(result, PERMANENT)]
        replaced: set[str] = set()
        for message in refused:
            await self._alone(message, replaced)

    async def _alone(self, message: Message, replaced: set[str]) -> None:
        """Send one refused message by itself; refused again, send its record's failure event instead (once
        per record); a failure event refused in turn is logged and dropped."""
        delay = 0.1
        current: Message | None = message
        while current is not None:
            topic, key, value = current
            try:
                await (await (await self._producer()).send(topic, value=value, key=key))
                return
            except PERMANENT as exc:
                if current is not message:
                    log.error("the broker refused the failure event %r for good, dropped: %s", value[:200], exc)
                    return
                current = self._failure(message, exc, replaced)
            except KafkaError as exc:
                log.warning("broker unavailable, sending an output again in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

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
        return self.settings.topic(EXCEPTIONS), key, orjson.dumps(event.to_dict())

    async def stop(self) -> None:
        """Flush and close the producer (every send so far was awaited, so nothing is left behind)."""
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None


class _ReadCommittedThread(AIOKafkaConsumerThread):
    """Faust reads committed data only in its exactly-once mode, which this broker cannot run (infra notes
    item 3); the rating agent reads committed data always, as the lean loop does: a record of an aborted
    transaction is never charged."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = READ_COMMITTED  # read by the fetcher it creates on start
        return consumer


class _ReadCommittedConsumer(FaustKafkaConsumer):
    def _new_consumer_thread(self) -> _ReadCommittedThread:
        return _ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(FaustKafkaTransport):
    Consumer = _ReadCommittedConsumer


class _App(faust.App):
    def _new_transport(self) -> _Transport:
        return _Transport(self.conf.broker_consumer, self)


def faust_app(settings: Settings) -> faust.App:
    """The Faust app with the settings every worker of ours uses (short session timeout and heartbeat, so
    a lost worker's partitions move quickly; raw keys and values, decoded by our codec; no web server; acks=all; topics
    created by us, never declared by Faust; committed data only)."""
    return _App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=1.0,
        producer_acks=-1,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        # No Tables are used, but Faust still creates a data folder: keep it out of the cwd.
        datadir=tempfile.mkdtemp(prefix="rater-faust-"),
    )


def build_app(settings: Settings, pipeline: Pipeline) -> faust.App:
    app = faust_app(settings)
    usage = app.topic(settings.topic(USAGE), key_type=bytes, value_type=bytes)

    sender = Sender(settings)

    async def publish(batch: list[Message]) -> None:
        """Send every message and wait until the broker has them all."""
        await sender.send_all([(settings.topic(name), key, value) for name, key, value in batch])

    @app.agent(usage, concurrency=1)
    async def rate(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            items = [
                (bytes(event.value), f"{event.message.topic}:{event.message.partition}:{event.message.offset}")
                for event in events
            ]
            await publish(await outputs_of(pipeline, items))
            metrics.observe_events(events, app.consumer)  # metrics: batch size, end-to-end latency, lag

    if settings.tick_interval > 0:

        @app.timer(interval=settings.tick_interval)  # type: ignore[untyped-decorator]
        async def timer() -> None:
            await publish(await notifications_at(pipeline, dt.datetime.now(dt.UTC)))

    return app


def _notification(note: Notification) -> Message:
    return NOTIFICATIONS, note.account.encode(), orjson.dumps(note.to_dict())


async def outputs_of(pipeline: Pipeline, items: list[tuple[bytes, str]]) -> list[Message]:
    """Every output message of a batch of ``(raw bytes, fallback id)`` items, in input order.

    Usage records are rated in runs (one store round trip per run); a signed ``tick`` control message runs
    the time-driven rules in its place in the stream, after the records before it (:func:`_control`).
    Retriable store errors are retried here, in place; the caller sends the messages and only then
    acknowledges the batch.
    The configuration in force is looked up first, so a provisioning change acknowledged before the batch
    started applies to all of it.
    """
    await _configuration_in_force(pipeline)
    out: list[Message] = []
    pending: list[tuple[bytes, str]] = []
    for data, fallback in items:
        control = control_of(data)
        if control is None:
            pending.append((data, fallback))
            continue
        out += await _rate_all(pipeline, pending)  # records before the control message are rated first
        pending = []
        out += await _control(pipeline, control, data, fallback)
    out += await _rate_all(pipeline, pending)
    return out


async def notifications_at(pipeline: Pipeline, moment: dt.datetime) -> list[Message]:
    """The time-driven rules at ``moment`` (R50b) as output messages: one per package first marked now, under
    the configuration in force (a package provisioned since the last batch is due too)."""
    await _configuration_in_force(pipeline)
    return [_notification(note) for note in await _tick_with_retry(pipeline, moment)]


async def _rate_all(pipeline: Pipeline, items: list[tuple[bytes, str]]) -> list[Message]:
    if not items:
        return []
    rated = await _rate_with_retry(pipeline, items)
    metrics.observe_outcomes(outcome for _, outcome in rated)  # metrics: rated, exceptions by type
    limit = pipeline.settings.max_event_bytes
    out: list[Message] = []
    for (data, fallback), (record_id, outcome) in zip(items, rated, strict=True):
        source = Source.parse(fallback)
        try:
            out += messages(outcome, record_id, limit=limit, source=source, original=data)
        except Exception as exc:  # the last line of defence: an outcome that cannot be encoded stops nothing
            log.exception("record %s: its outcome could not be encoded", record_id[:200])
            error = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"encoding its outcome: {type(exc).__name__}")
            out += messages(
                RatingExceptionEvent.from_error(record_id, error, data), record_id, limit=limit, source=source
            )
    return out


async def _control(pipeline: Pipeline, body: dict[str, Any], data: bytes, fallback: str) -> list[Message]:
    """A signed ``tick`` runs the time-driven rules at its time; any other control message is an
    ``invalid_record`` exception (streams/control.py), and a tick the rules fail on a ``software_system_error``
    one: every message on ``usage`` has exactly one outcome and none stops the worker."""
    moment = tick_time(body, pipeline.settings.control_key, _window(pipeline))
    if isinstance(moment, dt.datetime):
        try:
            return [_notification(note) for note in await _tick_with_retry(pipeline, moment)]
        except Exception as exc:
            log.exception("the tick at %s failed", moment)
            error = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"the tick failed: {type(exc).__name__}: {exc}")
    else:
        error = InvalidRecord(moment)
    refused = RatingExceptionEvent.from_error(fallback, error, data)
    metrics.observe_outcomes([refused])
    limit = pipeline.settings.max_event_bytes
    return messages(refused, fallback, limit=limit, source=Source.parse(fallback))


async def _configuration_in_force(pipeline: Pipeline) -> None:
    """Provisioning (docs/provisioning.md): one GET of the configuration version per batch; a new version
    rebuilds the Rater, so every record of a batch that starts after a change is acknowledged sees it."""
    live = pipeline.live
    if live is not None:
        pipeline.rater = await retry(live.current, "the configuration version")


async def _tick_with_retry(pipeline: Pipeline, moment: dt.datetime) -> list[Notification]:
    return await retry(lambda: tick(pipeline.rater.resolver.index, pipeline.store, moment), "the tick")


async def _rate_with_retry(pipeline: Pipeline, items: Sequence[tuple[bytes, str]]) -> list[tuple[str, Outcome]]:
    """The batch through the one rating pipeline, with event times accepted around the wall clock."""
    window = _window(pipeline)
    return await retry(lambda: rate_batch(pipeline.rater, pipeline.store, items, window), "the batch")


def _window(pipeline: Pipeline) -> TimeWindow:
    """Event (and tick) times accepted: ``RATER_EVENT_WINDOW_DAYS`` either side of the wall clock."""
    return TimeWindow.around(dt.datetime.now(dt.UTC), pipeline.settings.event_window_days)
