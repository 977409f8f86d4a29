"""Rated charges (``rated-charge/1``): the rating of one record (:class:`RatedCharge`), its priced lines
(:class:`ChargeLine`, R14), and what it drew from each bucket instance (:class:`BucketDraw`, with one
:class:`TierPart` per tier occurrence it reached).  Amounts are exact decimals, written as decimal strings in
the event; quantities are integers in base units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rater.events.crossings import TierCrossing
from rater.events.notifications import Notification
from rater.money import format_amount

RATED_CHARGE_SCHEMA = "rated-charge/1"


# Built once per record on the hot path: not frozen, since a frozen dataclass's __init__ sets each field through
# object.__setattr__ (about 6x the cost); nothing changes one after it is built, and it hashes as before.
@dataclass(slots=True, unsafe_hash=True)
class TierPart:
    """The part of one draw inside one tier occurrence: its quantity, the flat charge due on entering it
    (R17, R19a) and the amount (flat charge plus the tier's rate plan, R18)."""

    tier: int
    repeat: int
    quantity: int
    flat_charge: Decimal
    amount: Decimal

    def to_dict(self, currency: str) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "repeat": self.repeat,
            "quantity": self.quantity,
            "flat_charge": format_amount(self.flat_charge, currency),
            "amount": format_amount(self.amount, currency),
        }


# Built once per record on the hot path: not frozen, since a frozen dataclass's __init__ sets each field through
# object.__setattr__ (about 6x the cost); nothing changes one after it is built, and it hashes as before.
@dataclass(slots=True, unsafe_hash=True)
class BucketDraw:
    """What a record drew from one bucket instance in one period (architecture: before/after per bucket)."""

    bucket_instance: str
    bucket: str
    level: str
    holder: str
    share_plan: str | None
    participant: str | None
    period_start: str
    period_end: str
    quantity: int
    before: int
    after: int
    allowance: int | None
    carry: int
    money: bool
    tiers: tuple[TierPart, ...] = ()

    def to_dict(self, currency: str) -> dict[str, Any]:
        return {
            "bucket_instance": self.bucket_instance,
            "bucket": self.bucket,
            "level": self.level,
            "holder": self.holder,
            "share_plan": self.share_plan,
            "participant": self.participant,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "quantity": self.quantity,
            "before": self.before,
            "after": self.after,
            "allowance": self.allowance,
            "carry": self.carry,
            "money": self.money,
            "tiers": [part.to_dict(currency) for part in self.tiers],
        }


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One priced part of a record (R14).

    ``type``: ``rate_plan`` (usage no bucket covered, priced by the lowest-level rate plan, R24-R30),
    ``flat_charge`` (a tier entered or repeated, R17, R19a), ``tier_rate`` (usage inside a tier that has a
    rate plan, R18).
    """

    type: str
    quantity: int
    """Billable base units this line prices (after the record's rounding rule, R29, Q6)."""
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
    bucket_instance: str | None = None
    tier: int | None = None
    repeat: int | None = None

    def to_dict(self, currency: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "quantity": self.quantity,
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
            "bucket_instance": self.bucket_instance,
            "tier": self.tier,
            "repeat": self.repeat,
        }


# Built once per record on the hot path: not frozen, since a frozen dataclass's __init__ sets each field through
# object.__setattr__ (about 6x the cost); nothing changes one after it is built, and it hashes as before.
@dataclass(slots=True, unsafe_hash=True)
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
    billable_quantity: int = 0
    draws: tuple[BucketDraw, ...] = ()
    money_drawn: Decimal = Decimal(0)
    crossings: tuple[TierCrossing, ...] = ()
    notifications: tuple[Notification, ...] = ()

    @property
    def total_amount(self) -> Decimal:
        """The priced value of the record: every charge line."""
        return sum((line.amount for line in self.charges), Decimal(0))

    @property
    def billed_amount(self) -> Decimal:
        """What is left to bill once money buckets paid their part (R46)."""
        return self.total_amount - self.money_drawn

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
            "billable_quantity": self.billable_quantity,
            "event_time": self.event_time,
            "location": self.location,
            "draws": [draw.to_dict(self.currency) for draw in self.draws],
            "charges": [line.to_dict(self.currency) for line in self.charges],
            "total_amount": format_amount(self.total_amount, self.currency),
            "money_drawn": format_amount(self.money_drawn, self.currency),
            "billed_amount": format_amount(self.billed_amount, self.currency),
            "currency": self.currency,
            "crossings": [crossing.to_dict() for crossing in self.crossings],
            "notifications": [note.to_dict() for note in self.notifications],
        }
