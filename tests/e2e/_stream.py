"""Helpers for end-to-end tests: a generated scenario, workers as processes, producing and collecting."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.configuration.topics import CROSSINGS, EXCEPTIONS, NOTIFICATIONS, RATED, TopicSpec, create_topics
from streams.worker.control import sign_line

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "examples" / "E01-tier-boundary-250-messages" / "catalog.yaml"
#: The ``RATER_CONTROL_KEY`` of the end-to-end workers: tick lines are signed with it (streams/worker/control.py).
CONTROL_KEY = "e2e-control-key"


def independent_accounts(folder: Path, accounts: int, records: int, seed: int = 11) -> None:
    """A rating folder: ``accounts`` independent accounts (one phone each, E1's SMS200 bucket: T1 100 free,
    T2 100 with a 5.00 flat charge, overage 0.10) and ``records`` SMS records spread over them in March,
    each account's records in time order.  Independent accounts make per-record outcomes and balances
    independent of how partitions interleave."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CATALOG, folder / "catalog.yaml")
    subscriptions = {
        "accounts": [
            {
                "id": f"ACC-{n:03d}",
                "packages": [
                    {
                        "id": f"AP-{n:03d}",
                        "package": "PKG-MOBILE",
                        "effective": "2026-03-01",
                        "services": [
                            {
                                "id": f"AS-{n:03d}",
                                "service": "SVC-PHONE",
                                "usage_identifiers": [{"uid": f"+1555{n:07d}", "start": "2026-03-01"}],
                            }
                        ],
                    }
                ],
            }
            for n in range(accounts)
        ]
    }
    (folder / "subscriptions.yaml").write_text(yaml.safe_dump(subscriptions, sort_keys=False))
    rng = random.Random(seed)
    per_account = [0] * accounts
    lines = []
    for number in range(records):
        account = rng.randrange(accounts)
        per_account[account] += 1
        minute = per_account[account]
        lines.append(
            orjson.dumps(
                {
                    "record_id": f"r-{number:06d}",
                    "usage_identifier": f"+1555{account:07d}",
                    "usage_class": "SMS",
                    "quantity": rng.choice([1, 1, 1, 2, 5]),
                    "event_time": f"2026-03-{1 + minute // 1440:02d}T{(minute // 60) % 24:02d}:{minute % 60:02d}:00Z",
                }
            )
        )
    (folder / "usage.jsonl").write_bytes(b"\n".join(lines) + b"\n")


@dataclass
class Stream:
    """One isolated pipeline on the shared broker: its own topic prefix and consumer group."""

    bootstrap: str
    redis_url: str
    config: Path
    logs: Path
    usage_partitions: int = 1
    prefix: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:8]}-")
    settings: dict[str, str] = field(default_factory=dict)  # more worker settings (e.g. RATER_CONSUMER)
    workers: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "REDIS_URL": self.redis_url,
            "RATER_CONFIG": str(self.config),
            "RATER_APP_ID": f"{self.prefix}rater",
            "RATER_TOPIC_PREFIX": self.prefix,
            "RATER_USAGE_PARTITIONS": str(self.usage_partitions),
            "RATER_OUTPUT_PARTITIONS": "1",
            "RATER_BATCH_SIZE": "100",
            "RATER_LOG_LEVEL": "warning",
            "RATER_CONTROL_KEY": CONTROL_KEY,
            **self.settings,
        }

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def create_topics(self) -> None:
        specs = [TopicSpec(self.topic("usage"), self.usage_partitions)] + [
            TopicSpec(self.topic(name), 1) for name in (RATED, CROSSINGS, NOTIFICATIONS, EXCEPTIONS)
        ]
        asyncio.run(create_topics(self.bootstrap, specs))

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.worker"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.workers.append((process, log))
        return process

    def stop_workers(self) -> None:
        for process, log in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()

    def worker_logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in sorted(self.logs.glob("worker-*.log")))

    def produce(self, start: int = 0, upto: int | None = None) -> int:
        """Produce lines ``start`` to ``upto`` (exclusive) of the folder's usage; return how many."""
        return asyncio.run(_produce(self.bootstrap, self.topic("usage"), self.config / "usage.jsonl", start, upto))


async def _produce(bootstrap: str, topic: str, usage: Path, start: int, upto: int | None) -> int:
    """Produce lines of a usage file as ``rater send`` does: keyed by usage identifier, control lines signed."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    count = 0
    try:
        lines = [line for line in usage.read_bytes().splitlines() if line.strip()]
        for line in lines[start:upto]:
            await producer.send(topic, key=usage_key(line), value=sign_line(line, CONTROL_KEY))
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


def usage_key(line: bytes) -> bytes | None:
    """The message key of a usage line: its usage identifier (none for malformed input)."""
    try:
        return str(orjson.loads(line).get("usage_identifier") or "").encode() or None
    except (orjson.JSONDecodeError, AttributeError):
        return None


def produce_file(bootstrap: str, topic: str, usage: Path) -> int:
    """Produce every non-blank line of a usage file; return how many."""
    return asyncio.run(_produce(bootstrap, topic, usage, 0, None))


class Collector:
    """Reads output topics from the start; keeps every body per record id, or per event id for events that
    answer no record (adjustments), re-emissions included."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.seen: dict[str, list[dict[str, Any]]] = {}

    async def until(self, expected: int, timeout: float) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        self.seen = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while len(self.seen) < expected and loop.time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        body = orjson.loads(record.value or b"{}")
                        # a rated-adjustment/1 (R41) answers no record: it is known by its event id
                        self.seen.setdefault(body.get("record_id") or body["event_id"], []).append(body)
        finally:
            await consumer.stop()

    def collect(self, expected: int, timeout: float) -> dict[str, list[dict[str, Any]]]:
        asyncio.run(self.until(expected, timeout))
        return self.seen
