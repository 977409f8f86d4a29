"""Rated adjustments (``rated-adjustment/1``): the charges that a change after rating moves into being
(R41: a prorated cancellation cuts tier 1), carrying only the difference; history is not rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rater.events.charges import ChargeLine
from rater.money import format_amount

RATED_ADJUSTMENT_SCHEMA = "rated-adjustment/1"


@dataclass(frozen=True, slots=True)
class RatedAdjustment:
    """Charges that a change after rating moves into being (R41: a prorated cancellation cuts tier 1, so
    usage already rated moves into higher tiers or overage).  History is not rewritten: this event carries
    only the difference."""

    adjustment_id: str
    reason: str
    account: str
    account_service: str
    bucket_instance: str
    period_start: str
    period_end: str
    tiers_before: tuple[int, ...]
    tiers_after: tuple[int, ...]
    consumed: int
    kept: int
    charges: tuple[ChargeLine, ...]
    currency: str

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.charges), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": RATED_ADJUSTMENT_SCHEMA,
            "event_id": f"{self.adjustment_id}:adjustment",
            "adjustment_id": self.adjustment_id,
            "reason": self.reason,
            "account": self.account,
            "account_service": self.account_service,
            "bucket_instance": self.bucket_instance,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "tiers_before": list(self.tiers_before),
            "tiers_after": list(self.tiers_after),
            "consumed": self.consumed,
            "kept": self.kept,
            "charges": [line.to_dict(self.currency) for line in self.charges],
            "total_amount": format_amount(self.total_amount, self.currency),
            "currency": self.currency,
        }
