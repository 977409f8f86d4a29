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
from typing import Any

import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rater.events import RatedCharge, RatingExceptionEvent
from rater.offline import rate_folder
from streams.app import EXCEPTIONS, RATED
from streams.topics import TopicSpec, create_topics

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


async def _produce(bootstrap: str, topic: str, folder: Path) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    count = 0
    try:
        for line in (folder / "usage.jsonl").read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                key = str(orjson.loads(line).get("usage_identifier") or "").encode()
            except (orjson.JSONDecodeError, AttributeError):
                key = b""
            await producer.send(topic, key=key or None, value=line)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def _collect(bootstrap: str, topics: list[str], expected: int, timeout: float) -> dict[str, list[dict[str, Any]]]:
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: dict[str, list[dict[str, Any]]] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while len(seen) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    body = orjson.loads(record.value or b"{}")
                    seen.setdefault(body["record_id"], []).append(body)
    finally:
        await consumer.stop()
    return seen


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
    produced = asyncio.run(_produce(kafka_bootstrap, f"{prefix}usage", folder))
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "streams.worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        seen = asyncio.run(_collect(kafka_bootstrap, [f"{prefix}{RATED}", f"{prefix}{EXCEPTIONS}"], len(expected), 90))
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
