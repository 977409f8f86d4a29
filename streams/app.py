"""The Faust app: one stateless agent rates the ``usage`` topic in batches.

Per batch of raw records (decoded by our codec, never by Faust, style habit 6): one pipelined round trip to
the Redis kernel (``rater.batch.rate_batch``), then every output is sent and its delivery awaited, and only
then does the loop ask for the next batch, which is when Faust acknowledges the batch's events: offsets are
committed only for records whose outputs are on the broker (architecture step 6).  The agent runs with
``concurrency=1`` so a partition is never processed out of order (property 6), and holds no Faust Table
(infra-notes: tables lost records around rebalances); all state is in Redis.

A store that is unavailable is retried with backoff, in place, never skipped (property 7).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
import orjson

from rater.batch import rate_batch
from rater.engine import Rater
from rater.errors import RetriableError
from rater.events import Outcome, RatedCharge
from rater.redis_store import RedisStore
from streams.settings import Settings
from streams.topics import TopicSpec

log = logging.getLogger("rater.stream")

USAGE = "usage"
RATED = "rated-charges"
CROSSINGS = "tier-crossings"
NOTIFICATIONS = "notifications"
EXCEPTIONS = "rating-exceptions"
OUTPUTS = (RATED, CROSSINGS, NOTIFICATIONS, EXCEPTIONS)


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


def messages(outcome: Outcome, record_id: str) -> list[tuple[str, bytes, bytes]]:
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


def build_app(settings: Settings, pipeline: Pipeline) -> faust.App:
    app = faust.App(
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
    )
    usage = app.topic(settings.topic(USAGE), key_type=bytes, value_type=bytes)
    outputs = {name: app.topic(settings.topic(name), key_type=bytes, value_type=bytes) for name in OUTPUTS}

    @app.agent(usage, concurrency=1)
    async def rate(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
            items = [
                (
                    bytes(event.value),
                    f"{event.message.topic}:{event.message.partition}:{event.message.offset}",
                )
                for event in events
            ]
            outcomes = await _rate_with_retry(pipeline, items)
            futures = []
            for record_id, outcome in outcomes:
                for name, key, value in messages(outcome, record_id):
                    futures.append(await outputs[name].send(key=key, value=value))
            await asyncio.gather(*futures)

    return app


async def _rate_with_retry(pipeline: Pipeline, items: Sequence[tuple[bytes, str]]) -> list[tuple[str, Outcome]]:
    delay = 0.1
    while True:
        try:
            return await rate_batch(pipeline.rater, pipeline.store, items)
        except RetriableError as exc:
            log.warning("state store unavailable, retrying the batch in %.1f s: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
