"""The rating core (rater.rating, rater.prepare, rater.price) and offline rating (rater.offline): R1 dedupe,
R2 owner resolution, R3 quantities, R4 GeoTree misses, the pipeline (bytes in, exactly one event out) and the
event schemas of docs/events.md."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from rater import batch
from rater.catalog.model import UsageClass
from rater.errors import ExceptionType, InvalidRecord, RatingError
from rater.events import RatedCharge, RatingExceptionEvent, dumps
from rater.offline import Summary, rate_folder, rate_lines
from rater.prepare import record_quantity, resolve_owner
from rater.rating import Rater
from rater.record import UsageRecord
from tests.unit._builders import (
    UID,
    account,
    catalog_doc,
    group,
    make_rater,
    rate,
    rate_one,
    rated,
    rating_error,
    record,
    subscriptions_doc,
    usage,
    write_folder,
)


def _voice_rater(tmp_path: Path, *accounts: dict[str, Any], amount: str = "0.06") -> Rater:
    """VOICE at ``amount`` per minute (plan RP-1, precision 2) plus LD rates for GeoTree tests."""
    catalog = catalog_doc(
        [
            group(
                "STANDARD",
                rate("VOICE", amount),
                rate("LD", "0.10", location="NORTH-AMERICA"),
                rate("SMS", "0.01", "event"),
            )
        ]
    )
    return make_rater(tmp_path, catalog, subscriptions_doc(*accounts))


def _exception(rater: Rater, data: bytes, fallback: str = "usage.jsonl:1") -> tuple[str, RatingExceptionEvent]:
    record_id, outcome = rate_one(rater, data, fallback)
    assert isinstance(outcome, RatingExceptionEvent), outcome
    return record_id, outcome


# --- R1: dedupe --------------------------------------------------------------------------------------------


def test_rate_folder_rates_a_repeated_record_id_once(tmp_path: Path) -> None:
    """R1: usage.jsonl holds record "dup" three times: 60 s, the same 60 s again (a redelivery), then 120 s
    (other content under the same id).  The first is rated (60 s x $0.06/min = 1 min x 0.06 = $0.06); the
    redelivery writes no second line (duplicates == 1); the third is a ``duplicate_record`` exception whose
    event id is not the first outcome's, and which draws and charges nothing: records == 2, rated == 1,
    total $0.06."""
    catalog = catalog_doc([group("STANDARD", rate("VOICE", "0.06"))])
    folder = write_folder(
        tmp_path,
        catalog,
        subscriptions_doc(),
        [
            usage(record_id="dup", quantity="60"),
            usage(record_id="dup", quantity="60"),
            usage(record_id="dup", quantity="120"),
        ],
    )
    outcomes, summary = rate_folder(folder)
    assert len(outcomes) == 2
    first, duplicate = outcomes
    assert isinstance(first, RatedCharge)
    assert (first.record_id, first.quantity, first.total_amount) == ("dup", 60_000, Decimal("0.06"))
    assert isinstance(duplicate, RatingExceptionEvent)
    assert (duplicate.record_id, duplicate.type) == ("dup", "duplicate_record")
    assert duplicate.to_dict()["event_id"] != first.to_dict()["event_id"]
    assert (summary.records, summary.rated, summary.duplicates) == (2, 1, 1)
    assert dict(summary.exceptions) == {"duplicate_record": 1}
    assert summary.to_dict()["total_amount"] == "0.06"


def test_rate_lines_dedupes_and_skips_blank_lines(tmp_path: Path) -> None:
    """R1: lines a, (blank), b (unknown UID), a (600 s: other content), b (the same again) -> outcomes a,
    b's exception, a's ``duplicate_record``; the exact repeat of b writes nothing: records == 3,
    duplicates == 1."""
    rater = _voice_rater(tmp_path)
    lines = [
        orjson.dumps(usage(record_id="a")),
        b"   \n",
        orjson.dumps(usage(record_id="b", usage_identifier="UNKNOWN")),
        orjson.dumps(usage(record_id="a", quantity="600")),
        orjson.dumps(usage(record_id="b", usage_identifier="UNKNOWN")),
    ]
    summary = Summary(default_currency="USD")
    outcomes = list(rate_lines(rater, iter(lines), summary, "usage.jsonl"))
    assert [(type(o).__name__, getattr(o, "record_id", None), getattr(o, "type", None)) for o in outcomes] == [
        ("RatedCharge", "a", None),
        ("RatingExceptionEvent", "b", "no_usage_identifier_match"),
        ("RatingExceptionEvent", "a", "duplicate_record"),
    ]
    assert (summary.records, summary.rated, summary.duplicates) == (3, 1, 1)
    assert dict(summary.exceptions) == {"no_usage_identifier_match": 1, "duplicate_record": 1}


def test_repeated_invalid_record_with_a_readable_id_is_deduped(tmp_path: Path) -> None:
    """R1 + docs/events.md (fallback ids only "for input whose id cannot be read"): record "bad-1" lacks its
    quantity and arrives twice (lines 1 and 2): one exception event for "bad-1", records == 1, duplicates == 1."""
    rater = _voice_rater(tmp_path)
    bad = usage(record_id="bad-1", quantity=None)
    summary = Summary(default_currency="USD")
    outcomes = list(rate_lines(rater, iter([orjson.dumps(bad), orjson.dumps(bad)]), summary, "usage.jsonl"))
    assert [getattr(o, "record_id", None) for o in outcomes] == ["bad-1"]
    assert (summary.records, summary.duplicates) == (1, 1)


# --- R2: owner resolution ----------------------------------------------------------------------------------

REASSIGNED_CATALOG = """
owner: {id: OWNER, currency: USD}
usage_classes:
  - {id: VOICE, rater: class, unit_type: time}
rate_plans:
  - id: RP-A
    precision: 2
    rate_groups:
      - {id: A, currency: USD, rates: [{class: VOICE, amount: 0.01, per: min}]}
  - id: RP-B
    precision: 2
    rate_groups:
      - {id: B, currency: USD, rates: [{class: VOICE, amount: 0.02, per: min}]}
services:
  - {id: SVC-1}
packages:
  - {id: PKG-1, services: [SVC-1]}
"""

REASSIGNED_SUBSCRIPTIONS = """
accounts:
  - id: ACC-A
    rate_plan: RP-A
    time_zone: {zone}
    packages:
      - id: AP-A
        package: PKG-1
        effective: 2026-01-01
        services:
          - id: AS-A
            service: SVC-1
            usage_identifiers: [{{uid: "+15195550100", start: 2026-01-01, end: 2026-02-01}}]
  - id: ACC-B
    rate_plan: RP-B
    time_zone: {zone}
    packages:
      - id: AP-B
        package: PKG-1
        effective: 2026-01-01
        services:
          - id: AS-B
            service: SVC-1
            usage_identifiers: [{{uid: "+15195550100", start: 2026-02-01}}]
"""


def _reassigned(tmp_path: Path, zone: str = "UTC") -> Rater:
    return make_rater(tmp_path, REASSIGNED_CATALOG, REASSIGNED_SUBSCRIPTIONS.format(zone=zone))


@pytest.mark.parametrize(
    ("event_time", "service", "amount"),
    [
        ("2026-01-01T00:00:00Z", "AS-A", "0.01"),  # A's first day (start inclusive)
        ("2026-01-31T23:59:59Z", "AS-A", "0.01"),  # A's last day
        ("2026-02-01T00:00:00Z", "AS-B", "0.02"),  # A's end is exclusive: B from Feb 1
        ("2026-06-30T12:00:00Z", "AS-B", "0.02"),  # B is open-ended
    ],
)
def test_reassigned_uid_resolves_by_record_date(tmp_path: Path, event_time: str, service: str, amount: str) -> None:
    """R2/E25: UID +15195550100 is on AS-A from Jan 1 to Feb 1 (end exclusive), then on AS-B from Feb 1 (open).
    Jan 31 -> AS-A (RP-A, 1 min x $0.01 = $0.01); Feb 1 -> AS-B (RP-B, 1 min x $0.02 = $0.02)."""
    rater = _reassigned(tmp_path)
    owner = resolve_owner(rater.subscriptions, record(event_time=event_time))
    assert owner.service.id == service
    charged = rated(rater, event_time=event_time)
    assert (charged.account_service, charged.total_amount) == (service, Decimal(amount))


def test_uid_window_days_are_read_in_the_account_zone(tmp_path: Path) -> None:
    """R2/E25: days are read on the owning account's clock.  With both accounts in America/Toronto (UTC-5 in
    winter), 2026-02-01T03:00Z is Jan 31 22:00 in Toronto -> AS-A; 2026-02-01T05:00Z is Feb 1 00:00 -> AS-B."""
    rater = _reassigned(tmp_path, "America/Toronto")
    assert resolve_owner(rater.subscriptions, record(event_time="2026-02-01T03:00:00Z")).service.id == "AS-A"
    assert resolve_owner(rater.subscriptions, record(event_time="2026-02-01T05:00:00Z")).service.id == "AS-B"


def test_uid_before_every_window_and_unknown_uid(tmp_path: Path) -> None:
    """R2: Dec 31 2025 is before both windows -> "UDR time does not match time period of UDR Usage Identifier"
    (account of the first window, ACC-A); an unknown UID -> "No UDR Usage Identifier match" (no account)."""
    rater = _reassigned(tmp_path)
    early = rating_error(rater, event_time="2025-12-31T23:59:59Z")
    assert early.type is ExceptionType.USAGE_IDENTIFIER_TIME_MISMATCH
    assert early.message.startswith("UDR time does not match time period of UDR Usage Identifier")
    assert early.account == "ACC-A"
    unknown = rating_error(rater, usage_identifier="+10000000000")
    assert unknown.type is ExceptionType.NO_USAGE_IDENTIFIER_MATCH
    assert unknown.message.startswith("No UDR Usage Identifier match")
    assert unknown.account is None


# --- R3: quantities ----------------------------------------------------------------------------------------

VOICE = UsageClass.model_validate({"id": "VOICE", "rater": "class", "unit_type": "time"})
DATA = UsageClass.model_validate({"id": "DATA", "rater": "class", "unit_type": "data"})
SMS = UsageClass.model_validate({"id": "SMS", "rater": "class", "unit_type": "count"})


@pytest.mark.parametrize(
    ("usage_class", "quantity", "unit", "expected"),
    [
        (VOICE, "2", "min", 120_000),  # 2 x 60,000 ms
        (VOICE, "61", None, 61_000),  # no unit on a time class: seconds, 61 x 1,000 ms
        (VOICE, "61.5", "s", 61_500),
        (VOICE, "1.0005", "s", 1_001),  # 1,000.5 ms: the started ms counts -> 1,001
        (VOICE, "0.0001", "s", 1),  # 0.1 ms -> 1 ms (rounded up, not half up)
        (VOICE, "0", "s", 0),  # zero stays zero (Q20)
        (VOICE, "1", "h", 3_600_000),
        (DATA, "1.5", "KB", 1_500),  # decimal KB: 1.5 x 1,000 B
        (DATA, "1.5", "KiB", 1_536),  # 1.5 x 1,024 B
        (DATA, "1500", None, 1_500),  # no unit on a data class: bytes
        (SMS, "3", None, 3),  # no unit on a count class: events
        (SMS, "3", "message", 3),
    ],
)
def test_record_quantity_in_base_units(usage_class: UsageClass, quantity: str, unit: str | None, expected: int) -> None:
    """R3: the class fixes the unit type; the quantity becomes whole base units (ms, B, events), a started
    base unit rounded up: "2 min" = 120,000 ms; "1.5 KB" = 1,500 B; "1.0005 s" = 1,000.5 ms -> 1,001 ms."""
    assert record_quantity(record(quantity=quantity, unit=unit), usage_class) == expected


@pytest.mark.parametrize(
    ("usage_class", "unit"), [(VOICE, "GB"), (VOICE, "event"), (DATA, "s"), (SMS, "MB"), (VOICE, "parsec")]
)
def test_unit_that_does_not_fit_the_class(usage_class: UsageClass, unit: str) -> None:
    """R3: a unit of another unit type ("GB" on a time class) is an invalid record."""
    with pytest.raises(InvalidRecord, match="does not fit class"):
        record_quantity(record(unit=unit), usage_class)


def test_quantity_through_the_rater(tmp_path: Path) -> None:
    """R3 through the pipeline: "2 min" -> quantity 120,000 ms, unit "ms", unit_type "time"; 2 min x $0.06 = $0.12."""
    charged = rated(_voice_rater(tmp_path), quantity="2", unit="min")
    assert (charged.quantity, charged.unit, charged.unit_type, charged.total_amount) == (
        120_000,
        "ms",
        "time",
        Decimal("0.12"),
    )


def test_wrong_unit_and_unknown_class_are_invalid_records(tmp_path: Path) -> None:
    """R3/docs/events.md: "10 GB" of VOICE and a usage class the catalog does not have are invalid_record
    events carrying the record's own id."""
    rater = _voice_rater(tmp_path)
    record_id, wrong_unit = _exception(rater, orjson.dumps(usage(record_id="r-unit", quantity="10", unit="GB")))
    assert (record_id, wrong_unit.record_id, wrong_unit.type) == ("r-unit", "r-unit", "invalid_record")
    record_id, unknown = _exception(rater, orjson.dumps(usage(record_id="r-class", usage_class="FAX")))
    assert (record_id, unknown.type) == ("r-class", "invalid_record")
    assert "FAX" in unknown.message


# --- R4: GeoTree -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("terminating", ["+33123456789", None])
def test_unmatched_terminating_identifier_is_rate_not_found(tmp_path: Path, terminating: str | None) -> None:
    """R4/R31: an LD (GeoTree) call whose terminating identifier matches no pattern (France, +33; or no
    identifier at all) has no location, so no rate can be found -> rate_not_found, the message naming GeoTree."""
    error = rating_error(_voice_rater(tmp_path), usage_class="LD", terminating_identifier=terminating)
    assert error.type is ExceptionType.RATE_NOT_FOUND
    assert "GeoTree" in error.message
    assert error.account == "ACC-1"


def test_geotree_call_is_located_and_rated(tmp_path: Path) -> None:
    """R4/R4a/R28: +1 808 555 1234 -> HAWAII (longest prefix "1808"); the NORTH-AMERICA rate covers it:
    1 min x $0.10 = $0.10.  A Class-rated VOICE call has no location."""
    rater = _voice_rater(tmp_path)
    charged = rated(rater, usage_class="LD", terminating_identifier="+1 808-555-1234")
    assert (charged.location, charged.total_amount) == ("HAWAII", Decimal("0.10"))
    assert rated(rater, terminating_identifier="+1 808-555-1234").location is None


# --- The pipeline: bytes in, exactly one event out -----------------------------------------------------------


def test_undecodable_utf8_bytes_become_an_invalid_record_event(tmp_path: Path) -> None:
    """R31/docs/events.md: b"not json" -> invalid_record with record_id = the fallback id "usage.jsonl:3",
    event_id "usage.jsonl:3:exception", no account, original kept as UTF-8 text."""
    record_id, event = _exception(_voice_rater(tmp_path), b"not json", "usage.jsonl:3")
    assert record_id == "usage.jsonl:3"
    assert event.to_dict() == {
        "schema": "rating-exception/1",
        "event_id": "usage.jsonl:3:exception",
        "record_id": "usage.jsonl:3",
        "type": "invalid_record",
        "message": event.message,
        "account": None,
        "original": "not json",
        "original_encoding": "utf-8",
    }
    assert event.message.startswith("Invalid usage record: not valid JSON")


def test_non_utf8_bytes_are_kept_as_base64(tmp_path: Path) -> None:
    """docs/events.md: input that is not UTF-8 (b"\\xff\\xfe\\x00garbage") is kept byte for byte as base64."""
    data = b"\xff\xfe\x00garbage"
    record_id, event = _exception(_voice_rater(tmp_path), data, "rater.usage:0:42")
    body = event.to_dict()
    assert (record_id, body["type"], body["original_encoding"]) == ("rater.usage:0:42", "invalid_record", "base64")
    assert base64.b64decode(body["original"]) == data


def test_invalid_record_with_a_readable_id_keeps_its_id(tmp_path: Path) -> None:
    """docs/events.md + rate_batch docstring (the fallback id names a record whose id cannot be read):
    {"record_id": "r-9", "usage_identifier": ...} lacks class, quantity and time -> invalid_record for "r-9"."""
    data = orjson.dumps({"record_id": "r-9", "usage_identifier": UID})
    record_id, event = _exception(_voice_rater(tmp_path), data, "usage.jsonl:1")
    assert (record_id, event.record_id, event.type) == ("r-9", "r-9", "invalid_record")


@pytest.mark.parametrize("error", [ValueError("boom"), KeyError("boom"), ZeroDivisionError("boom")])
def test_unexpected_error_becomes_software_system_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """R31 "Software System Error", style habit 6: an unexpected exception inside rater.prepare.prepare is never
    raised; it becomes a software_system_error event for the record's own id, with the original kept for
    reprocessing."""

    def explode(rater: Rater, record: UsageRecord, *args: object) -> RatedCharge:
        raise error

    rater = _voice_rater(tmp_path)
    monkeypatch.setattr(batch, "prepare", explode)
    data = orjson.dumps(usage(record_id="r-boom"))
    record_id, event = _exception(rater, data)
    assert (record_id, event.type, event.account) == ("r-boom", "software_system_error", None)
    assert event.message.startswith(f"Software System Error: {type(error).__name__}")
    assert event.original == data


def test_rating_error_event_names_the_record_and_account(tmp_path: Path) -> None:
    """R2/R31: a UID outside its window -> usage_identifier_time_mismatch for the record's own id and the
    owning account, event_id "<record_id>:exception", original as UTF-8 text."""
    rater = _voice_rater(tmp_path, account(uid_end=dt.date(2026, 2, 1)))
    data = orjson.dumps(usage(record_id="late"))
    _, event = _exception(rater, data)
    body = event.to_dict()
    assert (body["schema"], body["event_id"], body["record_id"]) == ("rating-exception/1", "late:exception", "late")
    assert (body["type"], body["account"], body["original_encoding"]) == (
        "usage_identifier_time_mismatch",
        "ACC-1",
        "utf-8",
    )
    assert orjson.loads(body["original"]) == orjson.loads(data)


# --- the rated-charge event --------------------------------------------------------------------------------


def test_rated_charge_event_has_the_documented_fields(tmp_path: Path) -> None:
    """docs/events.md rated-charge/1, R29, R30, R65.  ACC-CHILD (plan RP-1: VOICE $0.06/min, rule M 60 s /
    I 6 s, precision 3) has usage invoicer ACC-INV.  61 s at 06:00-05:00 -> 61,000 ms -> billable 66,000 ms ->
    1.1 min x 0.06 = 0.066; event time 11:00Z; the line is billed to the usage invoicer ACC-INV."""
    catalog = catalog_doc(
        [group("STANDARD", rate("VOICE", "0.06", rounding_rule="MIN60-INC6"))],
        precision=3,
        rounding_rules=[{"id": "MIN60-INC6", "unit_type": "time", "unit": "s", "minimum": 60, "increment": 6}],
    )
    subscriptions = subscriptions_doc(account("ACC-CHILD", usage_invoicer="ACC-INV"), {"id": "ACC-INV"})
    rater = make_rater(tmp_path, catalog, subscriptions)
    data = orjson.dumps(usage(record_id="e7-61s", quantity="61", event_time="2026-03-02T06:00:00-05:00"))
    record_id, outcome = rate_one(rater, data, "usage.jsonl:1")
    assert record_id == "e7-61s"
    assert isinstance(outcome, RatedCharge)
    expected = {
        "schema": "rated-charge/1",
        "event_id": "e7-61s:rated",
        "record_id": "e7-61s",
        "usage_identifier": UID,
        "account": "ACC-CHILD",
        "account_service": "AS-1",
        "service": "SVC-1",
        "account_package": "AP-1",
        "package": "PKG-1",
        "usage_invoicer": "ACC-INV",
        "usage_class": "VOICE",
        "unit_type": "time",
        "unit": "ms",
        "quantity": 61_000,
        "billable_quantity": 66_000,
        "event_time": "2026-03-02T11:00:00Z",
        "location": None,
        "draws": [],
        "charges": [
            {
                "type": "rate_plan",
                "quantity": 66_000,
                "amount": "0.066",
                "billed_to": "ACC-INV",
                "rate_plan": "RP-1",
                "rate_plan_level": "account",
                "rate_plan_attached_to": "ACC-CHILD",
                "rate_group": "STANDARD",
                "rate": "STANDARD#1",
                "rate_amount": "0.06",
                "rate_per": "min",
                "rounding_rule": "MIN60-INC6",
                "bucket_instance": None,
                "tier": None,
                "repeat": None,
            }
        ],
        "total_amount": "0.066",
        "money_drawn": "0.00",
        "billed_amount": "0.066",
        "currency": "USD",
        "crossings": [],
        "notifications": [],
    }
    assert outcome.to_dict() == expected
    assert orjson.loads(dumps(outcome)) == expected


def test_account_without_usage_invoicer_is_billed_itself(tmp_path: Path) -> None:
    """R65/docs/events.md: with no usage invoicer set, usage_invoicer and billed_to are the account itself;
    total_amount is padded to USD's 2 digits (1 min x $0.06 = "0.06")."""
    body = rated(_voice_rater(tmp_path)).to_dict()
    assert (body["usage_invoicer"], body["charges"][0]["billed_to"], body["total_amount"]) == ("ACC-1", "ACC-1", "0.06")


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    """docs/events.md: nothing in an event depends on the wall clock; rating the same bytes twice gives
    byte-identical events (rated charge and exception alike)."""
    rater = _voice_rater(tmp_path)
    for data in (orjson.dumps(usage()), b"not json"):
        first = dumps(rate_one(rater, data, "x:1")[1])
        assert dumps(rate_one(rater, data, "x:1")[1]) == first


def test_rating_error_is_permanent() -> None:
    """errors.py: a RatingError is permanent (not retriable) and its message starts with the LogiSense title."""
    error = RatingError(ExceptionType.RATE_NOT_FOUND, "detail")
    assert error.retriable is False
    assert error.message == "Usage Rate matching UDR not found: detail"


def test_uid_owns_nothing_after_its_account_service_is_cancelled(tmp_path: Path) -> None:
    """R2/§1.3: AS-B's UID window is open-ended, but AS-B is cancelled from Mar 1 (exclusive): a record on
    Feb 28 is rated on AS-B ($0.02), one on Mar 1 gets "UDR time does not match time period of UDR Usage
    Identifier" rather than being charged to a cancelled service."""
    subscriptions = REASSIGNED_SUBSCRIPTIONS.format(zone="UTC").replace(
        "          - id: AS-B\n", "          - id: AS-B\n            cancel: 2026-03-01\n"
    )
    rater = make_rater(tmp_path, REASSIGNED_CATALOG, subscriptions)
    assert rated(rater, event_time="2026-02-28T23:59:59Z").total_amount == Decimal("0.02")
    late = rating_error(rater, event_time="2026-03-01T00:00:00Z")
    assert (late.type, late.account) == (ExceptionType.USAGE_IDENTIFIER_TIME_MISMATCH, "ACC-B")
