"""Offline rating of a folder: ``DIR/usage.jsonl`` against ``DIR``'s catalog and subscriptions.

Records are rated in file order with the same core the stream uses.  Output is one JSON line per outcome
(the events of ``docs/events.md``), through the same pipeline the stream runs (:func:`rater.batch.rate_batch`,
over the kernel's in-memory twin).  A record id seen before with the same content is a redelivery (R1): it
is not rated again and gets no second line, and the summary counts it under ``duplicates``; with other
content it is a ``duplicate_record`` rating exception.

Two control lines stand for what the stream gets from elsewhere:

* ``{"control": "tick", "time": "<ISO 8601>"}``: the stream's timer at that moment; it runs the time-driven
  rules (billing activation by time, R50b) and writes the notifications they raise.
* ``{"control": "cancel", "account_service": "<id>", "cancel": "<date>", "id": "<operation id>"}``: a
  provisioning change cancelling an account-service from that date (exclusive); prorated buckets are
  settled and the adjustments written (R41).  ``id`` defaults to ``cancel:<account_service>:<date>``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from rater.activation import tick
from rater.batch import rate_batch
from rater.cancellation import settle_cancellation
from rater.catalog import Catalog, load_catalog
from rater.errors import InvalidRecord
from rater.events import Event, Outcome, RatedAdjustment, RatedCharge, RatingExceptionEvent
from rater.issues import Issue, ValidationFailed
from rater.memory_store import MemoryStore
from rater.money import format_amount
from rater.rating import Rater
from rater.record import TimeWindow, control_of, parse_time
from rater.subscriptions import Subscriptions, cancel_account_service, load_subscriptions, subscriptions_file


@dataclass
class Summary:
    """Totals over one offline run (the ``--summary`` line)."""

    default_currency: str
    records: int = 0
    rated: int = 0
    duplicates: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    totals: dict[str, Decimal] = field(default_factory=dict)
    billed: dict[str, Decimal] = field(default_factory=dict)
    crossings: int = 0
    notifications: int = 0
    adjustments: int = 0

    def add_adjustment(self, adjustment: RatedAdjustment) -> None:
        """Adjustments are charges too: they count in ``total_amount`` and ``billed_amount``."""
        self.adjustments += 1
        currency = adjustment.currency
        self.totals[currency] = self.totals.get(currency, Decimal(0)) + adjustment.total_amount
        self.billed[currency] = self.billed.get(currency, Decimal(0)) + adjustment.total_amount

    def add(self, outcome: Outcome) -> None:
        if isinstance(outcome, RatedCharge):
            self.rated += 1
            currency = outcome.currency
            self.totals[currency] = self.totals.get(currency, Decimal(0)) + outcome.total_amount
            self.billed[currency] = self.billed.get(currency, Decimal(0)) + outcome.billed_amount
            self.crossings += len(outcome.crossings)
            self.notifications += len(outcome.notifications)
        else:
            self.exceptions[outcome.type] += 1

    def to_dict(self) -> dict[str, Any]:
        """``{"records", "rated", "exceptions", "total_amount", "billed_amount", "currency", ...}``.

        ``total_amount`` is what the usage was priced at; ``billed_amount`` what is left to bill after money
        buckets paid their part (R46).  With charges in more than one currency, both amounts and
        ``currency`` are null and ``totals``/``billed`` hold one amount per currency.
        """
        currencies = sorted(self.totals) or [self.default_currency]
        single = currencies[0] if len(currencies) == 1 else None
        return {
            "records": self.records,
            "rated": self.rated,
            "exceptions": dict(sorted(self.exceptions.items())),
            "duplicates": self.duplicates,
            "total_amount": format_amount(self.totals.get(single, Decimal(0)), single) if single else None,
            "billed_amount": format_amount(self.billed.get(single, Decimal(0)), single) if single else None,
            "currency": single,
            "totals": {code: format_amount(amount, code) for code, amount in sorted(self.totals.items())},
            "billed": {code: format_amount(amount, code) for code, amount in sorted(self.billed.items())},
            "crossings": self.crossings,
            "notifications": self.notifications,
            "adjustments": self.adjustments,
        }


def load_folder(folder: Path) -> tuple[Catalog, Subscriptions]:
    """Catalog and subscriptions of a rating folder (raises ``ValidationFailed`` on errors).

    The folder must hold ``subscriptions.yaml``: without it no record could have an owner, and every one
    would come out as a "No UDR Usage Identifier match" exception, a folder mistake reported as the records'
    (``accounts: []`` says "no accounts" on purpose)."""
    file = subscriptions_file(folder)
    if not file.exists():
        raise ValidationFailed(
            [
                Issue(
                    str(file),
                    "subscriptions",
                    "",
                    "",
                    "not found: a rating folder holds subscriptions.yaml (write 'accounts: []' for none)",
                )
            ]
        )
    catalog = load_catalog(folder)
    return catalog, load_subscriptions(folder, catalog)


T = TypeVar("T")

#: Records rated per call of the pipeline offline.  Any size gives the same outcomes (a batch is split
#: where a record may activate a package, :mod:`rater.batch`); this one keeps the per-call cost small.
BATCH = 512


def rate_lines(
    rater: Rater,
    lines: Iterator[bytes],
    summary: Summary,
    source: str,
    window: TimeWindow | None = None,
    store: MemoryStore | None = None,
) -> Iterator[Event]:
    """Rate raw JSON lines in order through the one rating pipeline (:func:`rater.batch.rate_batch`, over the
    in-memory twin of the kernel); blank lines are skipped and control lines applied in their place.

    A record id seen again with the same content is a redelivery (R1): its outcome is not written twice and
    the summary counts it under ``duplicates``; with other content it is a ``duplicate_record`` exception,
    as on the stream.  ``store``: the in-memory store to rate against (a fresh one by default)."""
    store = MemoryStore() if store is None else store
    current = [rater]  # the configuration in force: a cancel control line replaces it
    emitted: dict[str, Outcome] = {}  # record id -> its first outcome: identical re-emissions are skipped
    loop = asyncio.new_event_loop()
    try:
        batch: list[tuple[bytes, str]] = []
        for number, line in enumerate(lines, start=1):
            data = line.strip()
            if not data:
                continue
            control = control_of(data)
            if control is None:
                batch.append((data, f"{source}:{number}"))
                if len(batch) < BATCH:
                    continue
            yield from _outcomes(loop, current[0], store, batch, window, emitted, summary)
            batch = []
            if control is not None:
                yield from _apply(loop, current, store, data, control, summary, window, f"{source}:{number}")
        yield from _outcomes(loop, current[0], store, batch, window, emitted, summary)
    finally:
        loop.close()


def _run(loop: asyncio.AbstractEventLoop, step: Coroutine[Any, Any, T]) -> T:
    """Run one step of the pipeline on the offline loop; from inside a running loop (a caller that is itself
    async) on a thread of its own, since one thread runs one loop at a time."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return loop.run_until_complete(step)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(loop.run_until_complete, step).result()


def _outcomes(
    loop: asyncio.AbstractEventLoop,
    rater: Rater,
    store: MemoryStore,
    batch: list[tuple[bytes, str]],
    window: TimeWindow | None,
    emitted: dict[str, Outcome],
    summary: Summary,
) -> Iterator[Event]:
    if not batch:
        return
    for record_id, outcome in _run(loop, rate_batch(rater, store, batch, window)):
        first = emitted.setdefault(record_id, outcome)
        if first is not outcome and first.to_dict() == outcome.to_dict():  # encoded only for a repeated id
            summary.duplicates += 1
            continue
        summary.records += 1
        summary.add(outcome)
        yield outcome


def _apply(
    loop: asyncio.AbstractEventLoop,
    current: list[Rater],
    store: MemoryStore,
    data: bytes,
    control: dict[str, object],
    summary: Summary,
    window: TimeWindow | None,
    where: str,
) -> Iterator[Event]:
    """Apply one control line.  A malformed one (an unknown kind, a time that is not an ISO 8601 time with an
    offset inside the calendar and the window, a cancellation of an unknown account-service) is an
    ``invalid_record`` rating exception under the line's place in the file: a file's content never stops
    offline rating.  A cancellation settles through the stream's settlement
    (:func:`rater.cancellation.settle_cancellation`), then puts the cancelled configuration in force."""
    rater = current[0]
    kind = control.get("control")
    try:
        if kind == "tick" and isinstance(control.get("time"), str):
            moment = parse_time(str(control["time"]), "tick time")
            if window is not None:
                window.check(moment, "tick time")
            notes = _run(loop, tick(rater.resolver.index, store, moment))
            summary.notifications += len(notes)
            yield from notes
            return
        if (
            kind == "cancel"
            and isinstance(control.get("account_service"), str)
            and isinstance(control.get("cancel"), str)
        ):
            service = str(control["account_service"])
            if service not in rater.subscriptions.services:
                raise InvalidRecord(f"control line cancels unknown account-service {service!r}")
            try:
                day = dt.date.fromisoformat(str(control["cancel"]))
            except ValueError as exc:
                raise InvalidRecord(f"control line cancel date {control['cancel']!r} is not a date") from exc
            operation = str(control.get("id") or f"cancel:{service}:{day.isoformat()}")
            settled = _run(loop, settle_cancellation(rater, store, service, day, operation))
            current[0] = Rater(rater.catalog, cancel_account_service(rater.subscriptions, rater.catalog, service, day))
            for done in settled:
                summary.add_adjustment(done.adjustment)
                yield done.adjustment
            return
        raise InvalidRecord("unknown control line (a tick with a time, or a cancel with account_service and cancel)")
    except Exception as error:
        failure = error if isinstance(error, InvalidRecord) else InvalidRecord(f"control line: {error}")
        summary.records += 1
        outcome = RatingExceptionEvent.from_error(where, failure, data)
        summary.add(outcome)
        yield outcome


def rate_folder(folder: Path, window: TimeWindow | None = None) -> tuple[list[Event], Summary]:
    """Rate ``folder/usage.jsonl``; return the outcomes in order and the summary.  ``window``: the event
    times accepted (see :class:`rater.record.TimeWindow`)."""
    catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    summary = Summary(default_currency=catalog.owner.currency)
    usage = folder / "usage.jsonl"
    with usage.open("rb") as handle:
        outcomes = list(rate_lines(rater, iter(handle), summary, usage.name, window))
    return outcomes, summary


__all__ = ["RatingExceptionEvent", "Summary", "load_folder", "rate_folder", "rate_lines"]
