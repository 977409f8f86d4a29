"""Rating a batch of records with one store round trip (architecture: "one pipelined Redis round trip per
batch").

Each record is prepared (pure), all draws go to the store in one call, each result is priced (pure); records
whose overflow money buckets must pay need a second call, again one for the whole batch.  The outcome of
every record is exactly one event, in input order; bad input becomes a rating exception, never an error
(style habit 6).  :class:`~rater.errors.RetriableError` from the store propagates: the caller retries the
whole batch, and the kernel's dedupe makes the retry change nothing twice.

This module awaits the store through :class:`~rater.state.AsyncStateStore`; it imports no store library.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from rater.engine import MoneyDue, Prepared, Rater
from rater.errors import ExceptionType, InvalidRecord, RatingError, RetriableError
from rater.events import Notification, Outcome, RatedCharge, RatingExceptionEvent, dumps
from rater.record import decode
from rater.state import AsyncStateStore, DrawRequest, SettlementStore

#: Reads of a counter before a settlement gives up because records keep drawing from it (retriable).
SETTLE_ATTEMPTS = 50


async def rate_batch(
    rater: Rater,
    store: AsyncStateStore,
    items: Sequence[tuple[bytes, str]],
    activated: Callable[[str, str], bool] | None = None,
) -> list[tuple[str, Outcome]]:
    """Rate ``(raw bytes, fallback id)`` items; return ``(record id, outcome)`` in input order."""
    outcomes: list[tuple[str, Outcome] | None] = [None] * len(items)
    pending: list[tuple[int, str, bytes, Prepared]] = []
    for index, (data, fallback) in enumerate(items):
        record_id = fallback
        try:
            record = decode(data)
            record_id = record.record_id
            pending.append((index, record_id, data, rater.prepare(record, activated)))
        except InvalidRecord as error:
            record_id = error.record_id or record_id
            outcomes[index] = (record_id, RatingExceptionEvent.from_error(record_id, error, data))
        except RatingError as error:
            outcomes[index] = (record_id, RatingExceptionEvent.from_error(record_id, error, data))
    requests = [DrawRequest(p.record_key, p.billable, tuple(p.counters)) for _, _, _, p in pending]
    results = await store.draw_many(requests) if requests else []
    money: list[tuple[int, str, bytes, MoneyDue]] = []
    for (index, record_id, data, prepared), result in zip(pending, results, strict=True):
        outcome = _settle(record_id, data, lambda p=prepared, r=result: rater.finish(p, r))  # type: ignore[misc]
        if isinstance(outcome, MoneyDue):
            money.append((index, record_id, data, outcome))
        else:
            outcomes[index] = (record_id, outcome)
    if money:
        paid = await store.draw_many([DrawRequest(m.record_key, m.value, tuple(m.counters)) for *_, m in money])
        for (index, record_id, data, due), result in zip(money, paid, strict=True):
            outcome = _settle(record_id, data, lambda d=due, r=result: rater.finish_money(d, r))  # type: ignore[misc]
            assert not isinstance(outcome, MoneyDue)
            outcomes[index] = (record_id, outcome)
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(items)
    return done


def _settle(
    record_id: str, data: bytes, step: Callable[[], RatedCharge | MoneyDue]
) -> RatedCharge | MoneyDue | RatingExceptionEvent:
    try:
        return step()
    except RatingError as error:
        return RatingExceptionEvent.from_error(record_id, error, data)
    except RetriableError:
        raise
    except Exception as error:
        failure = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"{type(error).__name__}: {error}")
        return RatingExceptionEvent.from_error(record_id, failure, data)


async def tick(rater: Rater, store: AsyncStateStore, moment: dt.datetime) -> list[Notification]:
    """The time-driven rules at ``moment`` against an async store (billing activation by time, R50b):
    each due package is marked once, and only the first mark, by whichever worker, raises a notification."""
    notes: list[Notification] = []
    for due in rater.due_activations(moment):
        if await store.mark(due.key, "activated", 1):
            notes.append(due.notification())
    return notes


async def settle_cancellation(
    rater: Rater, store: SettlementStore, account_service: str, cancel: dt.date, operation_id: str
) -> list[bytes]:
    """Settle the prorated buckets of ``account_service`` cancelled from ``cancel`` (R41, E13) against an async
    store; return the ``rated-adjustment/1`` events to publish, as stored.

    ``rater`` holds the configuration *before* the cancellation.  Per bucket :meth:`Rater.cancel_targets`
    finds, its counter is read, the cut priced (:meth:`Rater.settlement`, pure) and written with the event
    in one atomic step, once per operation and only if no record drew in between (else it is read and
    priced again).  A repeated ``operation_id`` (a retry after a crash) gets the stored events back, byte
    for byte, whatever the counters hold now.  Unlike :meth:`Rater.cancel`, ``rater`` is left as it was:
    the configuration change is the provisioner's."""
    events: list[bytes] = []
    for target in rater.cancel_targets(account_service, cancel):
        for _ in range(SETTLE_ATTEMPTS):
            state = await store.fields(target.key)
            settlement = rater.settlement(target, state, operation_id)
            if settlement is None:
                break
            stored = await store.adjust(
                settlement.operation_key,
                settlement.key,
                settlement.field,
                settlement.consumed,
                settlement.kept,
                dumps(settlement.adjustment),
                settlement.entered,
            )
            if stored is not None:
                events.append(stored)
                break
        else:
            raise RetriableError(f"{operation_id}: bucket {target.old.id!r} kept changing while being settled")
    return events
