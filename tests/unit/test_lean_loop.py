"""The lean consumer loop's ordering rules, with a recording consumer and sender in place of the broker.

The end-to-end tests run the loop against the real broker (crash, rebalance, outage); these pin down the
order of its steps: a batch's offsets are committed only after its outputs are delivered, the previous
batch is settled before the next batch's outputs are queued, a failed delivery is sent again before
anything later, and records of partitions no longer held are not handled.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.app import Message
from streams.lean import LeanLoop
from streams.settings import Settings, SettingsError

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


class _Sender:
    """Records what is queued and when delivery completes; fails the first ``failures`` deliveries."""

    def __init__(self, log: list[Any], failures: int = 0) -> None:
        self.log = log
        self.failures = failures

    async def submit(self, messages: list[Message]) -> asyncio.Future[list[Any]]:
        self.log.append(("queue", [value for _, _, value in messages]))
        done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            done.set_exception(KafkaConnectionError("broker away"))
        else:
            done.set_result([])
            self.log.append(("delivered", [value for _, _, value in messages]))
        return done

    async def send_all(self, messages: list[Message]) -> None:
        await (await self.submit(messages))

    async def stop(self) -> None:
        pass


async def _handle(records: list[ConsumerRecord[bytes, bytes]]) -> list[Message]:
    return [("rated-charges", b"k", record.value or b"") for record in records]


def _loop(log: list[Any], failures: int = 0) -> LeanLoop:
    settings = Settings(kafka_bootstrap="x", redis_url="redis://x")
    return LeanLoop(settings, _handle, _Sender(log, failures))  # type: ignore[arg-type]


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
        ("queue", [b"0:0", b"0:1", b"1:5"]),
        ("delivered", [b"0:0", b"0:1", b"1:5"]),
        ("commit", {TP0: 2, TP1: 6}),
        ("queue", [b"0:2"]),
        ("delivered", [b"0:2"]),
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
        ("queue", [b"0:0"]),
        ("queue", [b"0:0"]),
        ("queue", [b"0:0"]),
        ("delivered", [b"0:0"]),
        ("commit", {TP0: 1}),
        ("queue", [b"0:1"]),
        ("delivered", [b"0:1"]),
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
    assert log == [("queue", [b"1:0"]), ("delivered", [b"1:0"]), ("commit", {TP1: 1})]


def test_the_consumer_setting_defaults_to_lean_and_names_only_known_loops() -> None:
    base = {"KAFKA_BOOTSTRAP": "k:1", "REDIS_URL": "redis://r"}
    assert Settings.from_env(base).consumer == "lean"
    assert Settings.from_env({**base, "RATER_CONSUMER": "faust"}).consumer == "faust"
    with pytest.raises(SettingsError, match="RATER_CONSUMER"):
        Settings.from_env({**base, "RATER_CONSUMER": "kafka-streams"})
