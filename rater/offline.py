"""Offline rating of a folder: ``DIR/usage.jsonl`` against ``DIR``'s catalog and subscriptions.

Records are rated in file order with the same core the stream uses.  Output is one JSON line per outcome
(the events of ``docs/events.md``); a record id seen before is a redelivery (R1): it is not rated again and
gets no second line, and the summary counts it under ``duplicates``.

Two control lines stand for what the stream gets from elsewhere:

* ``{"control": "tick", "time": "<ISO 8601>"}``: the stream's timer at that moment; it runs the time-driven
  rules (billing activation by time, R50b) and writes the notifications they raise.
* ``{"control": "cancel", "account_service": "<id>", "cancel": "<date>", "id": "<operation id>"}``: a
  provisioning change cancelling an account-service from that date (exclusive); prorated buckets are
  settled and the adjustments written (R41).  ``id`` defaults to ``cancel:<account_service>:<date>``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from rater.catalog import Catalog, load_catalog
from rater.engine import Deduper, Rater
from rater.events import Event, Outcome, RatedAdjustment, RatedCharge, RatingExceptionEvent
from rater.issues import Issue, ValidationFailed
from rater.money import format_amount
from rater.subscriptions import Subscriptions, load_subscriptions, subscriptions_file


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


def _control(data: bytes) -> dict[str, object] | None:
    """The control instruction of a line, or ``None`` for a usage record (cheap test before parsing)."""
    if b'"control"' not in data:
        return None
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and "control" in body else None


def rate_lines(rater: Rater, lines: Iterator[bytes], summary: Summary, source: str) -> Iterator[Event]:
    """Rate raw JSON lines in order; blank lines are skipped, repeats of a record id are deduped (R1),
    ``tick`` control lines run the time-driven rules."""
    dedupe = Deduper()
    for number, line in enumerate(lines, start=1):
        data = line.strip()
        if not data:
            continue
        control = _control(data)
        if control is not None:
            yield from _apply(rater, control, summary, f"{source}:{number}")
            continue
        summary.records += 1
        record_id, outcome = rater.outcome(data, f"{source}:{number}")
        if dedupe.get(record_id) is not None:
            summary.records -= 1
            summary.duplicates += 1
            continue
        dedupe.remember(record_id, outcome)
        summary.add(outcome)
        yield outcome


def _apply(rater: Rater, control: dict[str, object], summary: Summary, where: str) -> Iterator[Event]:
    kind = control.get("control")
    if kind == "tick" and isinstance(control.get("time"), str):
        notes = rater.tick(dt.datetime.fromisoformat(str(control["time"])))
        summary.notifications += len(notes)
        yield from notes
    elif (
        kind == "cancel" and isinstance(control.get("account_service"), str) and isinstance(control.get("cancel"), str)
    ):
        service = str(control["account_service"])
        day = dt.date.fromisoformat(str(control["cancel"]))
        operation = str(control.get("id") or f"cancel:{service}:{day.isoformat()}")
        for adjustment in rater.cancel(service, day, operation):
            summary.add_adjustment(adjustment)
            yield adjustment
    else:
        raise ValueError(f"{where}: unknown control line {control!r} (tick with a time, or cancel)")


def rate_folder(folder: Path) -> tuple[list[Event], Summary]:
    """Rate ``folder/usage.jsonl``; return the outcomes in order and the summary."""
    catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    summary = Summary(default_currency=catalog.owner.currency)
    usage = folder / "usage.jsonl"
    with usage.open("rb") as handle:
        outcomes = list(rate_lines(rater, iter(handle), summary, usage.name))
    return outcomes, summary


__all__ = ["RatingExceptionEvent", "Summary", "load_folder", "rate_folder", "rate_lines"]
