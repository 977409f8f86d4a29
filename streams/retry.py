"""Waiting out a state store outage: the one retry loop of the worker and the API's consumers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rater.errors import RetriableError

log = logging.getLogger("rater.retry")
T = TypeVar("T")


async def retry(call: Callable[[], Awaitable[T]], what: str = "the call") -> T:
    """Run ``call`` until it does not raise :class:`RetriableError`, backing off up to 5 s (never skipping,
    property 7)."""
    delay = 0.1
    while True:
        try:
            return await call()
        except RetriableError as exc:
            log.warning("state store unavailable, retrying %s in %.1f s: %s", what, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
