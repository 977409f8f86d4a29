"""Usage records (UDRs, domain-spec §1.5) and their codec.

The wire format (``usage`` topic and ``usage.jsonl``) is documented in ``docs/events.md`` (schema
``usage/1``).  Decoding is strict about what rating needs and lenient about the rest: unknown fields are
kept in :attr:`UsageRecord.raw` and never rejected.  Undecodable bytes raise :class:`InvalidRecord`, which
the caller turns into a rating exception; decoding never crashes a worker (style habit 6).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from rater.errors import InvalidRecord

_REQUIRED = ("record_id", "usage_identifier", "usage_class", "quantity", "event_time")


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


def decode(data: bytes | str) -> UsageRecord:
    """Parse one JSON usage record; raise :class:`InvalidRecord` saying what is wrong."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidRecord("a usage record must be a JSON object")
    return from_mapping(body)


def from_mapping(body: dict[str, Any]) -> UsageRecord:
    """Build a :class:`UsageRecord` from a decoded JSON object (see :func:`decode`).

    An :class:`InvalidRecord` raised here carries the record's id whenever that one field is readable.
    """
    raw_id = body.get("record_id")
    readable_id = (
        str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and raw_id != "" else None
    )
    try:
        return _build(body)
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
        and (unit is None or type(unit) is str)
        and (terminating is None or type(terminating) is str)
        and (originating is None or type(originating) is str)
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
        raise InvalidRecord(f"quantity {value!r} is not a number")
    try:
        if isinstance(value, float):
            # JSON numbers with a fraction arrive as floats; their shortest repr is the text that was sent.
            amount = Decimal(repr(value))
        elif isinstance(value, (int, str)):
            amount = Decimal(str(value).strip())
        else:
            raise InvalidRecord(f"quantity {value!r} is not a number")
    except InvalidOperation as exc:
        raise InvalidRecord(f"quantity {value!r} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidRecord(f"quantity {value!r} must be a finite number, zero or more")
    return amount


def _unit(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"unit {value!r} must be a string")
    return value.strip()


def _event_time(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidRecord(f"event_time {value!r} must be an ISO 8601 string with a UTC offset")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidRecord(f"event_time {value!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        raise InvalidRecord(f"event_time {value!r} has no UTC offset")
    return moment


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise InvalidRecord(f"{name} {value!r} must be a string")
