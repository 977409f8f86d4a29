"""Rating a batch of records with one store round trip for its draws (architecture: "one pipelined Redis round
trip per batch").  The one rating pipeline: the worker (aiokafka loop or Faust agent), ``rater rate`` and the
tests all rate through :func:`rate_batch`.

Per batch:

1. **Decode** every record (bounded fields, event times inside the deployment's :class:`TimeWindow`).
2. **Activation state** (R53): the billing-activation marks of the batch's sharing roots that are not yet
   known to be set are read in one round trip (:class:`ActivationMarks`; a set mark never clears, so each is
   read until it is seen set, then never again).
3. **Prepare** each record (pure).  A record that may activate a package (it counts toward a billing
   activation not yet known set) ends a *segment*: the records after it are prepared only once its draw
   has told whether it activated the package, so a package activated by a record contributes to the pools
   of every later record, as when records are rated one at a time.  Most batches are one segment.
4. **Claim** each record id with its fingerprint across every sharing root (R1): an id first seen with other
   content becomes a ``duplicate_record`` rating exception and draws nothing.
5. **Draw** the segment's records in one store call, and **price** each result (pure); records whose
   overflow money buckets must pay need a second call, again one for the segment.  A record whose rate is
   missing draws whole or not at all: if its buckets cannot take all of it, the missing rate is its
   exception (Q6) and it writes nothing; its claim is released.  A record that becomes an exception before
   its draw leaves no key at all.

The outcome of every record is exactly one event, in input order: bad input becomes a rating exception,
never an error (style habit 6), and any unexpected error while rating one record becomes that record's
``software_system_error`` exception (the last line of defence: one record can never stop the stream).
:class:`~rater.errors.RetriableError` from the store propagates: the caller retries the whole batch, and the
kernel's dedupe makes the retry change nothing twice.

This module awaits the store through :class:`~rater.state.Store`; it imports no store library.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from rater.activation import ACTIVATED
from rater.engine import MoneyDue, Prepared, Rater
from rater.errors import DrawRefused, DuplicateRecord, ExceptionType, InvalidRecord, RatingError, RetriableError
from rater.events import Notification, Outcome, RatedAdjustment, RatedCharge, RatingExceptionEvent, dumps
from rater.instances import InstanceIndex
from rater.keys import activation_key
from rater.record import TimeWindow, UsageRecord, decode
from rater.state import DrawRequest, DrawResult, Store

#: Reads of a counter before a settlement gives up because records keep drawing from it (retriable).
SETTLE_ATTEMPTS = 50


@dataclass
class ActivationMarks:
    """What a rating pipeline knows of the billing-activation marks of one configuration (R50-R53).

    A mark, once set, is never cleared, so a package seen activated stays so: it is read from the store only
    until it is seen set.  ``epoch(root)`` counts the packages of a root known activated; the rating core
    memoises resolutions per epoch (:meth:`rater.engine.Rater.prepare`)."""

    packages: dict[str, list[str]]
    """Account-packages under billing activation, by sharing root."""
    known: set[tuple[str, str]] = field(default_factory=set)
    epochs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rater: Rater) -> ActivationMarks:
        index = rater.resolver.index
        packages: dict[str, list[str]] = {}
        for package_id, entries in index.activation_index.items():
            for instance, _ in entries[:1]:
                packages.setdefault(index.root(instance.holder), []).append(package_id)
        return cls(packages)

    def activated(self, root: str, account_package: str) -> bool:
        return (root, account_package) in self.known

    def epoch(self, root: str) -> int:
        return self.epochs.get(root, 0)

    def learn(self, root: str, account_package: str) -> None:
        if (root, account_package) not in self.known:
            self.known.add((root, account_package))
            self.epochs[root] = self.epochs.get(root, 0) + 1

    def unknown(self, roots: Iterable[str]) -> list[tuple[str, str]]:
        """(root, account-package) of ``roots`` whose mark is not known to be set."""
        return [
            (root, package)
            for root in roots
            for package in self.packages.get(root, ())
            if (root, package) not in self.known
        ]

    async def refresh(self, store: Store, roots: Iterable[str]) -> None:
        """Read the marks not yet known set of ``roots`` (one round trip, none when there are none)."""
        unknown = self.unknown(set(roots))
        if unknown:
            found = await store.marked([activation_key(root, package) for root, package in unknown], ACTIVATED)
            for (root, package), is_set in zip(unknown, found, strict=True):
                if is_set:
                    self.learn(root, package)


_MARKS: weakref.WeakKeyDictionary[InstanceIndex, ActivationMarks] = weakref.WeakKeyDictionary()


def activation_marks(rater: Rater) -> ActivationMarks:
    """The marks known to the pipeline of ``rater``'s subscriptions (a provisioning change builds a new
    instance index, and its marks are read afresh)."""
    index = rater.resolver.index
    marks = _MARKS.get(index)
    if marks is None:
        marks = _MARKS[index] = ActivationMarks.of(rater)
    return marks


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
    marks = activation_marks(rater)
    if marks.packages:
        await marks.refresh(store, _roots(rater, marks, (record for *_, record in decoded)))
    position = 0
    while position < len(decoded):
        segment: list[_Pending] = []
        while position < len(decoded):
            index, record_id, data, record = decoded[position]
            position += 1
            try:
                prepared = rater.prepare(record, marks)
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
        outcome = _settle(pending.record_id, pending.data, lambda p=pending.prepared, r=result: rater.finish(p, r))  # type: ignore[misc]
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
            outcome = _settle(pending.record_id, pending.data, lambda d=due, r=result: rater.finish_money(d, r))  # type: ignore[misc]
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


async def tick(rater: Rater, store: Store, moment: dt.datetime) -> list[Notification]:
    """The time-driven rules at ``moment`` against an async store (billing activation by time, R50b):
    each due package is marked once, and only the first mark, by whichever worker, raises a notification."""
    notes: list[Notification] = []
    marks = activation_marks(rater)
    for due in rater.due_activations(moment):
        if await store.mark(due.key, ACTIVATED, 1):
            notes.append(due.notification())
        marks.learn(due.root, due.account_package)
    return notes


@dataclass(frozen=True)
class Settled:
    """One bucket's cancel settlement (R41): the adjustment this call priced, and the ``rated-adjustment/1``
    event as the store kept it (the first call's bytes: a repeated operation answers those)."""

    adjustment: RatedAdjustment
    event: bytes


async def settle_cancellation(
    rater: Rater, store: Store, account_service: str, cancel: dt.date, operation_id: str
) -> list[Settled]:
    """Settle the prorated buckets of ``account_service`` cancelled from ``cancel`` (R41, E13); return each
    bucket's adjustment with its event as stored, to publish (the stream) or write (``rater rate``).

    ``rater`` holds the configuration *before* the cancellation.  Per bucket :meth:`Rater.cancel_targets`
    finds, its counter is read, the cut priced (:meth:`Rater.settlement`, pure) and written with the event
    in one atomic step, once per operation and only if no record drew in between (else it is read and
    priced again).  A repeated ``operation_id`` (a retry after a crash) gets the stored events back, byte
    for byte, whatever the counters hold now.  ``rater`` is left as it was: the configuration change is the
    caller's (a new :class:`Rater` on the cancelled configuration)."""
    events: list[Settled] = []
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
                events.append(Settled(settlement.adjustment, stored))
                break
        else:
            raise RetriableError(f"{operation_id}: bucket {target.old.id!r} kept changing while being settled")
    return events
