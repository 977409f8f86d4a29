"""Offline rating of a folder: ``DIR/usage.jsonl`` against ``DIR``'s catalog and subscriptions.

Records are rated in file order with the same core the stream uses.  Output is one JSON line per outcome
(the events of ``docs/events.md``); a record id seen before is a redelivery (R1): it is not rated again and
gets no second line, and the summary counts it under ``duplicates``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rater.catalog import Catalog, load_catalog
from rater.engine import Deduper, Rater
from rater.events import Outcome, RatedCharge, RatingExceptionEvent
from rater.money import format_amount
from rater.subscriptions import Subscriptions, load_subscriptions


@dataclass
class Summary:
    """Totals over one offline run (the ``--summary`` line)."""

    default_currency: str
    records: int = 0
    rated: int = 0
    duplicates: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    totals: dict[str, Decimal] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        if isinstance(outcome, RatedCharge):
            self.rated += 1
            self.totals[outcome.currency] = self.totals.get(outcome.currency, Decimal(0)) + outcome.total_amount
        else:
            self.exceptions[outcome.type] += 1

    def to_dict(self) -> dict[str, Any]:
        """``{"records", "rated", "exceptions", "total_amount", "currency", ...}``.

        With charges in more than one currency, ``total_amount`` and ``currency`` are null and ``totals``
        holds one amount per currency.
        """
        currencies = sorted(self.totals) or [self.default_currency]
        single = currencies[0] if len(currencies) == 1 else None
        return {
            "records": self.records,
            "rated": self.rated,
            "exceptions": dict(sorted(self.exceptions.items())),
            "duplicates": self.duplicates,
            "total_amount": format_amount(self.totals.get(single, Decimal(0)), single) if single else None,
            "currency": single,
            "totals": {code: format_amount(amount, code) for code, amount in sorted(self.totals.items())},
        }


def load_folder(folder: Path) -> tuple[Catalog, Subscriptions]:
    """Catalog and subscriptions of a rating folder (raises ``ValidationFailed`` on errors)."""
    catalog = load_catalog(folder)
    return catalog, load_subscriptions(folder, catalog)


def rate_lines(rater: Rater, lines: Iterator[bytes], summary: Summary, source: str) -> Iterator[Outcome]:
    """Rate raw JSON lines in order; blank lines are skipped, repeats of a record id are deduped (R1)."""
    dedupe = Deduper()
    for number, line in enumerate(lines, start=1):
        data = line.strip()
        if not data:
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


def rate_folder(folder: Path) -> tuple[list[Outcome], Summary]:
    """Rate ``folder/usage.jsonl``; return the outcomes in order and the summary."""
    catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    summary = Summary(default_currency=catalog.owner.currency)
    usage = folder / "usage.jsonl"
    with usage.open("rb") as handle:
        outcomes = list(rate_lines(rater, iter(handle), summary, usage.name))
    return outcomes, summary


__all__ = ["RatingExceptionEvent", "Summary", "load_folder", "rate_folder", "rate_lines"]
