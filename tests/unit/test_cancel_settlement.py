"""The stream's cancellation settlement (:func:`rater.cancellation.settle_cancellation`) against the in-memory
twin of the kernel: ``rater rate`` settles a cancel control line through it and writes the same adjustments
(R41, E13), and a repeated operation gets the first settlement back, byte for byte."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from rater.batch import rate_batch
from rater.cancellation import settle_cancellation
from rater.catalog import catalog_document
from rater.events import RatedAdjustment, RatedCharge, dumps
from rater.memory_store import MemoryStore
from rater.offline import load_folder, rate_folder
from rater.provisioning import Config, apply, cancelled_services, compile_config, parse_operation
from rater.rating import Rater
from rater.subscriptions import cancel_account_service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GB = 1_000_000_000
CUT = dt.date(2026, 9, 11)


def settle(name: str) -> tuple[list[bytes], list[bytes], MemoryStore, Rater]:
    """(the stream's events, a repeat's events, the store, the rater) after the records before the cancel."""
    folder = EXAMPLES / name
    catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    store = MemoryStore()
    lines = (folder / "usage.jsonl").read_bytes().splitlines()
    cut = next(i for i, line in enumerate(lines) if b'"control"' in line)
    control = orjson.loads(lines[cut])
    day = dt.date.fromisoformat(control["cancel"])

    async def run() -> tuple[list[bytes], list[bytes]]:
        await rate_batch(rater, store, [(line, str(n)) for n, line in enumerate(lines[:cut])])
        first = await settle_cancellation(rater, store, control["account_service"], day, control["id"])
        again = await settle_cancellation(rater, store, control["account_service"], day, control["id"])
        return [done.event for done in first], [done.event for done in again]

    first, again = asyncio.run(run())
    return first, again, store, rater


@pytest.mark.parametrize(
    ("name", "total", "consumed", "kept"),
    [
        ("E13-proration-on-cancel", "8.00", 12 * GB, 12 * GB),
        ("E13-proration-on-cancel-21-gb", "9.00", 21 * GB, 20 * GB),
    ],
)
def test_the_stream_settles_as_offline_rating_does(name: str, total: str, consumed: int, kept: int) -> None:
    """E13: T1 30 GB cut to 30 x 10/30 = 10 GB from Sept 11.  12 GB consumed -> 2 GB into T2, flat 8.00,
    all 12 GB kept; 21 GB -> T2 10-20 GB (8.00) + 1 GB overage at 1.00 = 9.00, 20 GB kept.  The events
    equal the offline adjustments; a repeat returns them unchanged though the counter now holds ``kept``
    (re-pricing it would give 8.00 and no overage for the 21 GB case)."""
    first, again, store, rater = settle(name)
    offline, _ = rate_folder(EXAMPLES / name)
    assert first == [dumps(event) for event in offline if isinstance(event, RatedAdjustment)]
    assert again == first
    (event,) = [orjson.loads(body) for body in first]
    assert (event["total_amount"], event["consumed"], event["kept"]) == (total, consumed, kept)
    (counter,) = [fields for fields in store.hashes.values() if any(f.startswith("c:") for f in fields)]
    assert [value for field, value in counter.items() if field.startswith("c:")] == [kept]
    assert rater.subscriptions.services[event["account_service"]].cancel is None  # the provisioner's change


def test_a_service_without_a_prorated_bucket_settles_nothing() -> None:
    """E1's phone has a bucket without Prorate: cancelling it moves nothing and publishes nothing."""
    catalog, subscriptions = load_folder(EXAMPLES / "E01-tier-boundary-250-messages")
    rater = Rater(catalog, subscriptions)
    service = next(iter(subscriptions.services))
    events = asyncio.run(settle_cancellation(rater, MemoryStore(), service, dt.date(2026, 3, 15), "op"))
    assert events == []


def _e13_config() -> Config:
    _, subscriptions = load_folder(EXAMPLES / "E13-proration-on-cancel")
    return compile_config(catalog_document(EXAMPLES / "E13-proration-on-cancel"), subscriptions.accounts)


AS12_FROM_SEPT_11 = [("AS-12", "2026-09-11")]


@pytest.mark.parametrize(
    ("operation", "cut"),
    [
        (
            {"op": "cancel_account_service", "account_service": "AS-12", "cancel": "2026-09-11"},
            [("AS-12", "2026-09-11")],
        ),
        (
            {"op": "cancel_account_package", "account_package": "AP-12", "cancel": "2026-09-11"},
            [("AS-12", "2026-09-11")],
        ),
        ({"op": "cancel_account", "account": "ACC-12", "cancel": "2026-09-11"}, AS12_FROM_SEPT_11),
        ({"op": "update_account", "account": "ACC-12", "set": {"name": "renamed"}}, []),
    ],
)
def test_the_services_an_operation_cancels(operation: dict[str, str], cut: list[tuple[str, str]]) -> None:
    """A service is cut by its own cancellation, its package's or its account's (§1.3); other changes cut none."""
    before = _e13_config()
    after = apply(parse_operation(operation), before)
    assert [(service, day.isoformat()) for service, day in cancelled_services(before, after)] == cut
    assert cancelled_services(after, after) == []  # once cancelled, the same date again is no new cut


def test_a_late_record_after_the_settlement_does_not_enter_tier_2_again() -> None:
    """R41 + R17: E13's settlement bills T2's flat 8.00 (12 GB under the cut T1 of 10 GB) and records that
    the period entered T2 (e:<period> = 2, with c: = 12 GB).  A late record of Sept 9 (1 GB), rated under
    the cancelled configuration, draws 12 -> 13 GB inside T2: no flat charge again, no crossing; it costs
    0.00 (T2 has no rate plan)."""
    (adjustment,), _, store, rater = settle("E13-proration-on-cancel")
    assert orjson.loads(adjustment)["total_amount"] == "8.00"
    (counter,) = [fields for fields in store.hashes.values() if any(f.startswith("c:") for f in fields)]
    assert sorted((f, v) for f, v in counter.items() if f[:2] in ("c:", "e:")) == [("c:1", 12 * GB), ("e:1", 2)]
    after = Rater(rater.catalog, cancel_account_service(rater.subscriptions, rater.catalog, "AS-12", CUT))
    late = {
        "record_id": "e13-late",
        "usage_identifier": "+15195551200",
        "usage_class": "DATA",
        "quantity": "1",
        "unit": "GB",
        "event_time": "2026-09-09T10:00:00Z",
    }
    ((_, event),) = asyncio.run(rate_batch(after, store, [(orjson.dumps(late), "late:1")]))
    assert isinstance(event, RatedCharge)
    (draw,) = event.draws
    assert (draw.before, draw.after, draw.allowance) == (12 * GB, 13 * GB, 20 * GB)
    assert (event.charges, event.crossings, event.total_amount) == ((), (), Decimal("0.00"))
