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

import pytest
import redis

from rater.events import RatedCharge, RatingExceptionEvent
from rater.offline import rate_folder
from streams.app import EXCEPTIONS, RATED
from streams.topics import TopicSpec, create_topics
from tests.e2e._stream import Collector, produce_file

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FOLDERS = sorted(
    path.name
    for path in EXAMPLES.iterdir()
    if (path / "expected.yaml").is_file() and b'"control": "cancel"' not in (path / "usage.jsonl").read_bytes()
)
"""Every example folder but the cancellation ones (a cancellation is a provisioning change, not a usage
message).  Tick control lines travel on the usage topic and run in their place in the stream."""


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
        assert bodies[0] == expected[record_id], record_id
