"""streams/retry.py: the one backoff of the runtime, for store and broker faults alike (property 7)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from aiokafka.errors import KafkaConnectionError

from rater.errors import RetriableError
from streams.retry import delays, keep_running, retry


def test_the_delays_double_from_a_tenth_of_a_second_up_to_five_seconds() -> None:
    """0.1 x 2^n: 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, then 6.4 is capped to 5.0, and 5.0 stays."""
    assert list(itertools.islice(delays(), 9)) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])


async def test_retry_waits_out_the_store_and_the_broker_and_returns_the_answer() -> None:
    """One store fault, then one broker fault, then the answer: three attempts, after 0.1 s and 0.2 s."""
    faults: list[Exception] = [RetriableError("store down"), KafkaConnectionError("broker down")]
    attempts = 0

    async def call() -> int:
        nonlocal attempts
        attempts += 1
        if faults:
            raise faults.pop(0)
        return 42

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await retry(call, "the test") == 42
    assert attempts == 3
    assert loop.time() - started >= 0.3


async def test_retry_lets_any_other_error_through_at_once() -> None:
    attempts = 0

    async def call() -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        await retry(call)
    assert attempts == 1


async def test_keep_running_restarts_a_task_whatever_stopped_it_until_cancelled() -> None:
    """A bug, then a store fault: restarted twice (after 0.1 s and 0.2 s), ``on_failure`` called each time;
    the third run holds until the test cancels it, and the cancellation goes through."""
    failures: list[Exception] = [ValueError("bug"), RetriableError("store down")]
    runs = 0
    failed = 0
    third = asyncio.Event()

    async def run() -> None:
        nonlocal runs
        runs += 1
        if failures:
            raise failures.pop(0)
        third.set()
        await asyncio.Event().wait()

    def on_failure() -> None:
        nonlocal failed
        failed += 1

    task = asyncio.create_task(keep_running(run, "the test task", on_failure))
    await asyncio.wait_for(third.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (runs, failed) == (3, 2)
