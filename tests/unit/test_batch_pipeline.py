"""The one rating pipeline (rater.batch.rate_batch) over the in-memory twin of the kernel: exactly one outcome
per record whatever the record holds (R1, R31, architecture property 4), and record ids claimed across
sharing roots."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from rater import batch
from rater.activation import activation_marks
from rater.batch import fingerprint, rate_batch
from rater.errors import DrawRefused
from rater.events import Outcome, RatedCharge, RatingExceptionEvent
from rater.memory_store import MemoryStore
from rater.prepare import prepare
from rater.price import finish
from rater.rating import Rater
from tests.unit._builders import (
    account,
    catalog_doc,
    group,
    make_rater,
    rate,
    subscriptions_doc,
    usage,
    write_folder,
)


def _rater(tmp_path: Path) -> Rater:
    """Two accounts, each its own sharing root: ACC-1 (UID +15195550100) and ACC-2 (UID +15195550200);
    VOICE at $0.06/min, SMS at $0.01/event, plan precision 2."""
    catalog = catalog_doc([group("STANDARD", rate("VOICE", "0.06"), rate("SMS", "0.01", "event"))])
    return make_rater(
        tmp_path,
        catalog,
        subscriptions_doc(account("ACC-1"), account("ACC-2", uid="+15195550200", service_id="AS-2")),
    )


def _rate(rater: Rater, store: MemoryStore, *bodies: dict[str, Any] | bytes) -> list[tuple[str, Outcome]]:
    items = [(body if isinstance(body, bytes) else orjson.dumps(body), f"usage:0:{n}") for n, body in enumerate(bodies)]
    return asyncio.run(rate_batch(rater, store, items))


def test_the_largest_exact_quantity_is_rated_and_one_more_second_is_not(tmp_path: Path) -> None:
    """Quantities must stay below 2^53 - 1 = 9,007,199,254,740,991 base units (ms for VOICE).
    9,007,199,254,740 s = 9,007,199,254,740,000 ms is below: 150,119,987,579 min x $0.06 = $9,007,199,254.74.
    One second more, 9,007,199,254,741,000 ms, is not: an invalid_record exception, and nothing is drawn."""
    rater = _rater(tmp_path)
    store = MemoryStore()
    (_, fits), (_, over) = _rate(
        rater,
        store,
        usage(record_id="fits", quantity="9007199254740"),
        usage(record_id="over", quantity="9007199254741"),
    )
    assert isinstance(fits, RatedCharge)
    assert (fits.quantity, fits.total_amount) == (9_007_199_254_740_000, Decimal("9007199254.74"))
    assert isinstance(over, RatingExceptionEvent)
    assert (over.record_id, over.type) == ("over", "invalid_record")
    assert "2^53" in over.message
    assert not any("over" in key for key in store.results)


def test_an_unexpected_error_rating_one_record_is_that_records_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: an error nobody planned for, in preparing one record or in pricing another,
    becomes that record's software_system_error; the records around them are rated ($0.06 each: 60 s at
    $0.06/min), and the record that failed in preparation drew nothing."""
    rater = _rater(tmp_path)

    def failing_prepare(rater: Rater, record: Any, *args: Any) -> Any:
        if record.record_id == "boom-prepare":
            raise ZeroDivisionError("in preparation")
        return prepare(rater, record, *args)

    def failing_finish(rater: Rater, prepared: Any, result: Any) -> Any:
        if prepared.record.record_id == "boom-price":
            raise OverflowError("in pricing")
        return finish(rater, prepared, result)

    monkeypatch.setattr(batch, "prepare", failing_prepare)
    monkeypatch.setattr(batch, "finish", failing_finish)
    store = MemoryStore()
    out = _rate(
        rater,
        store,
        usage(record_id="a"),
        usage(record_id="boom-prepare"),
        usage(record_id="b"),
        usage(record_id="boom-price"),
        usage(record_id="c"),
    )
    assert [(record_id, type(o).__name__, getattr(o, "type", None)) for record_id, o in out] == [
        ("a", "RatedCharge", None),
        ("boom-prepare", "RatingExceptionEvent", "software_system_error"),
        ("b", "RatedCharge", None),
        ("boom-price", "RatingExceptionEvent", "software_system_error"),
        ("c", "RatedCharge", None),
    ]
    assert [o.total_amount for _, o in out if isinstance(o, RatedCharge)] == [Decimal("0.06")] * 3
    assert "ZeroDivisionError: in preparation" in out[1][1].to_dict()["message"]
    # The one that failed while priced had drawn: its event says so (its stored draw is replayed on
    # reprocessing); the one that failed in preparation drew nothing and says nothing.
    assert (out[3][1].to_dict().get("drew"), "drew" in out[1][1].to_dict()) == (True, False)
    assert not any("boom-prepare" in key for key in store.results)


def test_a_record_id_reused_on_another_account_is_a_duplicate_record(tmp_path: Path) -> None:
    """R1 across sharing roots: "x" is rated on ACC-1 (60 s, $0.06); "x" again on ACC-2 (another root, so the
    kernel's own dedupe would not see it) is a duplicate_record exception with its own event id, ACC-2 draws
    nothing; the exact resend of ACC-1's "x" gets the first outcome again, byte for byte."""
    rater = _rater(tmp_path)
    store = MemoryStore()
    first = usage(record_id="x")
    (_, rated), (_, duplicate), (_, again) = _rate(
        rater, store, first, usage(record_id="x", usage_identifier="+15195550200"), first
    )
    assert isinstance(rated, RatedCharge)
    assert (rated.account, rated.total_amount) == ("ACC-1", Decimal("0.06"))
    assert isinstance(duplicate, RatingExceptionEvent)
    assert duplicate.type == "duplicate_record"
    body = duplicate.to_dict()
    assert body["event_id"] != rated.to_dict()["event_id"]
    assert body["event_id"].startswith("x:duplicate:")
    assert orjson.dumps(again.to_dict()) == orjson.dumps(rated.to_dict())
    assert [key for key in store.results if "x" in key] == ["rater:{ACC-1}:record:x"]


def test_the_same_record_id_with_other_content_in_one_batch(tmp_path: Path) -> None:
    """Two records "y" in one batch, 60 s then 120 s on the same phone: the first is rated ($0.06), the second
    is a duplicate_record (it would otherwise have replayed the first's draw under a different body)."""
    rater = _rater(tmp_path)
    (_, one), (_, two) = _rate(rater, MemoryStore(), usage(record_id="y"), usage(record_id="y", quantity="120"))
    assert isinstance(one, RatedCharge)
    assert one.total_amount == Decimal("0.06")
    assert isinstance(two, RatingExceptionEvent)
    assert two.type == "duplicate_record"


def test_the_fingerprint_ignores_what_does_not_change_the_outcome(tmp_path: Path) -> None:
    """An exact resend may carry a new produced_at, unknown fields, or the same instant at another offset:
    same fingerprint.  Another quantity, class, phone, time or destination: another fingerprint."""
    rater = _rater(tmp_path)
    from rater.record import from_mapping

    def print_of(**fields: Any) -> str:
        return fingerprint(
            prepare(rater, from_mapping(usage(record_id="f", **fields)), activation_marks(rater.resolver.index))
        )

    base = print_of()
    assert print_of(produced_at=123, extra={"a": 1}) == base
    assert print_of(event_time="2026-03-02T05:00:00-05:00") == base  # the same instant as 10:00Z
    assert print_of(quantity="60.0") == base  # the same base units
    for changed in (
        {"quantity": "61"},
        {"event_time": "2026-03-02T10:00:01Z"},
        {"usage_identifier": "+15195550200"},
        {"usage_class": "SMS", "quantity": "1", "unit": "event"},
        {"terminating_identifier": "+18085551234"},
    ):
        assert print_of(**changed) != base, changed


class _Refusing(MemoryStore):
    """The twin, refusing the draw of one record key as the kernel refuses one it cannot count exactly."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def _draw_one(self, record_key: str, quantity: int, counters: Any, whole: bool) -> Any:
        if record_key.endswith(f":record:{self.refused}"):
            raise DrawRefused(0, "the kernel refused it")
        return super()._draw_one(record_key, quantity, counters, whole)


def test_a_draw_the_store_refuses_is_that_records_exception(tmp_path: Path) -> None:
    """A refused draw writes nothing for its record, which becomes software_system_error; the records before
    it keep their draws (asked again, they replay) and the ones after it are drawn: $0.06 each."""
    rater = _rater(tmp_path)
    inner = _Refusing("no")
    out = _rate(rater, inner, usage(record_id="a"), usage(record_id="no"), usage(record_id="b"))
    assert [(record_id, getattr(o, "type", "rated")) for record_id, o in out] == [
        ("a", "rated"),
        ("no", "software_system_error"),
        ("b", "rated"),
    ]
    assert [o.total_amount for _, o in out if isinstance(o, RatedCharge)] == [Decimal("0.06")] * 2
    assert sorted(inner.results) == ["rater:{ACC-1}:record:a", "rater:{ACC-1}:record:b"]


def test_offline_rating_turns_every_line_into_one_outcome_and_exits_zero(tmp_path: Path) -> None:
    """``rater rate`` never exits non-zero because of a line's content.  Seven lines: a good record (60 s,
    $0.06), a tick outside the calendar, a tick without an offset, an unknown control kind, a cancel of an
    unknown account-service, a usage record that carries a field named "control" (a usage record: rated,
    $0.06), and a record whose quantity is 1e999999999.  The four bad control lines and the bad record are
    invalid_record exceptions (the control lines under their place in the file, usage.jsonl:N); the exit
    code is 0 and the summary counts 7 records, 2 rated, 5 exceptions, total $0.12."""
    from rater.cli import main

    catalog = catalog_doc([group("STANDARD", rate("VOICE", "0.06"))])
    lines: list[dict[str, Any] | bytes] = [
        usage(record_id="good"),
        b'{"control": "tick", "time": "9999-12-31T23:00:00-05:00"}',
        b'{"control": "tick", "time": "2026-03-02T10:00:00"}',
        b'{"control": "reboot"}',
        b'{"control": "cancel", "account_service": "NOPE", "cancel": "2026-03-10"}',
        usage(record_id="with-control-field", control="ignored"),
        usage(record_id="huge", quantity="1e999999999"),
    ]
    folder = write_folder(tmp_path / "f", catalog, subscriptions_doc(), lines)
    out = tmp_path / "out.jsonl"
    assert main(["rate", str(folder), "--summary", "-o", str(out)]) == 0
    *events, summary = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [(e["record_id"], e.get("type", "rated")) for e in events] == [
        ("good", "rated"),
        ("usage.jsonl:2", "invalid_record"),
        ("usage.jsonl:3", "invalid_record"),
        ("usage.jsonl:4", "invalid_record"),
        ("usage.jsonl:5", "invalid_record"),
        ("with-control-field", "rated"),
        ("huge", "invalid_record"),
    ]
    assert (summary["records"], summary["rated"], summary["total_amount"]) == (7, 2, "0.12")
    assert summary["exceptions"] == {"invalid_record": 5}


E04_NO_PLAN = Path(__file__).resolve().parents[2] / "examples" / "E04-overflow-no-rate-plan"


def test_a_record_without_a_rate_draws_whole_or_not_at_all() -> None:
    """Q6 with E4's catalog (a free 10 GB bucket, no rate plan anywhere): 4 GB fits the bucket, so the
    missing rate prices nothing and the record is rated at $0 (0 -> 4 GB).  12.5 GB would overflow by
    6.5 GB with nothing to price it: rate_plan_not_defined, and the record writes nothing (the bucket stays
    at 4 GB, no stored draw, no claim).  A 6 GB record then still fits exactly (4 -> 10 GB), $0."""
    from rater.offline import load_folder

    catalog, subscriptions = load_folder(E04_NO_PLAN)
    rater = Rater(catalog, subscriptions)
    store = inner = MemoryStore()

    def data(record_id: str, gb: str) -> dict[str, Any]:
        return usage(
            record_id=record_id, usage_identifier="+15195550404", usage_class="DATA", quantity=gb, unit="GB",
            event_time="2026-03-15T12:00:00Z",
        )  # fmt: skip

    out = _rate(rater, store, data("fits", "4"), data("over", "12.5"), data("rest", "6"))
    assert [(record_id, getattr(o, "type", "rated")) for record_id, o in out] == [
        ("fits", "rated"),
        ("over", "rate_plan_not_defined"),
        ("rest", "rated"),
    ]
    fits, rest = out[0][1], out[2][1]
    assert isinstance(fits, RatedCharge)
    assert isinstance(rest, RatedCharge)
    assert (fits.total_amount, fits.draws[0].before, fits.draws[0].after) == (Decimal(0), 0, 4 * 10**9)
    assert (rest.draws[0].before, rest.draws[0].after) == (4 * 10**9, 10 * 10**9)
    assert not any(key.endswith(":record:over") for key in inner.results)
    assert "over" not in inner.claims
    assert sorted(inner.claims) == ["fits", "rest"]


E03 = Path(__file__).resolve().parents[2] / "examples" / "E03-last-tier-repeats-1700-mb"


def test_a_record_may_reach_at_most_500_occurrences_of_a_repeating_tier() -> None:
    """R19a with E3's bucket (T1 500 MB free, T2 500 MB at $5.00, T2 repeats): 250,000 MB reaches 500
    occurrences (250,000 / 500: T1, T2 and 498 repeats), the most one record may (MAX_TIER_OCCURRENCES): 499
    flat charges of $5.00 = $2,495.00, in a rated charge under the default RATER_MAX_EVENT_BYTES.  250,500 MB
    could reach 501: an invalid_record before any draw, whatever the counter holds."""
    from rater.offline import load_folder

    catalog, subscriptions = load_folder(E03)
    inner = MemoryStore()

    def data(record_id: str, mb: str) -> dict[str, Any]:
        return usage(
            record_id=record_id, usage_identifier="+15195550301", usage_class="DATA", quantity=mb, unit="MB",
            event_time="2026-03-10T09:00:00Z",
        )  # fmt: skip

    (_, most), (_, over) = _rate(Rater(catalog, subscriptions), inner, data("most", "250000"), data("over", "250500"))
    assert isinstance(most, RatedCharge)
    assert most.total_amount == Decimal("2495.00")
    assert len([line for line in most.charges if line.type == "flat_charge"]) == 499
    assert len(orjson.dumps(most.to_dict())) < 512 * 1024  # under RATER_MAX_EVENT_BYTES
    assert isinstance(over, RatingExceptionEvent)
    assert (over.type, "more than 500" in over.message) == ("invalid_record", True)
    assert not any(key.endswith(":record:over") for key in inner.results)
