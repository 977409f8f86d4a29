"""The worker's consumer loop on a plain aiokafka consumer group (``RATER_CONSUMER=lean``, the default).

Faust's per-message machinery (events, sensors, acking one offset at a time) cost more per record than
rating itself on this stack, so the worker consumes the ``usage`` topic with aiokafka directly, one batch
at a time, and keeps every guarantee of the Faust agent it replaces (``RATER_CONSUMER=faust`` still runs
that agent, :func:`streams.worker.faust_agent.build_app`):

1. **Batch.**  ``getmany`` returns up to ``RATER_BATCH_SIZE`` records of the partitions this worker holds,
   each partition's records in offset order.  One task handles one batch at a time, so a partition is never
   processed concurrently or out of order (property 6).
2. **Handle.**  The handler turns the batch into output messages (for the rating worker
   :func:`streams.worker.pipeline.outputs_of`: decode, one Redis round trip, price; a bad record becomes a rating
   exception).  A store that is unavailable is retried there, in place, with backoff (property 7).
3. **Send.**  The batch's outputs are queued on the producer (``acks=all``), and the loop goes on to fetch
   and handle the next batch while the broker acknowledges them: one batch in flight, so the rating of batch
   N+1 overlaps the delivery of batch N.  Before N+1's outputs are queued, N's delivery is awaited
   (:meth:`streams.worker.sender.Sender.deliver`: a broker error sends the whole of N's outputs again, with backoff;
   consumers dedupe on event ids and re-emissions are identical; an output the broker refuses for good,
   such as one too large, becomes its record's failure event, never a retry for ever), so outputs leave in
   batch order.  With no next batch, N is settled at once.
4. **Commit.**  Only once a batch's outputs are all on the broker are its offsets committed, explicitly,
   per partition (architecture step 6); auto-commit is off.  Offsets are cumulative, so a commit that fails
   (the group rebalanced under us) loses nothing: the records are delivered again, to whichever worker holds
   the partition, and the kernel's dedupe gives them their first draw back, so the outputs are the same
   bytes (property 2).  A crash with a batch in flight is the same case: nothing of it was committed.
5. **Rebalance.**  The group's revoke callback waits for the batch being handled (a lock held from handle
   to queueing its outputs) and settles the batch in flight (delivery, then commit) before the partitions
   go, so a rebalance neither skips nor doubles work.
   Records fetched for a partition no longer assigned are dropped unprocessed; their new owner reads them.
6. **Stop.**  SIGTERM/SIGINT finish the batch in hand, settle it and leave the group; a batch stuck
   retrying a dead store is abandoned after ``STOP_GRACE`` seconds, uncommitted, to be redelivered.

Time-driven rules run on a wall-clock task every ``RATER_TICK_INTERVAL`` seconds, as the Faust timer did.
The consumer reads committed data only (``read_committed``): a record of an aborted transaction is never
rated, and every compression codec Kafka defines is read (gzip; snappy, lz4 and zstd through cramjam).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from streams import metrics
from streams.configuration.topics import USAGE
from streams.kafka import READ_COMMITTED
from streams.settings import Settings
from streams.worker.pipeline import Pipeline, notifications_at, outputs_of
from streams.worker.sender import Message, Sender, Submitted

log = logging.getLogger("rater.stream")

#: Records of one batch: each partition's records in offset order.
Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
#: Turns a batch's records into (topic name without prefix, key, value) output messages.
Handler = Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[list[Message]]]

#: Seconds a stop request waits for the batch in hand before abandoning it (it is redelivered).
STOP_GRACE = 10.0


class _SettleFirst(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions are given up only between batches, once the batch in flight is sent and committed."""

    def __init__(self, loop: LeanLoop, consumer: AIOKafkaConsumer) -> None:
        self.loop = loop
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self.loop._lock:
            await self.loop.settle(self.consumer)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("assigned %s", sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))


@dataclass
class _InFlight:
    """A batch whose outputs are queued on the producer but not yet acknowledged, nor its offsets committed."""

    offsets: dict[TopicPartition, int]
    messages: list[Message]
    delivered: Submitted | None
    timestamps: list[float] = field(default_factory=list)  # the records' Kafka timestamps, seconds


class LeanLoop:
    """Consume ``usage`` in batches: handle, send and await, then commit (see the module docstring)."""

    def __init__(self, settings: Settings, handle: Handler, sender: Sender | None = None) -> None:
        self.settings = settings
        self.handle = handle
        self.sender = sender or Sender(settings)
        self.stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._in_flight: _InFlight | None = None

    async def run(self) -> None:
        settings = self.settings
        consumer = usage_consumer(settings)
        consumer.subscribe([settings.topic(USAGE)], listener=_SettleFirst(self, consumer))
        await consumer.start()
        try:
            while not self.stopping.is_set():
                batch = await consumer.getmany(
                    timeout_ms=int(settings.batch_within * 1000), max_records=settings.batch_size
                )
                async with self._lock:
                    if batch:
                        await self._one_batch(consumer, batch)
                    else:
                        await self.settle(consumer)  # nothing new: finish the batch in flight now
            async with self._lock:
                await self.settle(consumer)
        finally:
            await consumer.stop()
            await self.sender.stop()

    async def _one_batch(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        """Handle this batch while the previous one's outputs are on their way; then settle the previous
        one and queue this one's outputs (so outputs leave in batch order)."""
        assigned = consumer.assignment()
        held = {tp: records for tp, records in batch.items() if tp in assigned and records}
        if not held:
            return
        records = [record for partition in held.values() for record in partition]
        out = await self.handle(records)
        await self.settle(consumer)
        messages = [(self.settings.topic(name), key, value) for name, key, value in out]
        offsets = {tp: partition[-1].offset + 1 for tp, partition in held.items()}
        metrics.observe_batch(len(records))
        self._in_flight = _InFlight(offsets, messages, None, [record.timestamp / 1000 for record in records])
        with contextlib.suppress(KafkaError):  # settle() sends them again
            self._in_flight.delivered = await self.sender.submit(messages)

    async def settle(self, consumer: AIOKafkaConsumer) -> None:
        """Wait until the batch in flight has every output on the broker (sending the lot again, with
        backoff, after a broker error; a refused output replaced by its record's failure event), then
        commit its offsets.  Called with the lock held."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return
        await self.sender.deliver(flight.messages, flight.delivered)
        await self._commit(consumer, flight.offsets)
        _observe_settled(consumer, flight)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # The partitions moved on (a rebalance) or the coordinator failed: their records are delivered
            # again from the last committed offset and the kernel's dedupe makes that change nothing.
            log.warning("commit of %s failed, those records will be redelivered: %s", offsets, exc)

    async def tick_every(self, interval: float, pipeline: Pipeline) -> None:
        """The time-driven rules on the wall clock (R50b), as the Faust timer ran them."""
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=interval)
            if not self.stopping.is_set():
                await self.sender.publish(await notifications_at(pipeline, dt.datetime.now(dt.UTC)))


def usage_consumer(settings: Settings) -> AIOKafkaConsumer:
    """The group consumer of ``usage``: manual commits, committed data only (``read_committed``)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.app_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=1000,  # short heartbeat and session: a lost worker's partitions move quickly
        max_poll_records=settings.batch_size,
        isolation_level=READ_COMMITTED,  # a record of an aborted transaction is never rated
    )


def _observe_settled(consumer: AIOKafkaConsumer, flight: _InFlight) -> None:
    """Metrics of a settled batch: each record's end-to-end latency and each partition's lag (the high
    watermark less the next offset to rate).  Never raises: a metric is never worth a failed batch."""
    try:
        metrics.observe_acked(flight.timestamps)
        for tp, offset in flight.offsets.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                metrics.observe_lag(tp.topic, tp.partition, int(highwater) - offset)
    except Exception:
        log.debug("metrics of a settled batch failed", exc_info=True)


def rating_handler(pipeline: Pipeline) -> Handler:
    """The rating worker's handler: raw values and a ``topic:partition:offset`` fallback id per record."""

    async def handle(records: list[ConsumerRecord[bytes, bytes]]) -> list[Message]:
        items = [(record.value or b"", f"{record.topic}:{record.partition}:{record.offset}") for record in records]
        return await outputs_of(pipeline, items)

    return handle


async def serve(loop: LeanLoop, pipeline: Pipeline | None = None) -> None:
    """Run ``loop`` (and the tick task when ``pipeline`` is given and ticks are on) until SIGTERM/SIGINT."""
    running = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None

    def stop() -> None:
        loop.stopping.set()
        running.call_later(STOP_GRACE, main.cancel)  # a batch stuck retrying is abandoned, uncommitted

    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, stop)
    tasks = [asyncio.create_task(loop.run())]
    if pipeline is not None and loop.settings.tick_interval > 0:
        tasks.append(asyncio.create_task(loop.tick_every(loop.settings.tick_interval, pipeline)))
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
