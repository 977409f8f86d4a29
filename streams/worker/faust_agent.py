"""The Faust agent (``RATER_CONSUMER=faust``): one stateless agent rates the ``usage`` topic in batches.

Per batch, the rating pipeline (streams/worker/pipeline.py) turns the raw records into outputs, every output
is sent and its delivery awaited (streams/worker/sender.py), and only then does the loop ask for the next
batch, which is when Faust acknowledges the batch's events: offsets are committed only for records whose
outputs are on the broker (architecture step 6).  The agent runs with ``concurrency=1`` so a partition is
never processed out of order (property 6), and holds no Faust Table (Faust tables were measured losing
records around rebalances); all state is in Redis.  Only committed data is read (``read_committed``): a
record of an aborted transaction is never rated.  Time-driven rules run on a Faust timer every
``RATER_TICK_INTERVAL`` seconds.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustKafkaConsumer
from faust.transport.drivers.aiokafka import Transport as FaustKafkaTransport

from streams import metrics
from streams.configuration.topics import USAGE
from streams.kafka import READ_COMMITTED
from streams.settings import Settings
from streams.worker.pipeline import Pipeline, notifications_at, outputs_of
from streams.worker.sender import Sender


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

    @app.agent(usage, concurrency=1)
    async def rate(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            items = [
                (bytes(event.value), f"{event.message.topic}:{event.message.partition}:{event.message.offset}")
                for event in events
            ]
            await sender.publish(await outputs_of(pipeline, items))
            metrics.observe_events(events, app.consumer)  # metrics: batch size, end-to-end latency, lag

    if settings.tick_interval > 0:

        @app.timer(interval=settings.tick_interval)  # type: ignore[untyped-decorator]
        async def timer() -> None:
            await sender.publish(await notifications_at(pipeline, dt.datetime.now(dt.UTC)))

    return app
