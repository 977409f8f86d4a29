"""Prometheus metrics of the worker and the API: the metric objects and small ``observe_*`` functions.

| metric | type | labels | meaning |
|---|---|---|---|
| ``rater_records_rated_total`` | counter | | records rated (one rated charge each) |
| ``rater_rating_exceptions_total`` | counter | ``type`` | records routed to ``rating-exceptions`` |
| ``rater_end_to_end_seconds`` | histogram | | record's Kafka timestamp -> its outputs acked |
| ``rater_batch_records`` | histogram | | records per batch (one store round trip) |
| ``rater_redis_seconds`` | histogram | ``operation`` | a store call: ``draw``, ``mark``, ``read`` |
| ``rater_consumer_lag`` | gauge | ``topic``, ``partition`` | messages after the last one rated |
| ``rater_api_request_seconds`` | histogram | ``route``, ``status`` | API requests |

The worker serves them on ``RATER_METRICS_PORT`` (0: off); ``rater api`` at ``/metrics``.  Both use the
default registry, so the process metrics of prometheus-client come along.  Observing is cheap (a lock and an
add), never I/O, and never fails the caller.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server

from rater.events import Outcome, RatedCharge
from rater.redis_store import RedisStore
from rater.state import DrawRequest, DrawResult

RECORDS_RATED = Counter("rater_records_rated", "Usage records rated (one rated charge each).")
RATING_EXCEPTIONS = Counter("rater_rating_exceptions", "Usage records routed to rating-exceptions.", ["type"])
END_TO_END = Histogram(
    "rater_end_to_end_seconds",
    "From a usage record's Kafka timestamp to its outputs acked by the broker.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
BATCH_RECORDS = Histogram(
    "rater_batch_records",
    "Usage records rated per batch (one store round trip).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
REDIS_SECONDS = Histogram(
    "rater_redis_seconds",
    "State-store calls: draw (a batch's pipelined kernel calls), mark, read (a balance view).",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CONSUMER_LAG = Gauge(
    "rater_consumer_lag", "Messages on the partition after the last one this worker rated.", ["topic", "partition"]
)
API_SECONDS = Histogram(
    "rater_api_request_seconds",
    "API requests by route template and status.",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def observe_outcomes(outcomes: Iterable[Outcome]) -> None:
    """Count rated records and rating exceptions by type."""
    for outcome in outcomes:
        if isinstance(outcome, RatedCharge):
            RECORDS_RATED.inc()
        else:
            RATING_EXCEPTIONS.labels(outcome.type).inc()


def observe_batch(size: int) -> None:
    BATCH_RECORDS.observe(size)


def observe_acked(timestamps: Iterable[float], now: float | None = None) -> None:
    """End-to-end latency of records whose outputs were just acked; ``timestamps`` are the records' Kafka
    timestamps in seconds since the epoch (a producer's create time, so clocks of two hosts meet here)."""
    moment = time.time() if now is None else now
    for stamp in timestamps:
        if stamp > 0:
            END_TO_END.observe(max(0.0, moment - stamp))


def observe_redis(operation: str, seconds: float) -> None:
    REDIS_SECONDS.labels(operation).observe(seconds)


def observe_lag(topic: str, partition: int, lag: int) -> None:
    """Messages on ``topic``/``partition`` after the last one rated (high watermark - next offset)."""
    CONSUMER_LAG.labels(topic, str(partition)).set(max(0, lag))


def observe_api(route: str, status: int, seconds: float) -> None:
    API_SECONDS.labels(route, str(status)).observe(seconds)


def observe_events(events: Sequence[Any], consumer: Any) -> None:
    """After a worker batch's outputs are acked: its size, each record's end-to-end latency, and the lag of
    each partition it came from (Faust events; ``consumer.highwater(tp)`` is the partition's next offset).
    Never raises: metrics must not stop rating."""
    try:
        observe_batch(len(events))
        observe_acked(float(event.message.timestamp) for event in events)
        last: dict[Any, int] = {}
        for event in events:
            last[event.message.tp] = max(last.get(event.message.tp, -1), int(event.message.offset))
        for tp, offset in last.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                observe_lag(tp.topic, tp.partition, int(highwater) - offset - 1)
    except Exception:  # noqa: S110 (a metric is never worth a failed batch)
        pass


class TimedRedisStore(RedisStore):
    """The Redis store with its calls timed into ``rater_redis_seconds``."""

    async def draw_many(self, requests: Sequence[DrawRequest]) -> list[DrawResult]:
        start = time.perf_counter()
        try:
            return await super().draw_many(requests)
        finally:
            if requests:
                observe_redis("draw", time.perf_counter() - start)

    async def mark(self, key: str, field: str, value: int) -> bool:
        start = time.perf_counter()
        try:
            return await super().mark(key, field, value)
        finally:
            observe_redis("mark", time.perf_counter() - start)


def exposition() -> tuple[bytes, str]:
    """The default registry in the text exposition format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def serve(port: int, host: str = "0.0.0.0") -> bool:  # noqa: S104 (a scrape target listens where it is scraped)
    """Serve ``/metrics`` on ``port`` in a background thread; 0: off.  True when serving."""
    if port <= 0:
        return False
    start_http_server(port, addr=host)
    return True
