"""Builders for the rating-core unit tests (units, pricing, engine).

Catalogs and subscriptions are written as YAML text into a temporary folder and loaded exactly the way
``rater rate DIR`` loads them (:func:`rater.offline.load_folder`), so every test goes through the real
validation.  Documents may be given as YAML text or as dicts (dumped with ``yaml.safe_dump``); amounts in
dicts are strings so that no float is ever written.

The default catalog has one GeoTree used by the GeoTree tests::

    EVERYWHERE
      NORTH-AMERICA   pattern "1"
        USA
          HAWAII      pattern "1808"
        CANADA
      EUROPE
        UK            pattern "44"
    location group ISLANDS = {HAWAII, UK}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from rater.batch import rate_batch
from rater.catalog import Catalog
from rater.errors import ExceptionType, RatingError
from rater.events import ChargeLine, Outcome, RatedCharge, RatingExceptionEvent
from rater.memory_store import MemoryStore
from rater.offline import load_folder
from rater.rating import Rater
from rater.record import UsageRecord, from_mapping
from rater.state import Counter, DrawRequest, DrawResult
from rater.subscriptions import Subscriptions

Doc = dict[str, Any]

#: The usage identifier of :func:`account`'s only account-service.
UID = "+15195550100"
#: Monday 2 March 2026, 10:00 UTC: the default record time.
WHEN = "2026-03-02T10:00:00Z"

GEOTREE: Doc = {
    "nodes": [
        {
            "id": "EVERYWHERE",
            "children": [
                {
                    "id": "NORTH-AMERICA",
                    "patterns": ["1"],
                    "children": [
                        {"id": "USA", "children": [{"id": "HAWAII", "patterns": ["1808"]}]},
                        {"id": "CANADA"},
                    ],
                },
                {"id": "EUROPE", "children": [{"id": "UK", "patterns": ["44"]}]},
            ],
        }
    ],
    "location_groups": [{"id": "ISLANDS", "locations": ["HAWAII", "UK"]}],
}

USAGE_CLASSES: list[Doc] = [
    {"id": "VOICE", "rater": "class", "unit_type": "time"},
    {"id": "SMS", "rater": "class", "unit_type": "count"},
    {"id": "DATA", "rater": "class", "unit_type": "data"},
    {"id": "LD", "rater": "geotree", "unit_type": "time"},
]


def _text(document: str | Doc) -> str:
    return document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)


def write_folder(folder: Path, catalog: str | Doc, subscriptions: str | Doc, usage: Sequence[Doc | bytes] = ()) -> Path:
    """Write ``catalog.yaml``, ``subscriptions.yaml`` and (when given) ``usage.jsonl`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(_text(catalog), encoding="utf-8")
    (folder / "subscriptions.yaml").write_text(_text(subscriptions), encoding="utf-8")
    if usage:
        lines = [line if isinstance(line, bytes) else orjson.dumps(line) for line in usage]
        (folder / "usage.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return folder


def load(folder: Path, catalog: str | Doc, subscriptions: str | Doc) -> tuple[Catalog, Subscriptions]:
    """Write both documents and load them as a rating folder (raises ``ValidationFailed`` on errors)."""
    write_folder(folder, catalog, subscriptions)
    return load_folder(folder)


def make_rater(folder: Path, catalog: str | Doc, subscriptions: str | Doc) -> Rater:
    return Rater(*load(folder, catalog, subscriptions))


def catalog_doc(
    rate_groups: list[Doc],
    *,
    precision: int = 2,
    settings: Doc | None = None,
    time_periods: list[Doc] | None = None,
    rounding_rules: list[Doc] | None = None,
) -> Doc:
    """A catalog whose one rate plan ``RP-1`` has ``rate_groups``; service ``SVC-1`` in package ``PKG-1``."""
    doc: Doc = {
        "settings": settings or {"time_zone": "UTC"},
        "owner": {"id": "OWNER", "currency": "USD"},
        "geotree": GEOTREE,
        "usage_classes": USAGE_CLASSES,
        "rate_plans": [{"id": "RP-1", "precision": precision, "rate_groups": rate_groups}],
        "services": [{"id": "SVC-1"}],
        "packages": [{"id": "PKG-1", "services": ["SVC-1"]}],
    }
    if time_periods:
        doc["time_periods"] = time_periods
    if rounding_rules:
        doc["rounding_rules"] = rounding_rules
    return doc


def group(group_id: str, *rates: Doc, currency: str = "USD", **fields: Any) -> Doc:
    """A rate group with ``rates`` (extra fields: ``start``, ``retired``, ``time_period``)."""
    return {"id": group_id, "currency": currency, **fields, "rates": list(rates)}


def rate(usage_class: str, amount: str, per: str = "min", **fields: Any) -> Doc:
    """A rate: ``amount`` per ``per`` unit (extra fields: ``id``, ``location``, ``location_group``, ...)."""
    return {"class": usage_class, "amount": amount, "per": per, **fields}


def account(
    account_id: str = "ACC-1",
    *,
    rate_plan: str | None = "RP-1",
    currency: str = "USD",
    uid: str = UID,
    uid_start: dt.date = dt.date(2026, 1, 1),
    uid_end: dt.date | None = None,
    service_id: str = "AS-1",
    **fields: Any,
) -> Doc:
    """An account with one account-package ``AP-<n>`` of ``PKG-1`` holding account-service ``service_id``."""
    suffix = service_id.removeprefix("AS-")
    identifier: Doc = {"uid": uid, "start": uid_start}
    if uid_end is not None:
        identifier["end"] = uid_end
    doc: Doc = {"id": account_id, "currency": currency, **fields}
    if rate_plan is not None:
        doc["rate_plan"] = rate_plan
    doc["packages"] = [
        {
            "id": f"AP-{suffix}",
            "package": "PKG-1",
            "effective": dt.date(2026, 1, 1),
            "services": [{"id": service_id, "service": "SVC-1", "usage_identifiers": [identifier]}],
        }
    ]
    return doc


def subscriptions_doc(*accounts: Doc) -> Doc:
    return {"accounts": list(accounts or (account(),))}


_RECORD_IDS = itertools.count(1)


def usage(**fields: Any) -> Doc:
    """A usage record mapping: 60 s of VOICE on :data:`UID` at :data:`WHEN`, with ``fields`` overriding.

    Each call gets a fresh ``record_id`` (``r-1``, ``r-2``, ...) unless one is given: record ids are unique
    by definition (R1), and the state store replays a repeated id's first draw."""
    body: Doc = {
        "record_id": f"r-{next(_RECORD_IDS)}",
        "usage_identifier": UID,
        "usage_class": "VOICE",
        "quantity": "60",
        "unit": "s",
        "event_time": WHEN,
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def record(**fields: Any) -> UsageRecord:
    """:func:`usage` decoded into a :class:`UsageRecord`."""
    return from_mapping(usage(**fields))


#: The in-memory store each rater of a test draws from (one per rater, as ``rater rate`` keeps one per run).
_STORES: weakref.WeakKeyDictionary[Rater, MemoryStore] = weakref.WeakKeyDictionary()


def store_of(rater: Rater) -> MemoryStore:
    """The in-memory store :func:`rate_one` rates ``rater``'s records against."""
    store = _STORES.get(rater)
    if store is None:
        store = _STORES[rater] = MemoryStore()
    return store


def rate_one(rater: Rater, data: bytes | Doc | UsageRecord, fallback: str = "test:1") -> tuple[str, Outcome]:
    """Rate one record through the one rating pipeline (:func:`rater.batch.rate_batch`) on the rater's
    in-memory store: ``(record id, outcome)``."""
    if isinstance(data, UsageRecord):
        data = orjson.dumps(data.raw)  # the record's own JSON object
    elif isinstance(data, dict):
        data = orjson.dumps(data)
    return asyncio.run(rate_batch(rater, store_of(rater), [(data, fallback)]))[0]


def charge_of(rater: Rater, record: UsageRecord | Doc) -> RatedCharge:
    """The rated charge of one record (fails the test when the record becomes a rating exception)."""
    _, result = rate_one(rater, record)
    assert isinstance(result, RatedCharge), result
    return result


def rated(rater: Rater, **fields: Any) -> RatedCharge:
    return charge_of(rater, usage(**fields))


def line(rater: Rater, **fields: Any) -> ChargeLine:
    """The single charge line of a rated record."""
    charge = rated(rater, **fields)
    assert len(charge.charges) == 1
    return charge.charges[0]


def rating_error(rater: Rater, **fields: Any) -> RatingError:
    """The rating error the pipeline reports for the record (its rating exception event, read back)."""
    _, result = rate_one(rater, usage(**fields))
    assert isinstance(result, RatingExceptionEvent), result
    return RatingError(ExceptionType(result.type), result.message, account=result.account)


class Twin(MemoryStore):
    """The in-memory store called one request at a time, as these tests read best."""

    def draw(self, record_key: str, quantity: int, counters: list[Counter], whole: bool = False) -> DrawResult:
        request = DrawRequest(record_key, quantity, tuple(counters), whole)
        return asyncio.run(self.draw_many([request]))[0]

    def fields(self, key: str) -> dict[str, int]:  # type: ignore[override]
        return asyncio.run(super().fields(key))

    def mark(self, key: str, field: str, value: int) -> bool:  # type: ignore[override]
        return asyncio.run(super().mark(key, field, value))

    def adjust(  # type: ignore[override]
        self,
        operation_key: str,
        key: str,
        field: str,
        expected: int,
        value: int,
        payload: bytes,
        also: tuple[str, int] | None = None,
    ) -> bytes | None:
        return asyncio.run(super().adjust(operation_key, key, field, expected, value, payload, also))
