"""Output events: rated charges and rating exceptions (schemas in ``docs/events.md``).

Every record id comes out exactly once, as a :class:`RatedCharge` or a :class:`RatingExceptionEvent`.
Each event's ``event_id`` is derived from the record id only, so a re-emission after a redelivery is
byte-identical and consumers can dedupe on it.  Amounts are decimal strings, quantities integers in base
units; nothing in an event depends on the wall clock, so rating the same input twice gives the same bytes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from rater.errors import RatingError
from rater.money import format_amount

RATED_CHARGE_SCHEMA = "rated-charge/1"
RATING_EXCEPTION_SCHEMA = "rating-exception/1"


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One priced part of a record (R14).  ``type="rate_plan"``: usage priced by a rate (R24-R30)."""

    type: str
    quantity: int
    billable_quantity: int
    amount: Decimal
    billed_to: str
    rate_plan: str | None = None
    rate_plan_level: str | None = None
    rate_plan_attached_to: str | None = None
    rate_group: str | None = None
    rate: str | None = None
    rate_amount: Decimal | None = None
    rate_per: str | None = None
    rounding_rule: str | None = None

    def to_dict(self, currency: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "quantity": self.quantity,
            "billable_quantity": self.billable_quantity,
            "amount": format_amount(self.amount, currency),
            "billed_to": self.billed_to,
            "rate_plan": self.rate_plan,
            "rate_plan_level": self.rate_plan_level,
            "rate_plan_attached_to": self.rate_plan_attached_to,
            "rate_group": self.rate_group,
            "rate": self.rate,
            "rate_amount": None if self.rate_amount is None else f"{self.rate_amount:f}",
            "rate_per": self.rate_per,
            "rounding_rule": self.rounding_rule,
        }


@dataclass(frozen=True, slots=True)
class RatedCharge:
    """The rating of one record: who owns it, what it was, and its priced lines."""

    record_id: str
    usage_identifier: str
    account: str
    account_service: str
    service: str
    account_package: str
    package: str
    usage_invoicer: str
    usage_class: str
    unit_type: str
    unit: str
    quantity: int
    event_time: str
    location: str | None
    charges: tuple[ChargeLine, ...]
    currency: str

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.charges), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": RATED_CHARGE_SCHEMA,
            "event_id": f"{self.record_id}:rated",
            "record_id": self.record_id,
            "usage_identifier": self.usage_identifier,
            "account": self.account,
            "account_service": self.account_service,
            "service": self.service,
            "account_package": self.account_package,
            "package": self.package,
            "usage_invoicer": self.usage_invoicer,
            "usage_class": self.usage_class,
            "unit_type": self.unit_type,
            "unit": self.unit,
            "quantity": self.quantity,
            "event_time": self.event_time,
            "location": self.location,
            "charges": [line.to_dict(self.currency) for line in self.charges],
            "total_amount": format_amount(self.total_amount, self.currency),
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class RatingExceptionEvent:
    """A record that could not be rated (R31), with the original input so it can be reprocessed."""

    record_id: str
    type: str
    message: str
    account: str | None
    original: bytes

    @classmethod
    def from_error(cls, record_id: str, error: RatingError, original: bytes) -> RatingExceptionEvent:
        return cls(record_id, error.type.value, error.message, error.account, original)

    def to_dict(self) -> dict[str, Any]:
        try:
            text, encoding = self.original.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.original).decode("ascii"), "base64"
        return {
            "schema": RATING_EXCEPTION_SCHEMA,
            "event_id": f"{self.record_id}:exception",
            "record_id": self.record_id,
            "type": self.type,
            "message": self.message,
            "account": self.account,
            "original": text,
            "original_encoding": encoding,
        }


Outcome = RatedCharge | RatingExceptionEvent


def dumps(event: Outcome) -> bytes:
    """The one JSON encoding of an output event."""
    return orjson.dumps(event.to_dict())
