"""Waiting out an outage: the one backoff of the runtime, for store and broker faults alike (property 7).

:func:`retry` repeats one call in place while the state store (:class:`RetriableError`) or the broker
(``KafkaError``) is unavailable: the worker's batches, ticks and configuration reads, the sender's
deliveries, the API's consumers.  Nothing is skipped; the caller simply waits.  :func:`keep_running`
restarts a background task of the API (a consumer) whatever stopped it, with the same delays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from aiokafka.errors import KafkaError

from rater.errors import RetriableError

log = logging.getLogger("rater.retry")
T = TypeVar("T")

#: What is waited out: the state store or the broker being unavailable.  Every other error is the caller's.
FAULTS: tuple[type[Exception], ...] = (RetriableError, KafkaError)
#: Seconds before the first retry; each next delay doubles, up to :data:`LONGEST`.
FIRST = 0.1
LONGEST = 5.0


def delays() -> Iterator[float]:
    """0.1, 0.2, 0.4, ... seconds, then 5 s for ever."""
    delay = FIRST
    while True:
        yield delay
        delay = min(delay * 2, LONGEST)


def _unavailable(exc: BaseException) -> str:
    return "the broker" if isinstance(exc, KafkaError) else "the state store"


async def retry(call: Callable[[], Awaitable[T]], what: str = "the call") -> T:
    """Run ``call`` until it does not raise one of :data:`FAULTS`, backing off between attempts (never
    skipping, property 7).  A permanent error a caller must not retry is the caller's to catch inside
    ``call`` (the sender turns a message the broker refuses for good into a result, not a raise)."""
    waits = delays()
    while True:
        try:
            return await call()
        except FAULTS as exc:
            delay = next(waits)
            log.warning("%s unavailable, retrying %s in %.1f s: %s", _unavailable(exc), what, delay, exc)
            await asyncio.sleep(delay)


async def keep_running(
    run: Callable[[], Awaitable[None]], what: str, on_failure: Callable[[], None] | None = None
) -> None:
    """Run ``run`` for ever: when it fails, whatever the error, call ``on_failure``, wait as :func:`retry`
    does and start it again (a fault is logged in one line, any other error with its traceback).  Only
    cancellation stops it."""
    waits = delays()
    while True:
        try:
            await run()
            waits = delays()  # it ended by itself: the next failure starts from the shortest delay again
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = next(waits)
            log.warning("%s failed; restarting in %.1f s: %s", what, delay, exc, exc_info=not isinstance(exc, FAULTS))
            if on_failure is not None:
                on_failure()
            await asyncio.sleep(delay)
