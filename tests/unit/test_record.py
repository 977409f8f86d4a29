"""The usage-record codec (rater.record, schema ``usage/1`` in docs/events.md; domain-spec §1.5, R1, R3).

Decoding is strict about what rating needs and lenient about the rest; every failure is an
:class:`InvalidRecord` (type ``invalid_record``), never another exception.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest

from rater.errors import ExceptionType, InvalidRecord
from rater.record import MAX_ID_LENGTH, MAX_UNIT_LENGTH, TimeWindow, decode, from_mapping
from tests.unit._builders import UID, usage


def _decode_error(body: Any) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as caught:
        decode(orjson.dumps(body))
    assert caught.value.type is ExceptionType.INVALID_RECORD
    return caught.value


def test_valid_record() -> None:
    """§1.5 mapping: record_id, usage_identifier, usage_class, quantity "61" in "s", event_time 11:00Z."""
    body = usage(record_id="e7-61s", quantity="61", terminating_identifier="+18085551234", originating_identifier="42")
    record = decode(orjson.dumps(body))
    assert record.record_id == "e7-61s"
    assert record.usage_identifier == UID
    assert record.usage_class == "VOICE"
    assert record.quantity == Decimal(61)
    assert record.unit == "s"
    assert record.event_time == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert record.terminating_identifier == "+18085551234"
    assert record.originating_identifier == "42"
    assert decode(orjson.dumps(body).decode()) == record  # text input decodes the same way


def test_optional_fields_default() -> None:
    """usage/1: unit, terminating and originating identifiers are optional; absent or "" -> "" / None."""
    body = usage(unit=None)
    body["terminating_identifier"] = ""
    record = decode(orjson.dumps(body))
    assert record.unit == ""
    assert record.terminating_identifier is None
    assert record.originating_identifier is None


def test_unknown_fields_are_kept_in_raw() -> None:
    """usage/1 "anything else": unknown fields (importBatchId, reverseRating) are kept unchanged, never rejected."""
    body = usage(importBatchId="batch-7", reverseRating=False, extra={"nested": [1, 2]})
    record = decode(orjson.dumps(body))
    assert record.raw["importBatchId"] == "batch-7"
    assert record.raw["reverseRating"] is False
    assert record.raw["extra"] == {"nested": [1, 2]}
    assert record.raw == body


def test_missing_required_fields_are_all_named() -> None:
    """R3/usage-1: record_id, usage_identifier, usage_class, quantity, event_time are required; every missing
    one is named.  {"record_id": "r-9", "usage_identifier": ""} lacks 4 ("" counts as missing)."""
    error = _decode_error({"record_id": "r-9", "usage_identifier": ""})
    assert "missing field(s): usage_identifier, usage_class, quantity, event_time" in error.message


@pytest.mark.parametrize("name", ["record_id", "usage_identifier", "usage_class", "quantity", "event_time"])
def test_each_required_field_is_required(name: str) -> None:
    """usage/1: dropping one required field gives "missing field(s): <that field>"."""
    body = usage()
    del body[name]
    assert _decode_error(body).detail == f"missing field(s): {name}"


@pytest.mark.parametrize("data", [b"{not json", b"", b'{"record_id": "r-1",}', b"\xff\xfe"])
def test_not_json(data: bytes) -> None:
    """Undecodable bytes (bad JSON, empty input, non-UTF-8) are InvalidRecord "not valid JSON", never a crash."""
    with pytest.raises(InvalidRecord, match="not valid JSON"):
        decode(data)


@pytest.mark.parametrize("data", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_not_an_object(data: bytes) -> None:
    """A usage record is one JSON object; an array, string, number or null is InvalidRecord."""
    with pytest.raises(InvalidRecord, match="must be a JSON object"):
        decode(data)


def test_event_time_offset_is_kept() -> None:
    """usage/1: event_time is ISO 8601 with an offset; 18:00-05:00 is the instant 23:00Z."""
    record = from_mapping(usage(event_time="2026-03-03T18:00:00-05:00"))
    assert record.event_time == dt.datetime(2026, 3, 3, 23, 0, tzinfo=dt.UTC)
    assert record.event_time.utcoffset() == dt.timedelta(hours=-5)


@pytest.mark.parametrize(
    ("event_time", "message"),
    [
        ("2026-03-02T10:00:00", "has no UTC offset"),  # a naive time is ambiguous
        ("2026-03-02", "has no UTC offset"),
        ("yesterday", "is not ISO 8601"),
        (1772445600, "must be an ISO 8601 string"),
    ],
)
def test_bad_event_time(event_time: object, message: str) -> None:
    """usage/1: event_time must be an ISO 8601 string **with** a UTC offset; "2026-03-02T10:00:00" is refused."""
    assert message in _decode_error(usage(event_time=event_time)).detail


@pytest.mark.parametrize("quantity", ["-1", -1, "-0.5"])
def test_negative_quantity(quantity: object) -> None:
    """usage/1: quantity >= 0; -1 is InvalidRecord."""
    assert "zero or more" in _decode_error(usage(quantity=quantity)).detail


@pytest.mark.parametrize("quantity", [True, False])
def test_bool_quantity(quantity: bool) -> None:
    """A JSON true/false is not a quantity even though Python's bool is an int (True would be 1)."""
    assert "is not a number" in _decode_error(usage(quantity=quantity)).detail


@pytest.mark.parametrize("quantity", ["abc", "1,5", "NaN", "Infinity", [1], {"value": 1}])
def test_non_numeric_quantity(quantity: object) -> None:
    """A quantity must be a finite number: "abc", "1,5", NaN, Infinity, lists and objects are InvalidRecord."""
    _decode_error(usage(quantity=quantity))


@pytest.mark.parametrize(
    ("json_quantity", "expected"),
    [
        (b"1.5", Decimal("1.5")),  # JSON number with a fraction, read from its shortest text
        (b"0.1", Decimal("0.1")),  # exactly 0.1, not the float 0.1000000000000000055511151231257827...
        (b"60", Decimal(60)),  # JSON integer
        (b"0", Decimal(0)),  # zero is allowed (Q20)
        (b'"61.5"', Decimal("61.5")),  # string (preferred)
        (b'" 7 "', Decimal(7)),  # surrounding spaces ignored
        (b'"0.0005"', Decimal("0.0005")),
    ],
)
def test_quantity_forms(json_quantity: bytes, expected: Decimal) -> None:
    """usage/1: quantity is a string or a number; 1.5 -> Decimal("1.5") exactly, "61.5" -> Decimal("61.5")."""
    data = (
        b'{"record_id": "r-1", "usage_identifier": "U", "usage_class": "VOICE", "event_time": "2026-03-02T10:00:00Z",'
        b' "quantity": ' + json_quantity + b"}"
    )
    record = decode(data)
    assert record.quantity == expected
    assert record.quantity.as_tuple() == expected.as_tuple()


def test_integer_ids_become_text() -> None:
    """usage/1: ids are strings; an integer id (17) is read as its text "17"."""
    record = from_mapping(usage(record_id=17, usage_identifier=15195550100, terminating_identifier=18085551234))
    assert record.record_id == "17"
    assert record.usage_identifier == "15195550100"
    assert record.terminating_identifier == "18085551234"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("record_id", True),
        ("record_id", {"id": 1}),
        ("usage_class", ["VOICE"]),
        ("unit", 5),
        ("terminating_identifier", ["1808"]),
        ("originating_identifier", False),
    ],
)
def test_wrongly_typed_fields(field: str, value: object) -> None:
    """Ids, the unit and the identifiers must be text (ids may be integers); anything else is InvalidRecord."""
    assert field in _decode_error(usage(**{field: value})).detail


# -- bounds: nothing a producer sends can overflow a later step (architecture property 4) ----------------------


@pytest.mark.parametrize(
    "quantity",
    [
        "1e999999999",  # Decimal takes it; any arithmetic on it would raise decimal.Overflow
        "1e309",  # past a double
        str(10**30),
        "1" * 22,  # 22 digits before the point: past MAX_QUANTITY_DIGITS (21)
        "0." + "1" * 19,  # 19 digits after the point: past MAX_QUANTITY_DECIMALS (18)
        "9" * 65,  # text longer than any number
    ],
)
def test_a_quantity_out_of_range_is_an_invalid_record(quantity: Any) -> None:
    """Quantities with more digits than the kernel could ever hold are refused at decode, with the record's id,
    before any arithmetic (R1 keeps deduping on the id)."""
    error = _decode_error(usage(record_id="big", quantity=quantity))
    assert error.record_id == "big"
    assert "quantity" in error.detail
    assert len(error.message) < 300  # the message never echoes a huge input


def test_json_numbers_past_64_bits_are_invalid_records() -> None:
    """orjson reads an integer past 64 bits as a double (10^30 -> 1e30: 31 digits, refused at decode) and a
    number past a double (1e309) not at all: the message is not valid JSON, an exception under the
    caller's fallback id.  Neither reaches any arithmetic."""
    head = b'{"record_id":"f","usage_identifier":"u","usage_class":"SMS","event_time":"2026-03-02T10:00:00Z",'
    big = _decode_error_raw(head + b'"quantity":1000000000000000000000000000000}')
    assert (big.record_id, "out of range" in big.detail) == ("f", True)
    infinite = _decode_error_raw(head + b'"quantity":1e309}')
    assert (infinite.record_id, "not valid JSON" in infinite.detail) == (None, True)


def _decode_error_raw(data: bytes) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as caught:
        decode(data)
    return caught.value


@pytest.mark.parametrize(
    ("event_time", "reason"),
    [
        ("9999-12-31T23:00:00-05:00", "leaves the calendar"),  # 10000-01-01T04:00Z
        ("0001-01-01T00:30:00+01:00", "leaves the calendar"),  # 0000-12-31T23:30Z
        ("2026-03-02T10:00:00", "no UTC offset"),
        ("2026-13-02T10:00:00Z", "not ISO 8601"),
    ],
)
def test_event_times_outside_the_calendar_are_invalid(event_time: str, reason: str) -> None:
    error = _decode_error(usage(record_id="t", event_time=event_time))
    assert reason in error.detail
    assert error.record_id == "t"


def test_the_time_window_bounds_event_times() -> None:
    """A window of 10 days around 2026-03-10T00:00Z takes 2026-02-28T00:00Z (its first instant) and
    2026-03-20T00:00Z (its last), and refuses a microsecond outside either end."""
    window = TimeWindow.around(dt.datetime(2026, 3, 10, tzinfo=dt.UTC), 10)
    for inside in ("2026-02-28T00:00:00Z", "2026-03-20T00:00:00Z", "2026-03-19T19:00:00-05:00"):
        assert decode(orjson.dumps(usage(event_time=inside)), window).event_time.tzinfo is not None
    for outside in ("2026-02-27T23:59:59.999999Z", "2026-03-20T00:00:00.000001Z", "2150-01-01T00:00:00Z"):
        with pytest.raises(InvalidRecord, match="outside the accepted window"):
            decode(orjson.dumps(usage(record_id="w", event_time=outside)), window)


@pytest.mark.parametrize("name", ["record_id", "usage_identifier", "usage_class", "terminating_identifier"])
def test_identifiers_longer_than_the_bound_are_invalid(name: str) -> None:
    """A 600 KB identifier would make every event echoing it larger than a broker takes: at most
    MAX_ID_LENGTH (256) characters; 256 pass, 257 do not.  An over-long record id is not echoed as the
    record's id (the caller falls back to the message's topic:partition:offset)."""
    decode(orjson.dumps(usage(**{"record_id": "ok", name: "x" * MAX_ID_LENGTH})))
    error = _decode_error(usage(**{"record_id": "long", name: "x" * (MAX_ID_LENGTH + 1)}))
    assert str(MAX_ID_LENGTH) in error.detail
    assert error.record_id == (None if name == "record_id" else "long")
    huge = _decode_error(usage(record_id="x" * 600_000))
    assert huge.record_id is None
    assert len(huge.message) < 300


def test_unit_longer_than_its_bound_is_invalid() -> None:
    with pytest.raises(InvalidRecord, match="unit"):
        decode(orjson.dumps(usage(unit="s" * (MAX_UNIT_LENGTH + 1))))
