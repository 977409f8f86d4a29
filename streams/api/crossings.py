"""A live feed of tier crossings (Server-Sent Events): ``GET /v1/accounts/{account}/crossings/stream``.

One aiokafka consumer per API process reads the ``tier-crossings`` topic (no consumer group: every API
process sees every crossing; from the latest offset: the feed is live, not a replay) and fans each event out
to the open streams.  A stream passes on the crossings of buckets held by its account or an account below
it (the bearer scope, :func:`streams.api.auth.in_scope`), each as one SSE message::

    id: <crossing_id>
    event: crossing
    data: {"crossing_id": ..., "kind": "tier", "tier": 2, ...}

with a ``: keep-alive`` comment every 15 s.  The feed is best effort: a slow client loses its oldest
unsent crossings (its queue holds :data:`QUEUE_SIZE`), and a reconnecting client misses what happened while
it was away; the topic itself keeps every crossing.  The consumer starts with the app and retries an
unreachable broker in the background, so the rest of the API never waits for Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import UnknownTopicOrPartitionError

from rater.errors import RetriableError
from rater.subscriptions import Subscriptions
from streams.api.auth import Principal, in_scope, require_account
from streams.api.context import CONTEXT, ConfigReader, context
from streams.api.errors import api_error
from streams.configuration.topics import CROSSINGS
from streams.retry import keep_running

log = logging.getLogger("rater.api.crossings")

routes = web.RouteTableDef()

QUEUE_SIZE = 1000
KEEP_ALIVE = 15.0
_FEED = "crossing_feed"

#: A crossing event and the subscriptions in force when the feed consumed it.
Crossing = tuple[dict[str, Any], Subscriptions]


class CrossingFeed:
    """The ``tier-crossings`` consumer and its subscribers (one bounded queue per open stream).  Each event
    goes out with the subscriptions in force when it was consumed (read once with ``config`` for every
    stream, so a stream's scope follows provisioning)."""

    def __init__(self, bootstrap: str, topic: str, config: ConfigReader) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.config = config
        self.ready = asyncio.Event()
        """Set once every partition's position is fixed at its end: crossings from then on are seen."""
        self._subscribers: set[asyncio.Queue[Crossing]] = set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[Crossing]:
        queue: asyncio.Queue[Crossing] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Crossing]) -> None:
        self._subscribers.discard(queue)

    def publish(self, event: dict[str, Any], subscriptions: Subscriptions) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # a slow client loses its oldest crossing, never blocks the others
            queue.put_nowait((event, subscriptions))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="crossing-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # the broker is down or the topic missing: try again later, not ready meanwhile
        await keep_running(self._consume, "the crossing feed", on_failure=self.ready.clear)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="latest"
        )
        try:
            await consumer.start()
            partitions = await _partitions(consumer, self.topic)
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)  # resolves the end offset now, not at the first fetch
            self.ready.set()
            async for message in consumer:
                try:
                    event = orjson.loads(message.value) if message.value is not None else None
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(event, dict) or not self._subscribers:
                    continue
                try:
                    _, subscriptions = await self.config()
                except RetriableError as exc:  # best effort: the topic keeps the crossing
                    log.warning("crossing feed: dropped a crossing: %s", exc)
                    continue
                self.publish(event, subscriptions)
        finally:
            await asyncio.shield(consumer.stop())  # closed even when cancelled half-way through start


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(20):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, partition) for partition in sorted(found)]
        await consumer.topics()  # refreshes the cluster metadata
        await asyncio.sleep(0.25)
    raise UnknownTopicOrPartitionError(f"topic {topic!r} not found")  # not created yet: waited out as a fault


async def crossing_feed(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the feed runs from the app's start to its cleanup."""
    ctx = app[CONTEXT]
    feed = CrossingFeed(ctx.settings.kafka_bootstrap, ctx.settings.topic(CROSSINGS), ctx.config)
    ctx.extras[_FEED] = feed
    feed.start()
    yield
    await feed.stop()


def _message(event: dict[str, Any]) -> bytes:
    crossing_id = str(event.get("crossing_id", "")).replace("\n", " ")
    return b"id: " + crossing_id.encode() + b"\nevent: crossing\ndata: " + orjson.dumps(event) + b"\n\n"


@routes.get("/v1/accounts/{account}/crossings/stream")
async def crossing_stream(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    _, subscriptions = await ctx.config()
    account = request.match_info["account"]
    require_account(request, account, subscriptions)
    if account not in subscriptions.accounts:
        raise api_error(404, "not_found", f"no account {account!r}")
    feed = ctx.extras.get(_FEED)
    if not isinstance(feed, CrossingFeed):
        raise api_error(503, "unavailable", "the crossing feed is not running")
    scope = Principal(account)
    queue = feed.subscribe()
    response = web.StreamResponse(headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.content_type = "text/event-stream"
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        while True:
            try:
                event, subscriptions = await asyncio.wait_for(queue.get(), KEEP_ALIVE)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            holder = event.get("account")
            if isinstance(holder, str) and in_scope(scope, holder, subscriptions):
                await response.write(_message(event))
    except ConnectionError:
        pass  # the client went away
    finally:
        feed.unsubscribe(queue)
    return response
