"""The Faust app: one stateless agent rates the ``usage`` topic in batches.

Per batch of raw records (decoded by our codec, never by Faust, style habit 6): one pipelined round trip to
the Redis kernel (``rater.batch.rate_batch``), then every output is sent and its delivery awaited, and only
then does the loop ask for the next batch, which is when Faust acknowledges the batch's events: offsets are
committed only for records whose outputs are on the broker (architecture step 6).  The agent runs with
``concurrency=1`` so a partition is never processed out of order (property 6), and holds no Faust Table
(Faust tables were measured losing records around rebalances); all state is in Redis.

A store that is unavailable is retried with backoff, in place, never skipped (property 7).

Time-driven rules (billing activation by time, R50b) run on a wall-clock timer every
``RATER_TICK_INTERVAL`` seconds; every worker runs it and the kernel's once-only mark makes one
notification per package.  A control message ``{"control": "tick", "time": ...}`` on the usage topic runs
them at that time, in its place in the stream (as offline rating does; useful for replays and tests).
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

from rater.batch import rate_batch, tick
from rater.engine import Rater
from rater.events import Notification, Outcome, RatedCharge
from rater.record import TimeWindow
from rater.redis_store import RedisStore
from streams import metrics
from streams.config_store import LiveRater
from streams.retry import retry
from streams.settings import Settings
from streams.topics import CROSSINGS, EXCEPTIONS, NOTIFICATIONS, OUTPUTS, RATED, USAGE, TopicSpec  # names re-exported

log = logging.getLogger("rater.stream")

#: An output message: (topic name, key, value); the topic prefix is added when it is sent.
Message = tuple[str, bytes, bytes]

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


def messages(outcome: Outcome, record_id: str) -> list[Message]:
    """(topic name, key, value) of every event one outcome publishes, keyed by account."""
    body = outcome.to_dict()
    if isinstance(outcome, RatedCharge):
        key = outcome.account.encode()
        out = [(RATED, key, orjson.dumps(body))]
        out += [(CROSSINGS, c.account.encode(), orjson.dumps(c.to_dict())) for c in outcome.crossings]
        out += [(NOTIFICATIONS, n.account.encode(), orjson.dumps(n.to_dict())) for n in outcome.notifications]
        return out
    key = (outcome.account or record_id).encode()
    return [(EXCEPTIONS, key, orjson.dumps(body))]


#: Producer batch size per partition: a rating batch's outputs (about 1 KB each) go out in a few produce
#: requests instead of one per 16 KB (aiokafka's default), which cost the worker a socket write each.
MAX_BATCH_BYTES = 256 * 1024


class Sender:
    """Outputs go through a plain aiokafka producer (acks=all) rather than Faust's per-message send path,
    measured at ~2,400 messages/s on the embedded broker; every batch is awaited until the broker has it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None

    async def send_all(self, messages: list[Message]) -> None:
        """Send every message and wait until the broker has them all."""
        if messages:
            await (await self.submit(messages))

    async def submit(self, messages: list[Message]) -> asyncio.Future[list[Any]]:
        """Queue every message in order; the result completes when the broker has them all (or fails)."""
        if self.producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap, acks="all", linger_ms=2, max_batch_size=MAX_BATCH_BYTES
            )
            await producer.start()
            self.producer = producer
        futures = [await self.producer.send(topic, value=value, key=key) for topic, key, value in messages]
        return asyncio.gather(*futures)

    async def stop(self) -> None:
        """Flush and close the producer (every send so far was awaited, so nothing is left behind)."""
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None


def faust_app(settings: Settings) -> faust.App:
    """The Faust app with the settings every worker of ours uses (short session timeout and heartbeat, so
    a lost worker's partitions move quickly; raw keys and values, decoded by our codec; no web server; acks=all; topics
    created by us, never declared by Faust)."""
    return faust.App(
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


def _tick_time(data: bytes) -> dt.datetime | None:
    """The time of a ``tick`` control message, or ``None`` for anything else (usage, or bad input, which the
    codec turns into a rating exception)."""
    if b'"control"' not in data:
        return None
    try:
        body = orjson.loads(data)
        if isinstance(body, dict) and body.get("control") == "tick":
            moment = dt.datetime.fromisoformat(str(body["time"]))
            return moment if moment.tzinfo is not None else None
    except (orjson.JSONDecodeError, KeyError, ValueError):
        return None
    return None


def _notification(note: Notification) -> Message:
    return NOTIFICATIONS, note.account.encode(), orjson.dumps(note.to_dict())


async def outputs_of(pipeline: Pipeline, items: list[tuple[bytes, str]]) -> list[Message]:
    """Every output message of a batch of ``(raw bytes, fallback id)`` items, in input order.

    Usage records are rated in runs (one store round trip per run); a ``tick`` control message runs the
    time-driven rules in its place in the stream, after the records before it.  Retriable store errors are
    retried here, in place; the caller sends the messages and only then acknowledges the batch.
    The configuration in force is looked up first, so a provisioning change acknowledged before the batch
    started applies to all of it.
    """
    await _configuration_in_force(pipeline)
    out: list[Message] = []
    pending: list[tuple[bytes, str]] = []
    for data, fallback in items:
        moment = _tick_time(data)
        if moment is None:
            pending.append((data, fallback))
            continue
        out += await _rate_all(pipeline, pending)  # records before the tick are rated first
        pending = []
        out += [_notification(note) for note in await _tick_with_retry(pipeline, moment)]
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
    return [message for record_id, outcome in rated for message in messages(outcome, record_id)]


async def _configuration_in_force(pipeline: Pipeline) -> None:
    """Provisioning (docs/provisioning.md): one GET of the configuration version per batch; a new version
    rebuilds the Rater, so every record of a batch that starts after a change is acknowledged sees it."""
    live = pipeline.live
    if live is not None:
        pipeline.rater = await retry(live.current, "the configuration version")


async def _tick_with_retry(pipeline: Pipeline, moment: dt.datetime) -> list[Notification]:
    return await retry(lambda: tick(pipeline.rater, pipeline.store, moment), "the tick")


async def _rate_with_retry(pipeline: Pipeline, items: Sequence[tuple[bytes, str]]) -> list[tuple[str, Outcome]]:
    """The batch through the one rating pipeline, with event times accepted around the wall clock."""
    window = TimeWindow.around(dt.datetime.now(dt.UTC), pipeline.settings.event_window_days)
    return await retry(lambda: rate_batch(pipeline.rater, pipeline.store, items, window), "the batch")
