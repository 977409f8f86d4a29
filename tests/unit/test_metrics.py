"""The worker's and the API's metrics: what each ``observe_*`` records, and the metrics port setting."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import pytest
from prometheus_client import REGISTRY

from rater.events import RatedCharge, RatingExceptionEvent
from rater.offline import load_folder
from rater.rating import Rater
from streams import metrics
from streams.settings import Settings, SettingsError
from tests.unit._builders import rate_one

ROOT = Path(__file__).resolve().parents[2]


class TP(NamedTuple):
    """A topic-partition as Faust's events carry it."""

    topic: str
    partition: int


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_outcomes_count_rated_records_and_exceptions_by_type() -> None:
    folder = ROOT / "examples" / "E01-tier-boundary-250-messages"
    rater = Rater(*load_folder(folder))
    line = (folder / "usage.jsonl").read_bytes().splitlines()[0]
    _, rated = rate_one(rater, line, "l1")
    _, unknown = rate_one(rater, line.replace(b"+15195552500", b"+10000000000").replace(b"A250-001", b"X"), "l2")
    assert isinstance(rated, RatedCharge)
    assert isinstance(unknown, RatingExceptionEvent)
    before_rated = _value("rater_records_rated_total")
    before_missing = _value("rater_rating_exceptions_total", {"type": "no_usage_identifier_match"})
    metrics.observe_outcomes([rated, unknown, unknown])
    assert _value("rater_records_rated_total") == before_rated + 1
    assert _value("rater_rating_exceptions_total", {"type": "no_usage_identifier_match"}) == before_missing + 2


def test_events_give_batch_size_latency_and_lag() -> None:
    """Three records of one partition at offsets 7-9 with a high watermark of 15: lag 15 - 9 - 1 = 5."""
    tp = TP("usage", 3)
    events = [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=o, timestamp=1.0)) for o in (7, 8, 9)]
    consumer = SimpleNamespace(highwater=lambda _: 15)
    batches = _value("rater_batch_records_count")
    latencies = _value("rater_end_to_end_seconds_count")
    metrics.observe_events(events, consumer)
    assert _value("rater_batch_records_count") == batches + 1
    assert _value("rater_end_to_end_seconds_count") == latencies + 3
    assert _value("rater_consumer_lag", {"topic": "usage", "partition": "3"}) == 5


def test_a_failing_consumer_never_fails_the_batch() -> None:
    tp = TP("usage", 0)
    events = [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=1, timestamp=1.0))]

    def broken(_: object) -> int:
        raise RuntimeError("no assignment")

    metrics.observe_events(events, SimpleNamespace(highwater=broken))


def test_lag_is_never_negative_and_exposition_names_every_metric() -> None:
    metrics.observe_lag("usage", 0, -2)
    metrics.observe_redis("draw", 0.001)
    metrics.observe_api("/v1/accounts/{account}/balances", 200, 0.002)
    assert _value("rater_consumer_lag", {"topic": "usage", "partition": "0"}) == 0
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    text = body.decode()
    for name in (
        "rater_records_rated_total",
        "rater_rating_exceptions_total",
        "rater_end_to_end_seconds_bucket",
        "rater_batch_records_bucket",
        "rater_redis_seconds_bucket",
        "rater_consumer_lag",
        "rater_api_request_seconds_bucket",
    ):
        assert name in text


def test_metrics_port_setting() -> None:
    base = {"KAFKA_BOOTSTRAP": "k:9092", "REDIS_URL": "redis://r:6379/0"}
    assert Settings.from_env(base).metrics_port == 0
    assert Settings.from_env({**base, "RATER_METRICS_PORT": "9100"}).metrics_port == 9100
    assert Settings.from_env({**base, "RATER_METRICS_PORT": "0"}).metrics_port == 0
    for bad in ("-1", "70000", "x"):
        with pytest.raises(SettingsError, match="RATER_METRICS_PORT"):
            Settings.from_env({**base, "RATER_METRICS_PORT": bad})
    assert not metrics.serve(0)
