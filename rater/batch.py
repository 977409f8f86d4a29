"""Rating a batch of records with one store round trip for its draws (architecture: "one pipelined Redis round
trip per batch").  The one rating pipeline: the worker (aiokafka loop or Faust agent), ``rater rate`` and the
tests all rate through :func:`rate_batch`.

Per batch:

1. **Decode** every record (bounded fields, event times inside the deployment's :class:`TimeWindow`).
2. **Activation state** (R53): the billing-activation marks of the batch's sharing roots that are not yet
   known to be set are read in one round trip (:class:`~rater.activation.ActivationMarks`; a set mark never
   clears, so each is read until it is seen set, then never again).
3. **Prepare** each record (pure, :func:`rater.prepare.prepare`).  A record that may activate a package (it
   counts toward a billing activation not yet known set) ends a *segment*: the records after it are prepared
   only once its draw has told whether it activated the package, so a package activated by a record
   contributes to the pools of every later record, as when records are rated one at a time.  Most batches
   are one segment.
4. **Claim** each record id with its fingerprint across every sharing root (R1): an id first seen with other
   content becomes a ``duplicate_record`` rating exception and draws nothing.
5. **Draw** the segment's records in one store call, and **price** each result (pure, :mod:`rater.price`);
   records whose overflow money buckets must pay need a second call, again one for the segment.  A record
   whose rate is missing draws whole or not at all: if its buckets cannot take all of it, the missing rate
   is its exception (Q6) and it writes nothing; its claim is released.  A record that becomes an exception
   before its draw leaves no key at all.

The outcome of every record is exactly one event, in input order: bad input becomes a rating exception,
never an error (style habit 6), and any unexpected error while rating one record becomes that record's
``software_system_error`` exception (the last line of defence: one record can never stop the stream).
:class:`~rater.errors.RetriableError` from the store propagates: the caller retries the whole batch, and the
kernel's dedupe makes the retry change nothing twice.

The store's other writers are billing activation by time (:func:`rater.activation.tick`, R50b) and cancel
settlement (:func:`rater.cancellation.settle_cancellation`, R41).  This module awaits the store through
:class:`~rater.state.Store`; it imports no store library.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from rater.activation import ActivationMarks, activation_marks
from rater.errors import DrawRefused, DuplicateRecord, ExceptionType, InvalidRecord, RatingError, RetriableError
from rater.events import Outcome, RatedCharge, RatingExceptionEvent
from rater.prepare import Prepared, prepare
from rater.price import MoneyDue, finish, finish_money
from rater.rating import Rater
from rater.record import TimeWindow, UsageRecord, decode
from rater.state import DrawRequest, DrawResult, Store


def fingerprint(prepared: Prepared) -> str:
    """What makes a record the record it is, for R1 across sharing roots: its usage identifier, class,
    quantity in base units, event time (as an instant) and terminating identifier; 96 bits of BLAKE2b.
    Fields that do not change the outcome (``produced_at``, unknown fields, the offset the time was written
    with) do not change it, so an exact resend is a redelivery, not a duplicate."""
    record = prepared.record
    text = "\x1f".join(
        (
            record.usage_identifier,
            record.usage_class,
            str(prepared.quantity),
            prepared.event_time,
            record.terminating_identifier or "",
        )
    )
    return base64.urlsafe_b64encode(hashlib.blake2b(text.encode(), digest_size=12).digest()).decode()


def _failure(record_id: str, error: Exception, data: bytes) -> RatingExceptionEvent:
    """The last line of defence: an unexpected error rating one record is that record's exception."""
    failure = RatingError(ExceptionType.SOFTWARE_SYSTEM_ERROR, f"{type(error).__name__}: {error}")
    return RatingExceptionEvent.from_error(record_id, failure, data)


@dataclass
class _Pending:
    index: int
    record_id: str
    data: bytes
    prepared: Prepared


async def rate_batch(
    rater: Rater,
    store: Store,
    items: Sequence[tuple[bytes, str]],
    window: TimeWindow | None = None,
) -> list[tuple[str, Outcome]]:
    """Rate ``(raw bytes, fallback id)`` items; return ``(record id, outcome)`` in input order.

    ``window``: the event times accepted (the caller's clock: the core reads none); ``None`` accepts any
    time inside the calendar."""
    outcomes: list[tuple[str, Outcome] | None] = [None] * len(items)
    decoded: list[tuple[int, str, bytes, UsageRecord]] = []
    for index, (data, fallback) in enumerate(items):
        try:
            record = decode(data, window)
            decoded.append((index, record.record_id, data, record))
        except InvalidRecord as error:
            record_id = error.record_id or fallback
            outcomes[index] = (record_id, RatingExceptionEvent.from_error(record_id, error, data))
        except Exception as error:
            outcomes[index] = (fallback, _failure(fallback, error, data))
    marks = activation_marks(rater.resolver.index)
    if marks.packages:
        await marks.refresh(store, _roots(rater, marks, (record for *_, record in decoded)))
    position = 0
    while position < len(decoded):
        segment: list[_Pending] = []
        while position < len(decoded):
            index, record_id, data, record = decoded[position]
            position += 1
            try:
                prepared = prepare(rater, record, marks)
            except RatingError as error:
                outcomes[index] = (record_id, RatingExceptionEvent.from_error(record_id, error, data))
                continue
            except Exception as error:
                outcomes[index] = (record_id, _failure(record_id, error, data))
                continue
            segment.append(_Pending(index, record_id, data, prepared))
            if _may_activate(marks, prepared):
                break
        await _rate_segment(rater, store, marks, segment, outcomes)
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(items)
    return done


def _roots(rater: Rater, marks: ActivationMarks, records: Iterable[UsageRecord]) -> set[str]:
    """The sharing roots with packages under billing activation that the records' usage identifiers may
    belong to (every owner a usage identifier has had; reading a few marks too many costs nothing)."""
    roots: set[str] = set()
    index = rater.resolver.index
    for uid in {record.usage_identifier for record in records}:
        for window in rater.subscriptions.uids.get(uid, ()):
            root = index.root(window.owner.account.id)
            if root in marks.packages:
                roots.add(root)
    return roots


def _may_activate(marks: ActivationMarks, prepared: Prepared) -> bool:
    root = prepared.root
    return any(not marks.activated(root, a.account_package.id) for a in prepared.resolution.activations)


async def _rate_segment(
    rater: Rater,
    store: Store,
    marks: ActivationMarks,
    segment: list[_Pending],
    outcomes: list[tuple[str, Outcome] | None],
) -> None:
    """Claim, draw and price one segment (see the module docstring)."""
    if not segment:
        return
    fingerprints = [fingerprint(p.prepared) for p in segment]
    firsts = await store.claim([(p.record_id, mine) for p, mine in zip(segment, fingerprints, strict=True)])
    drawing: list[tuple[_Pending, str]] = []
    for pending, mine, first in zip(segment, fingerprints, firsts, strict=True):
        if first is None or first == mine:
            drawing.append((pending, mine))
        else:
            duplicate = DuplicateRecord(pending.record_id, first, mine)
            outcomes[pending.index] = (
                pending.record_id,
                RatingExceptionEvent.from_error(pending.record_id, duplicate, pending.data),
            )
    # A record whose rate is missing draws whole or not at all (Q6: the missing rate is an exception only
    # if something is left to price, and then the record draws nothing and leaves no key).
    results = await _draw(
        store,
        [
            DrawRequest(
                p.prepared.record_key, p.prepared.billable, tuple(p.prepared.counters), p.prepared.missing is not None
            )
            for p, _ in drawing
        ],
    )
    money: list[tuple[_Pending, MoneyDue]] = []
    released: list[tuple[str, str]] = []
    for (pending, mine), result in zip(drawing, results, strict=True):
        error: RatingError | None = result if isinstance(result, RatingError) else None
        if isinstance(result, DrawResult) and result.refused:
            error = pending.prepared.missing
        if error is not None:
            released.append((pending.record_id, mine))
            outcomes[pending.index] = (
                pending.record_id,
                RatingExceptionEvent.from_error(pending.record_id, error, pending.data),
            )
            continue
        assert isinstance(result, DrawResult)
        _learn(marks, pending.prepared, result)
        outcome = _settle(pending.record_id, pending.data, lambda p=pending.prepared, r=result: finish(rater, p, r))  # type: ignore[misc]
        if isinstance(outcome, MoneyDue):
            money.append((pending, outcome))
        else:
            outcomes[pending.index] = (pending.record_id, outcome)
    if released:
        await store.release(released)
    if money:
        paid = await _draw(store, [DrawRequest(due.record_key, due.requested, tuple(due.counters)) for _, due in money])
        for (pending, due), result in zip(money, paid, strict=True):
            if isinstance(result, RatingError):
                outcomes[pending.index] = (
                    pending.record_id,
                    RatingExceptionEvent.from_error(pending.record_id, result, pending.data),
                )
                continue
            outcome = _settle(pending.record_id, pending.data, lambda d=due, r=result: finish_money(rater, d, r))  # type: ignore[misc]
            assert not isinstance(outcome, MoneyDue)
            outcomes[pending.index] = (pending.record_id, outcome)


async def _draw(store: Store, requests: list[DrawRequest]) -> list[DrawResult | RatingError]:
    """``store.draw_many``, with a request the store refuses (:class:`DrawRefused`: nothing was written for
    it) as that record's error; the requests before it are asked again and replay their stored results."""
    out: list[DrawResult | RatingError] = []
    while requests:
        try:
            out += await store.draw_many(requests)
            return out
        except DrawRefused as refused:
            position = refused.position
            out += await store.draw_many(requests[:position]) if position else []
            out.append(refused)
            requests = requests[position + 1 :]
    return out


def _learn(marks: ActivationMarks, prepared: Prepared, result: DrawResult) -> None:
    """Marks a draw set (R51): later records see the package activated."""
    for activation, draw in zip(
        prepared.resolution.activations, result.draws[len(prepared.resolution.units) :], strict=True
    ):
        if draw.marked:
            marks.learn(prepared.root, activation.account_package.id)


def _settle(
    record_id: str, data: bytes, step: Callable[[], RatedCharge | MoneyDue]
) -> RatedCharge | MoneyDue | RatingExceptionEvent:
    """Price a draw; an error here comes after the record drew, and its exception says so (``drew``)."""
    try:
        return step()
    except RatingError as error:
        return replace(RatingExceptionEvent.from_error(record_id, error, data), drew=True)
    except RetriableError:
        raise
    except Exception as error:
        return replace(_failure(record_id, error, data), drew=True)
