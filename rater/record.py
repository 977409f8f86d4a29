"""Usage records (UDRs, domain-spec §1.5) and their codec.

The wire format (``usage`` topic and ``usage.jsonl``) is documented in ``docs/events.md`` (schema
``usage/1``).  Decoding is strict about what rating needs and lenient about the rest: unknown fields are
kept in :attr:`UsageRecord.raw` and never rejected.  Undecodable bytes raise :class:`InvalidRecord`, which
the caller turns into a rating exception; decoding never crashes a worker (style habit 6).

Every field is bounded here, so nothing a producer sends can overflow a later step: identifiers have a
maximum length (:data:`MAX_ID_LENGTH`), a quantity at most :data:`MAX_QUANTITY_DIGITS` digits before the
point (its base units are checked against 2^53 once the class is known, :func:`rater.prepare.record_quantity`),
and an event time must stay inside the calendar in UTC and, when the caller gives one, inside a
:class:`TimeWindow` around its clock (the pure core never reads a clock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from rater.errors import InvalidRecord

_REQUIRED = ("record_id", "usage_identifier", "usage_class", "quantity", "event_time")

#: Longest record id, usage identifier, usage class or terminating/originating identifier accepted (characters).
#: Mediation ids are tens of characters; the bound keeps every event that echoes them far under the broker's
#: message limit.
MAX_ID_LENGTH = 256
#: Longest unit name accepted.
MAX_UNIT_LENGTH = 32
#: Most digits a quantity may have before its decimal point: 10^21 is past any base-unit quantity the kernel
#: holds exactly (2^53), and bounds the decimal arithmetic of the unit conversion.
MAX_QUANTITY_DIGITS = 21
#: Event times accepted by default: ten years either side of the clock (``RATER_EVENT_WINDOW_DAYS``).
DEFAULT_WINDOW_DAYS = 3653
#: Most digits a quantity may have after its decimal point.
MAX_QUANTITY_DECIMALS = 18


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The event times a deployment accepts: ``earliest`` <= event time <= ``latest`` (aware times).

    Built by the caller from its clock (:meth:`around`); a record outside is an ``invalid_record`` rating
    exception.  Period arithmetic, time zones and the kernel's period numbers are all safe inside it."""

    earliest: dt.datetime
    latest: dt.datetime
    days: int | None = None
    """The half-width it was built with (:meth:`around`), for messages."""

    @classmethod
    def around(cls, now: dt.datetime, days: int) -> TimeWindow:
        """``days`` before and after ``now``."""
        span = dt.timedelta(days=days)
        return cls(now - span, now + span, days)

    def check(self, moment: dt.datetime, what: str = "event_time") -> None:
        """Raise :class:`InvalidRecord` for a time outside.  The message names the window by its width, not
        its ends: an event never depends on the clock that rated it (docs/events.md)."""
        if not self.earliest <= moment <= self.latest:
            width = (
                f"{self.days} days either side of the rating clock"
                if self.days is not None
                else f"{self.earliest.isoformat()} .. {self.latest.isoformat()}"
            )
            raise InvalidRecord(f"{what} {moment.isoformat()} is outside the accepted window ({width})")


# Decoded once per record on the hot path: not frozen, since a frozen dataclass's __init__ sets each field
# through object.__setattr__ (about 6x the cost); nothing changes a record after it is decoded.
@dataclass(slots=True)
class UsageRecord:
    """A decoded usage record.  ``quantity`` is as sent, in ``unit``; it becomes base units once the usage
    class (and so the unit type) is known (:func:`rater.units.to_base_units`)."""

    record_id: str
    usage_identifier: str
    usage_class: str
    quantity: Decimal
    unit: str
    event_time: dt.datetime
    terminating_identifier: str | None
    originating_identifier: str | None
    raw: dict[str, Any]


def control_of(data: bytes) -> dict[str, Any] | None:
    """The JSON object of a control line or message (``{"control": ...}`` without a ``record_id``), or
    ``None`` for anything else: a usage record (one that carries a field named ``control`` included: unknown
    fields are kept) or input the codec turns into a rating exception.  A cheap byte test comes first, so
    usage records skip the extra parse.  What a control line may do, and who may send one, is the caller's:
    offline rating trusts its file; the worker honours signed ticks only (streams/worker/control.py)."""
    if b'"control"' not in data:
        return None
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and "control" in body and "record_id" not in body else None


def decode(data: bytes | str, window: TimeWindow | None = None) -> UsageRecord:
    """Parse one JSON usage record; raise :class:`InvalidRecord` saying what is wrong.

    ``window``: the event times accepted (none: any time inside the calendar)."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidRecord("a usage record must be a JSON object")
    return from_mapping(body, window)


def from_mapping(body: dict[str, Any], window: TimeWindow | None = None) -> UsageRecord:
    """Build a :class:`UsageRecord` from a decoded JSON object (see :func:`decode`).

    An :class:`InvalidRecord` raised here carries the record's id whenever that one field is readable
    (and no longer than :data:`MAX_ID_LENGTH`).
    """
    raw_id = body.get("record_id")
    readable_id = (
        str(raw_id)
        if isinstance(raw_id, (str, int))
        and not isinstance(raw_id, bool)
        and raw_id != ""
        and len(str(raw_id)) <= MAX_ID_LENGTH
        else None
    )
    try:
        record = _build(body)
        if window is not None:
            window.check(record.event_time)
        return record
    except InvalidRecord as exc:
        exc.record_id = readable_id
        raise


def _build(body: dict[str, Any]) -> UsageRecord:
    get = body.get
    record_id = get("record_id")
    usage_identifier = get("usage_identifier")
    usage_class = get("usage_class")
    quantity = get("quantity")
    event_time = get("event_time")
    unit = get("unit")
    terminating = get("terminating_identifier")
    originating = get("originating_identifier")
    if (
        # The common case, checked at once: what a mediation system sends.  Anything else takes the
        # field-by-field path below, which says what is wrong; both build the same record.
        type(record_id) is str
        and type(usage_identifier) is str
        and type(usage_class) is str
        and type(event_time) is str
        and (type(quantity) is int or type(quantity) is str)
        and record_id
        and usage_identifier
        and usage_class
        and event_time
        and quantity != ""
        and len(record_id) <= MAX_ID_LENGTH
        and len(usage_identifier) <= MAX_ID_LENGTH
        and len(usage_class) <= MAX_ID_LENGTH
        and (unit is None or (type(unit) is str and len(unit) <= MAX_UNIT_LENGTH))
        and (terminating is None or (type(terminating) is str and len(terminating) <= MAX_ID_LENGTH))
        and (originating is None or (type(originating) is str and len(originating) <= MAX_ID_LENGTH))
    ):
        return UsageRecord(
            record_id=record_id,
            usage_identifier=usage_identifier,
            usage_class=usage_class,
            quantity=_quantity(quantity),
            unit="" if unit is None else unit.strip(),
            event_time=_event_time(event_time),
            terminating_identifier=terminating or None,
            originating_identifier=originating or None,
            raw=body,
        )
    missing = [name for name in _REQUIRED if body.get(name) in (None, "")]
    if missing:
        raise InvalidRecord(f"missing field(s): {', '.join(missing)}")
    for name in ("record_id", "usage_identifier", "usage_class"):
        if not isinstance(body[name], (str, int)) or isinstance(body[name], bool):
            raise InvalidRecord(f"{name} must be a string")
        _bounded(name, str(body[name]), MAX_ID_LENGTH)
    return UsageRecord(
        record_id=str(body["record_id"]),
        usage_identifier=str(body["usage_identifier"]),
        usage_class=str(body["usage_class"]),
        quantity=_quantity(body["quantity"]),
        unit=_unit(body.get("unit")),
        event_time=_event_time(body["event_time"]),
        terminating_identifier=_optional_text(body, "terminating_identifier"),
        originating_identifier=_optional_text(body, "originating_identifier"),
        raw=body,
    )


def _quantity(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidRecord(f"quantity {_shown(value)} is not a number")
    if isinstance(value, str) and len(value) > 64:
        raise InvalidRecord(f"quantity {_shown(value)} is not a number")
    try:
        if isinstance(value, float):
            # JSON numbers with a fraction arrive as floats; their shortest repr is the text that was sent.
            amount = Decimal(repr(value))
        elif isinstance(value, (int, str)):
            amount = Decimal(str(value).strip())
        else:
            raise InvalidRecord(f"quantity {_shown(value)} is not a number")
    except InvalidOperation as exc:
        raise InvalidRecord(f"quantity {_shown(value)} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidRecord(f"quantity {_shown(value)} must be a finite number, zero or more")
    if amount.adjusted() >= MAX_QUANTITY_DIGITS or -amount.as_tuple().exponent > MAX_QUANTITY_DECIMALS:  # type: ignore[operator]
        raise InvalidRecord(
            f"quantity {_shown(value)} is out of range (at most {MAX_QUANTITY_DIGITS} digits before the point "
            f"and {MAX_QUANTITY_DECIMALS} after)"
        )
    return amount


def _shown(value: Any) -> str:
    """A value for a message, cut short: messages echo input, and input can be huge."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _bounded(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidRecord(f"{name} is {len(value)} characters long, more than {limit}")


def _unit(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"unit {_shown(value)} must be a string")
    _bounded("unit", value, MAX_UNIT_LENGTH)
    return value.strip()


def _event_time(value: Any) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidRecord(f"event_time {_shown(value)} must be an ISO 8601 string with a UTC offset")
    return parse_time(value, "event_time")


def parse_time(value: str, what: str) -> dt.datetime:
    """An ISO 8601 time with a UTC offset that stays inside the calendar in UTC (years 1 to 9999), or
    :class:`InvalidRecord`.  Used for event times and for the times of control messages."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidRecord(f"{what} {_shown(value)} is not ISO 8601") from exc
    if moment.tzinfo is None:
        raise InvalidRecord(f"{what} {_shown(value)} has no UTC offset")
    try:
        moment.astimezone(dt.UTC)
    except OverflowError as exc:
        raise InvalidRecord(f"{what} {_shown(value)} leaves the calendar in UTC") from exc
    return moment


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        _bounded(name, text, MAX_ID_LENGTH)
        return text
    raise InvalidRecord(f"{name} {_shown(value)} must be a string")
