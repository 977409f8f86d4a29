"""The rating pipeline of one batch, the same under either consumer (streams/worker/loop.py, the default;
streams/worker/faust_agent.py on request): raw records in, output messages out.

Per batch of raw records (decoded by our codec, never by Faust, style habit 6): one pipelined round trip to
the Redis kernel (``rater.batch.rate_batch``), then the consumer sends every output and awaits its delivery
before it commits the batch's offsets (architecture step 6).  A store that is unavailable is retried with
backoff, in place, never skipped (property 7).  Every output event is at most ``RATER_MAX_EVENT_BYTES``
(:func:`messages`).

Time-driven rules (billing activation by time, R50b) run on a wall-clock timer every
``RATER_TICK_INTERVAL`` seconds (:func:`notifications_at`); every worker runs it and the kernel's once-only
mark makes one notification per package.  A control message ``{"control": "tick", "time": ...}`` on the usage
topic, signed with ``RATER_CONTROL_KEY`` (streams/worker/control.py), runs them at that time, in its place in
the stream (as offline rating does; useful for replays and tests).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rater.activation import tick
from rater.batch import rate_batch
from rater.errors import ExceptionType, InvalidRecord, RatingError
from rater.events import Notification, Outcome, RatedCharge, RatingExceptionEvent, Source, dumps
from rater.rating import Rater
from rater.record import TimeWindow, control_of
from rater.redis_store import RedisStore
from streams import metrics
from streams.configuration.store import LiveRater
from streams.configuration.topics import CROSSINGS, EXCEPTIONS, NOTIFICATIONS, RATED
from streams.retry import retry
from streams.settings import DEFAULT_MAX_EVENT_BYTES, Settings
from streams.worker.control import tick_time
from streams.worker.sender import Message

log = logging.getLogger("rater.stream")


@dataclass
class Pipeline:
    """What the agent needs: the rating core, the store, and where to send outputs."""

    rater: Rater
    store: RedisStore
    settings: Settings
    live: LiveRater | None = None  # provisioning: the Rater in force follows the configuration store


def messages(
    outcome: Outcome,
    record_id: str,
    *,
    limit: int = DEFAULT_MAX_EVENT_BYTES,
    source: Source | None = None,
    original: bytes = b"",
) -> list[Message]:
    """(topic name, key, value) of every event one outcome publishes, keyed by account; each value at most
    ``limit`` bytes (``RATER_MAX_EVENT_BYTES``, docs/events.md).  An exception event over it keeps a prefix
    of its original; a rated charge whose events would be over it becomes a ``software_system_error``
    exception carrying the record (``original``).  ``source``: where the record was read, named by an
    exception event that had to cut its original (only there: a resent record's events must not differ by
    the offset it was read at, R1)."""
    if isinstance(outcome, RatedCharge):
        key = outcome.account.encode()
        out = [(RATED, key, dumps(outcome))]
        out += [(CROSSINGS, c.account.encode(), dumps(c)) for c in outcome.crossings]
        out += [(NOTIFICATIONS, n.account.encode(), dumps(n)) for n in outcome.notifications]
        largest = max(len(value) for _, _, value in out)
        if largest <= limit:
            return out
        too_large = RatingError(
            ExceptionType.SOFTWARE_SYSTEM_ERROR,
            f"its rated-charge events would be {largest} bytes, over RATER_MAX_EVENT_BYTES={limit}",
            account=outcome.account,
        )
        outcome = RatingExceptionEvent.from_error(record_id, too_large, original)
    event, value = outcome.bounded(limit, source)
    return [(EXCEPTIONS, (event.account or event.record_id).encode(), value)]


def _notification(note: Notification) -> Message:
    return NOTIFICATIONS, note.account.encode(), dumps(note)


async def outputs_of(pipeline: Pipeline, items: list[tuple[bytes, str]]) -> list[Message]:
    """Every output message of a batch of ``(raw bytes, fallback id)`` items, in input order.

    Usage records are rated in runs (one store round trip per run); a signed ``tick`` control message runs
    the time-driven rules in its place in the stream, after the records before it (:func:`_control`).
    Retriable store errors are retried here, in place; the caller sends the messages and only then
    acknowledges the batch.
    The configuration in force is looked up first, so a provisioning change acknowledged before the batch
    started applies to all of it.
    """
    await _configuration_in_force(pipeline)
    out: list[Message] = []
    pending: list[tuple[bytes, str]] = []
    for data, fallback in items:
        control = control_of(data)
        if control is None:
            pending.append((data, fallback))
            continue
        out += await _rate_all(pipeline, pending)  # records before the control message are rated first
        pending = []
        out += await _control(pipeline, control, data, fallback)
    out += await _rate_all(pipeline, pending)
    return out


async def notifications_at(pipeline: Pipeline, moment: dt.datetime) -> list[Message]:
    """The time-driven rules at ``moment`` (R50b) as output messages: one per package first marked now, under
    the configuration in force (a package provisioned since the last batch is due too)."""
    await _configuration_in_force(pipeline)
    return [_notification(note) for note in await _tick_with_retry(pipeline, moment)]


async def _rate_all(pipeline: Pipeline, items: list[tuple[bytes, str]]) -> list[Message]:
    if not items:
        return []
    rated = await _rate_with_retry(pipeline, items)
    metrics.observe_outcomes(outcome for _, outcome in rated)  # metrics: rated, exceptions by type
    limit = pipeline.settings.max_event_bytes
    out: list[Message] = []
    for (data, fallback), (record_id, outcome) in zip(items, rated, strict=True):
        source = Source.parse(fallback)
        try:
            out += messages(outcome, record_id, limit=limit, source=source, original=data)
        except Exception as exc:  # the last line of defence: an outcome that cannot be encoded stops nothing
            log.exception("record %s: its outcome could not be encoded", record_id[:200])
            error = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"encoding its outcome: {type(exc).__name__}")
            out += messages(
                RatingExceptionEvent.from_error(record_id, error, data), record_id, limit=limit, source=source
            )
    return out


async def _control(pipeline: Pipeline, body: dict[str, Any], data: bytes, fallback: str) -> list[Message]:
    """A signed ``tick`` runs the time-driven rules at its time; any other control message is an
    ``invalid_record`` exception (streams/worker/control.py), and a tick the rules fail on a ``software_system_error``
    one: every message on ``usage`` has exactly one outcome and none stops the worker."""
    moment = tick_time(body, pipeline.settings.control_key, _window(pipeline))
    if isinstance(moment, dt.datetime):
        try:
            return [_notification(note) for note in await _tick_with_retry(pipeline, moment)]
        except Exception as exc:
            log.exception("the tick at %s failed", moment)
            error = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"the tick failed: {type(exc).__name__}: {exc}")
    else:
        error = InvalidRecord(moment)
    refused = RatingExceptionEvent.from_error(fallback, error, data)
    metrics.observe_outcomes([refused])
    limit = pipeline.settings.max_event_bytes
    return messages(refused, fallback, limit=limit, source=Source.parse(fallback))


async def _configuration_in_force(pipeline: Pipeline) -> None:
    """Provisioning (docs/provisioning.md): one GET of the configuration version per batch; a new version
    rebuilds the Rater, so every record of a batch that starts after a change is acknowledged sees it."""
    live = pipeline.live
    if live is not None:
        pipeline.rater = await retry(live.current, "the configuration version")


async def _tick_with_retry(pipeline: Pipeline, moment: dt.datetime) -> list[Notification]:
    return await retry(lambda: tick(pipeline.rater.resolver.index, pipeline.store, moment), "the tick")


async def _rate_with_retry(pipeline: Pipeline, items: Sequence[tuple[bytes, str]]) -> list[tuple[str, Outcome]]:
    """The batch through the one rating pipeline, with event times accepted around the wall clock."""
    window = _window(pipeline)
    return await retry(lambda: rate_batch(pipeline.rater, pipeline.store, items, window), "the batch")


def _window(pipeline: Pipeline) -> TimeWindow:
    """Event (and tick) times accepted: ``RATER_EVENT_WINDOW_DAYS`` either side of the wall clock."""
    return TimeWindow.around(dt.datetime.now(dt.UTC), pipeline.settings.event_window_days)
