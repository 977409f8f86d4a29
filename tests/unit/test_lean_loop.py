"""The lean consumer loop's ordering rules, with a recording consumer and producer in place of the broker
(behind the real :class:`streams.worker.sender.Sender`, the one delivery policy).

The end-to-end tests run the loop against the real broker (crash, rebalance, outage); these pin down the
order of its steps: a batch's offsets are committed only after its outputs are delivered, the previous
batch is settled before the next batch's outputs are queued, a failed delivery is sent again before
anything later, an output refused for good becomes its record's failure event instead of a retry for
ever, and records of partitions no longer held are not handled.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from streams.settings import Settings, SettingsError
from streams.worker.loop import LeanLoop, usage_consumer
from streams.worker.sender import Message, Sender

ROOT = Path(__file__).resolve().parents[2]
TP0 = TopicPartition("usage", 0)
TP1 = TopicPartition("usage", 1)


def _record(tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = f"{tp.partition}:{offset}".encode()
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", value, None, 1, len(value), ())


class _Consumer:
    def __init__(self, log: list[Any], assigned: set[TopicPartition]) -> None:
        self.log = log
        self.assigned = assigned

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append(("commit", dict(offsets)))


class _Producer:
    """Stands for aiokafka's producer behind the real :class:`Sender`: records what is queued and when each
    message is delivered; fails the first ``failures`` messages with a broker outage."""

    def __init__(self, log: list[Any], failures: int = 0) -> None:
        self.log = log
        self.failures = failures

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        self.log.append(("queue", value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            done.set_exception(KafkaConnectionError("broker away"))
        else:
            done.set_result(None)
            self.log.append(("delivered", value))
        return done

    async def stop(self) -> None:
        pass


async def _handle(records: list[ConsumerRecord[bytes, bytes]]) -> list[Message]:
    return [("rated-charges", b"k", record.value or b"") for record in records]


def _loop(log: list[Any], failures: int = 0) -> LeanLoop:
    settings = Settings(kafka_bootstrap="x", redis_url="redis://x")
    sender = Sender(settings)
    sender.producer = _Producer(log, failures)
    return LeanLoop(settings, _handle, sender)


def test_offsets_are_committed_after_delivery_and_batches_settle_in_order() -> None:
    log: list[Any] = []
    loop = _loop(log)
    consumer = _Consumer(log, {TP0, TP1})

    async def run() -> None:
        await loop._one_batch(consumer, {TP0: [_record(TP0, 0), _record(TP0, 1)], TP1: [_record(TP1, 5)]})
        await loop._one_batch(consumer, {TP0: [_record(TP0, 2)]})
        await loop.settle(consumer)

    asyncio.run(run())
    assert log == [
        *[(step, value) for value in (b"0:0", b"0:1", b"1:5") for step in ("queue", "delivered")],
        ("commit", {TP0: 2, TP1: 6}),
        ("queue", b"0:2"),
        ("delivered", b"0:2"),
        ("commit", {TP0: 3}),
    ]


def test_a_failed_delivery_is_sent_again_before_anything_later_and_then_committed() -> None:
    log: list[Any] = []
    loop = _loop(log, failures=2)
    consumer = _Consumer(log, {TP0})

    async def run() -> None:
        await loop._one_batch(consumer, {TP0: [_record(TP0, 0)]})
        await loop._one_batch(consumer, {TP0: [_record(TP0, 1)]})
        await loop.settle(consumer)

    asyncio.run(run())
    assert log == [
        ("queue", b"0:0"),
        ("queue", b"0:0"),
        ("queue", b"0:0"),
        ("delivered", b"0:0"),
        ("commit", {TP0: 1}),
        ("queue", b"0:1"),
        ("delivered", b"0:1"),
        ("commit", {TP0: 2}),
    ]


def test_records_of_partitions_no_longer_held_are_left_for_their_new_owner() -> None:
    log: list[Any] = []
    loop = _loop(log)
    consumer = _Consumer(log, {TP1})

    async def run() -> None:
        await loop._one_batch(consumer, {TP0: [_record(TP0, 0)], TP1: [_record(TP1, 0)]})
        await loop.settle(consumer)

    asyncio.run(run())
    assert log == [("queue", b"1:0"), ("delivered", b"1:0"), ("commit", {TP1: 1})]


def test_the_consumer_setting_defaults_to_lean_and_names_only_known_loops() -> None:
    base = {"KAFKA_BOOTSTRAP": "k:1", "REDIS_URL": "redis://r"}
    assert Settings.from_env(base).consumer == "lean"
    assert Settings.from_env({**base, "RATER_CONSUMER": "faust"}).consumer == "faust"
    with pytest.raises(SettingsError, match="RATER_CONSUMER"):
        Settings.from_env({**base, "RATER_CONSUMER": "kafka-streams"})


class _Refusing(_Producer):
    """Refuses for good (MessageSizeTooLarge) every message of a first submission of more than one message,
    as a broker refuses a whole batch that holds one message too large, and any message over 1,000 bytes."""

    def __init__(self, log: list[Any]) -> None:
        super().__init__(log)
        self.first = True

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        if len(value) > 1000 or (self.first and value.startswith(b'{"record_id":"r1"')):
            self.log.append(("refused", topic, value[:16]))
            refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            refused.set_exception(MessageSizeTooLargeError())
            return refused
        self.log.append(("delivered", topic, value))
        return await super().send(topic, value, key)


def test_an_output_refused_for_good_becomes_its_records_failure_event_and_the_batch_is_committed() -> None:
    """Issue finding 2: a MessageSizeTooLarge output is not retried for ever.  r1's event (small) shared
    the refused batch and is delivered when sent alone; r2's rated charge and crossing (1,500 bytes each)
    are refused alone too, so r2 gets one ``software_system_error`` event on rating-exceptions (keyed by
    its account, ACC-2; under 1,000 bytes) and nothing else; then the batch's offsets are committed
    (offset 2 + 1 = 3)."""
    log: list[Any] = []
    settings = Settings(kafka_bootstrap="x", redis_url="redis://x", topic_prefix="p-")
    sender = Sender(settings)
    producer = _Refusing(log)
    sender.producer = producer
    small = b'{"record_id":"r1","account":"ACC-1"}'
    large = b'{"record_id":"r2","account":"ACC-2","pad":"' + b"x" * 1500 + b'"}'

    async def handle(records: list[ConsumerRecord[bytes, bytes]]) -> list[Message]:
        producer.first = True
        return [("rated-charges", b"ACC-1", small), ("rated-charges", b"ACC-2", large), ("tier-crossings", b"2", large)]

    async def run() -> None:
        loop = LeanLoop(settings, handle, sender)
        await loop._one_batch(_Consumer(log, {TP0}), {TP0: [_record(TP0, 2)]})
        producer.first = False
        await loop.settle(_Consumer(log, {TP0}))

    asyncio.run(run())
    failures = [entry for entry in log if entry[0] == "delivered" and entry[1] == "p-rating-exceptions"]
    assert len(failures) == 1
    body = orjson.loads(failures[0][2])
    assert (body["record_id"], body["type"], body["account"], body["original"]) == (
        "r2",
        "software_system_error",
        "ACC-2",
        "",
    )
    assert body["original_truncated"] is True
    assert "MessageSizeTooLargeError" in body["message"]
    assert ("delivered", "p-rated-charges", small) in log
    assert log[-1] == ("commit", {TP0: 3})


def test_the_usage_consumer_reads_committed_data_only() -> None:
    """Issue finding 5: a record of an aborted transaction is never rated: the lean loop's consumer reads
    with isolation level read_committed (the embedded broker cannot show the effect:
    tests/e2e/test_producers.py)."""

    async def level() -> str:
        consumer = usage_consumer(Settings(kafka_bootstrap="x", redis_url="redis://x"))
        try:
            return str(consumer._isolation_level)
        finally:
            await consumer.stop()

    assert asyncio.run(level()) == "read_committed"


FAUST_CONSUMER = """
import asyncio
from streams.worker.faust_agent import faust_app
from streams.settings import Settings

async def main() -> None:
    app = faust_app(Settings(kafka_bootstrap="127.0.0.1:1", redis_url="redis://x"))
    consumer = app.consumer._new_consumer_thread()._create_worker_consumer(app.transport)
    print(consumer._isolation_level)
    await consumer.stop()

asyncio.run(main())
"""


def test_the_faust_agents_consumer_reads_committed_data_only_too() -> None:
    """Faust asks for read_committed only in its exactly-once mode; the rating app's consumer thread asks
    always (RATER_CONSUMER=faust behaves as the lean loop).  In a child process: Faust leaves event loops
    open, which this run's warnings-as-errors would report."""
    done = subprocess.run(
        [sys.executable, "-c", FAUST_CONSUMER], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, "read_committed\n"), done.stderr[-2000:]
