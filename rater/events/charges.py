"""Output events: rated charges and rating exceptions (schemas in ``docs/events.md``).

Every record id comes out exactly once, as a :class:`RatedCharge` or a :class:`RatingExceptionEvent`.
Each event's ``event_id`` is derived from the record id only, so a re-emission after a redelivery is
byte-identical and consumers can dedupe on it.  Amounts are decimal strings, quantities integers in base
units; nothing in an event depends on the wall clock, so rating the same input twice gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson

from rater.errors import ExceptionType, RatingError
from rater.money import format_amount

RATED_CHARGE_SCHEMA = "rated-charge/1"
RATING_EXCEPTION_SCHEMA = "rating-exception/1"


RATED_ADJUSTMENT_SCHEMA = "rated-adjustment/1"
TIER_CROSSING_SCHEMA = "tier-crossing/1"
NOTIFICATION_SCHEMA = "notification/1"


# Built once per record on the hot path: not frozen, since a frozen dataclass's __init__ sets each field through
# object.__setattr__ (about 6x the cost); nothing changes one after it is built, and it hashes as before.
def utc_text(moment: dt.datetime) -> str:
    """An aware time as ISO 8601 in UTC with a ``Z``, the form of every time in the events; as given when
    UTC would leave the calendar (years 1 and 9999)."""
    try:
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return moment.isoformat()


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
class TierCrossing:
    """A tier entered (or a repeat of the last tier, or the allowance exhausted) by one record (R15-R19).

    ``crossing_id`` is (bucket instance, period, tier, repeat): it fires once per crossing per period.
    """

    record_id: str
    account: str
    bucket_instance: str
    bucket: str
    share_plan: str | None
    period_start: str
    period_end: str
    tier: int
    repeat: int
    kind: str
    """``tier`` (entered), ``repeat`` (the last tier started again) or ``exhausted`` (usage now overflows)."""
    at: int
    """Counter value at the crossing: the first unit in the new tier, or the allowance when exhausted."""
    consumed: int
    event_time: str

    @property
    def crossing_id(self) -> str:
        return f"{self.bucket_instance}:{self.period_start}:{self.kind}:{self.tier}:{self.repeat}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TIER_CROSSING_SCHEMA,
            "crossing_id": self.crossing_id,
            "record_id": self.record_id,
            "account": self.account,
            "bucket_instance": self.bucket_instance,
            "bucket": self.bucket,
            "share_plan": self.share_plan,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "kind": self.kind,
            "tier": self.tier,
            "repeat": self.repeat,
            "at": self.at,
            "consumed": self.consumed,
            "event_time": self.event_time,
        }


@dataclass(frozen=True, slots=True)
class Notification:
    """A configured percentage of a tier reached (R66) or a package's billing activation (R50-R51)."""

    notification_id: str
    kind: str
    account: str
    record_id: str | None
    details: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": NOTIFICATION_SCHEMA,
            "notification_id": self.notification_id,
            "kind": self.kind,
            "account": self.account,
            "record_id": self.record_id,
            **dict(self.details),
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


#: Bytes of an oversized original an exception event keeps (a prefix to recognise the record by).
ORIGINAL_PREFIX = 4096
#: Characters of a message a bounded exception event keeps.
MESSAGE_PREFIX = 1024
#: UTF-8 bytes of a record id a bounded exception event echoes; a longer one is replaced (docs/events.md).
RECORD_ID_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record was read on Kafka: its topic, partition and offset (absent offline)."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, position: str) -> Source | None:
        """``topic:partition:offset`` (the worker's fallback id; Kafka topic names hold no colon), or None."""
        topic, _, rest = position.partition(":")
        partition, _, offset = rest.partition(":")
        if not topic or not partition.isdigit() or not offset.isdigit():
            return None
        return cls(topic, int(partition), int(offset))

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class RatingExceptionEvent:
    """A record that could not be rated (R31), with the original input so it can be reprocessed.

    On Kafka it names its ``source`` (topic, partition, offset).  :meth:`bounded` keeps its JSON under a
    size limit: an oversized original is replaced by a prefix, its size and its SHA-256 (docs/events.md)."""

    record_id: str
    type: str
    message: str
    account: str | None
    original: bytes
    source: Source | None = None
    truncated: bool = False
    """``original`` is only a prefix of the record (``original_size`` bytes, digest ``original_sha256``)."""
    original_size: int | None = None
    original_sha256: str | None = None
    drew: bool = False
    """The record drew before the error was raised (pricing failed after its draw): the draw is stored, and
    reprocessing replays it.  Every other exception drew nothing."""

    @classmethod
    def from_error(cls, record_id: str, error: RatingError, original: bytes) -> RatingExceptionEvent:
        return cls(record_id, error.type.value, error.message, error.account, original)

    @property
    def event_id(self) -> str:
        """``<record id>:exception``; a ``duplicate_record`` is not its record id's first outcome, so its id
        also names the bytes it came with (``<record id>:duplicate:<digest>``): it never reuses the first
        outcome's id, and a resend of the same duplicate gets the same id (R1)."""
        if self.type == ExceptionType.DUPLICATE_RECORD:
            digest = hashlib.blake2b(self.original, digest_size=12).hexdigest()
            return f"{self.record_id}:duplicate:{digest}"
        return f"{self.record_id}:exception"

    def to_dict(self) -> dict[str, Any]:
        try:
            text, encoding = self.original.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.original).decode("ascii"), "base64"
        body: dict[str, Any] = {
            "schema": RATING_EXCEPTION_SCHEMA,
            "event_id": self.event_id,
            "record_id": self.record_id,
            "type": self.type,
            "message": self.message,
            "account": self.account,
            "original": text,
            "original_encoding": encoding,
        }
        if self.truncated:
            body |= {
                "original_truncated": True,
                "original_size": self.original_size,
                "original_sha256": self.original_sha256,
            }
        if self.source is not None:
            body["source"] = self.source.to_dict()
        if self.drew:
            body["drew"] = True
        return body

    def bounded(self, limit: int, source: Source | None = None) -> tuple[RatingExceptionEvent, bytes]:
        """This event and its JSON, or, when the JSON is over ``limit`` bytes, the same event with a bounded
        original (the first :data:`ORIGINAL_PREFIX` bytes, cut at a character boundary when it is UTF-8),
        message and record id, naming ``source``, where the whole record can be read.  ``limit`` must leave
        room for that: the bounded event is at most about 40 KB (``RATER_MAX_EVENT_BYTES`` is at least
        64 KiB).  An event within the limit does not name its source: the same record resent at another
        offset gets the same bytes (R1)."""
        encoded = orjson.dumps(self.to_dict())
        if len(encoded) <= limit:
            return self, encoded
        event = self if source is None else replace(self, source=source)
        original = self.original
        if not self.truncated and len(original) > ORIGINAL_PREFIX:
            prefix = original[:ORIGINAL_PREFIX]
            try:
                original.decode("utf-8")
                prefix = prefix.decode("utf-8", errors="ignore").encode("utf-8")  # whole characters only
            except UnicodeDecodeError:
                pass
            event = replace(
                event,
                original=prefix,
                truncated=True,
                original_size=len(original),
                original_sha256=hashlib.sha256(original).hexdigest(),
            )
        event = replace(
            event, record_id=bounded_id(event.record_id, event.source), message=_prefix(event.message, MESSAGE_PREFIX)
        )
        encoded = orjson.dumps(event.to_dict())
        assert len(encoded) <= limit, (len(encoded), limit)
        return event, encoded


def bounded_id(record_id: str, source: Source | None) -> str:
    """``record_id``, or, when it is over :data:`RECORD_ID_LIMIT` UTF-8 bytes, a stand-in: where the record
    was read (``topic:partition:offset``) or else ``sha256:<digest of the id>``."""
    raw = record_id.encode("utf-8", errors="surrogatepass")
    if len(raw) <= RECORD_ID_LIMIT:
        return record_id
    if source is not None:
        return f"{source.topic}:{source.partition}:{source.offset}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _prefix(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length] + "…"


def delivery_failure(
    record_id: str, account: str | None, message: str, source: Source | None = None
) -> RatingExceptionEvent:
    """The small ``software_system_error`` event that stands for a record whose output the broker refused for
    good (too large, invalid topic...): no original (the record is at ``source``, or found by its id)."""
    return RatingExceptionEvent(
        bounded_id(record_id, source),
        ExceptionType.SOFTWARE_SYSTEM_ERROR.value,
        _prefix(message, MESSAGE_PREFIX),
        account,
        b"",
        source,
        truncated=True,
    )


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


Outcome = RatedCharge | RatingExceptionEvent
Event = RatedCharge | RatingExceptionEvent | TierCrossing | Notification | RatedAdjustment


def dumps(event: Event) -> bytes:
    """The one JSON encoding of an output event."""
    return orjson.dumps(event.to_dict())
