"""Example folders produced through Kafka give the same outcomes as ``rater rate`` on the same folder.

A real worker process (``python -m streams.worker``) rates the folder's usage from the embedded broker with
the Redis kernel; every record id's outcome is collected from ``rated-charges`` and ``rating-exceptions``
and compared with the offline result, event by event.  One partition per topic keeps the offline order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
import redis

from rater.events import RatedAdjustment, RatedCharge, RatingExceptionEvent
from rater.offline import rate_folder
from streams.configuration.provisioning_feed import PROVISIONING
from streams.configuration.topics import EXCEPTIONS, RATED, TopicSpec, create_topics
from tests.e2e._api import ApiProcess, read_topic, send
from tests.e2e._stream import CONTROL_KEY, Collector, Stream, produce_file

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FOLDERS = sorted(
    path.name
    for path in EXAMPLES.iterdir()
    if (path / "expected.yaml").is_file() and b'"control": "cancel"' not in (path / "usage.jsonl").read_bytes()
)
"""Every example folder but the cancellation ones (a cancellation is a provisioning change, not a usage
message: :func:`test_cancellation_example_through_provisioning_equals_offline`).  Tick control lines travel
on the usage topic, signed with the worker's ``RATER_CONTROL_KEY``, and run in their place in the stream."""

CANCELLATIONS = sorted(
    path.name
    for path in EXAMPLES.iterdir()
    if (path / "expected.yaml").is_file() and b'"control": "cancel"' in (path / "usage.jsonl").read_bytes()
)


@pytest.mark.parametrize("name", FOLDERS)
def test_example_through_kafka_equals_offline(
    name: str, kafka_bootstrap: str, e2e_redis_url: str, tmp_path: Path
) -> None:
    folder = EXAMPLES / name
    offline, _ = rate_folder(folder)
    expected = {
        event.record_id: event.to_dict() for event in offline if isinstance(event, (RatedCharge, RatingExceptionEvent))
    }
    with redis.Redis.from_url(e2e_redis_url) as client:
        client.flushdb()
    prefix = f"e2e-{uuid.uuid4().hex[:8]}-"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "REDIS_URL": e2e_redis_url,
        "RATER_CONFIG": str(folder),
        "RATER_APP_ID": f"{prefix}rater",
        "RATER_TOPIC_PREFIX": prefix,
        "RATER_USAGE_PARTITIONS": "1",
        "RATER_OUTPUT_PARTITIONS": "1",
        "RATER_LOG_LEVEL": "warning",
        "RATER_TICK_INTERVAL": "0",  # only the folder's own ticks: the wall clock is far past its dates
        "RATER_CONTROL_KEY": CONTROL_KEY,  # the tick lines are signed with it when produced
    }
    specs = [
        TopicSpec(f"{prefix}{topic}", 1) for topic in ("usage", RATED, "tier-crossings", "notifications", EXCEPTIONS)
    ]
    asyncio.run(create_topics(kafka_bootstrap, specs))
    produced = produce_file(kafka_bootstrap, f"{prefix}usage", folder / "usage.jsonl")
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "streams.worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        seen = Collector(kafka_bootstrap, [f"{prefix}{RATED}", f"{prefix}{EXCEPTIONS}"]).collect(len(expected), 90)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert produced >= len(expected)  # repeated record ids in a file are redeliveries
    assert sorted(seen) == sorted(expected), worker_log
    for record_id, bodies in seen.items():
        assert all(body == bodies[0] for body in bodies), record_id  # re-emissions are identical
        assert bodies[0] == expected[record_id], record_id  # exceptions too: no offset in an event (R1)


@pytest.mark.parametrize("name", CANCELLATIONS)
def test_cancellation_example_through_provisioning_equals_offline(
    name: str, kafka_bootstrap: str, e2e_redis_url: str, tmp_path: Path
) -> None:
    """The folder's cancel line becomes a provisioning operation, applied at the same point in the stream:
    the records before it are produced and rated by a worker process, then ``cancel_account_service`` (same
    id, service and date) goes to ``rater api`` (the 12 GB case over HTTP, the 21 GB case on the
    provisioning topic), then the records after it are produced.  Every record's outcome and the
    ``rated-adjustment/1`` on ``rated-charges`` (keyed by the account) equal ``rater rate``'s, byte for
    byte: E13 (R41), 30 GB tier 1 cut to 30 x 10/30 = 10 GB from Sept 11: 12 GB consumed -> 2 GB into T2,
    flat 8.00; 21 GB consumed -> 8.00 + 1 GB overage at 1.00 = 9.00 (expected.yaml).  The Sept 11 record
    of the 12 GB case, produced after the cancellation, is outside the UID's window (R2)."""
    folder = EXAMPLES / name
    offline, _ = rate_folder(folder)
    expected = {
        event.record_id: event.to_dict() for event in offline if isinstance(event, (RatedCharge, RatingExceptionEvent))
    }
    adjustments = [event.to_dict() for event in offline if isinstance(event, RatedAdjustment)]
    assert [body["total_amount"] for body in adjustments] == [{"E13-proration-on-cancel": "8.00"}.get(name, "9.00")]
    expected |= {body["event_id"]: body for body in adjustments}
    lines = [line for line in (folder / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    cut = next(index for index, line in enumerate(lines) if b'"control"' in line)
    control = orjson.loads(lines[cut])
    operation = {
        "op": "cancel_account_service",
        "id": control["id"],
        "account_service": control["account_service"],
        "cancel": control["cancel"],
    }
    before = {orjson.loads(line)["record_id"] for line in lines[:cut]}
    with redis.Redis.from_url(e2e_redis_url) as client:
        client.flushdb()
    stream = Stream(kafka_bootstrap, e2e_redis_url, folder, tmp_path)
    stream.create_topics()
    api = ApiProcess(stream)
    stream.start_worker()
    collector = Collector(kafka_bootstrap, [stream.topic(RATED), stream.topic(EXCEPTIONS)])
    try:
        assert stream.produce(0, cut) == cut
        assert before <= set(collector.collect(len(before), 90)), stream.worker_logs()
        if name == "E13-proration-on-cancel":
            status, result = api.call("POST", "/v1/operations", operation)
            assert (status, result["status"]) == (200, "applied"), result
        else:
            send(kafka_bootstrap, stream.topic(PROVISIONING), [(control["id"].encode(), orjson.dumps(operation), None)])
            api.wait_for(f"/v1/operations/{control['id']}", lambda body: body["status"] == "applied")
        stream.produce(cut + 1)
        seen = collector.collect(len(expected), 90)
        on_rated = sum(isinstance(event, (RatedCharge, RatedAdjustment)) for event in offline)
        rated = read_topic(kafka_bootstrap, stream.topic(RATED), on_rated)
    finally:
        api.stop()
        stream.stop_workers()
    assert sorted(seen) == sorted(expected), f"{stream.worker_logs()}\n{api.logs()}"
    for event_id, bodies in seen.items():
        assert all(body == bodies[0] for body in bodies), event_id
        assert bodies[0] == expected[event_id], event_id
    keys = {body["event_id"]: key for key, body in rated if body.get("schema") == "rated-adjustment/1"}
    assert keys == {body["event_id"]: body["account"].encode() for body in adjustments}
