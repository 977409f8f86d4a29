"""The demo's operator and usage: subscriptions on the example catalog and a realistic usage stream.

Everything is a pure function of a seed (``random.Random(seed)``, no clock): the same seed and record count
give the same bytes.

**Subscriptions** (:func:`build_scenario`), on the example catalog in ``config/catalog/``, about 280 usage
identifiers (a few hundred account-services with the selling, add-on and activation services):

* 36 families (``DEMO-FAM-nnn``): a Family Share package with its selling service, which activates the
  Fixed share plan SP-FAMILY-DATA; 2-5 mobile lines (10 GB rollover data, 300 NA minutes, 200 texts); a third
  hold the share-plan add-on package (+5 GB, R64), a quarter an account-level welcome-texts bucket; some
  lines carry their own rate plan or a World Calling add-on, some join mid-period (prorated buckets), a few
  are renumbered mid-period.
* 48 single lines (``DEMO-IND-nnn``) on Essential Mobile, monthly (package-frequency plan) or annual (the
  owner's list prices), in four time zones, some with a $25 travel-credit money bucket or World Calling.
* 3 enterprises (``DEMO-ENT-n``): the parent is the usage invoicer of 2-3 office accounts (its children) and
  of a contractor account (no parent); it holds a parent-shared World Calling bucket, the
  usage-invoicer-level Variable Single Tier pool SP-BIZ-POOL and an IoT fleet with the Variable Multiple Tier
  pool SP-IOT-FLEET (two thirds of the sensors are on contracts whose own buckets expired before the period,
  so they draw the pools), a billing-activation service and an API key.  Offices have account data blocks that
  repeat, a negotiated account-package plan, or nothing (the pool).
* 2 EUR IoT customers (``DEMO-EU-n``).

**Usage** (:func:`generate_usage`): ``records`` records over March-April 2026 (two monthly periods, so
rollover carries and recurring buckets reset): data, voice (GeoTree destinations that match the catalog's
patterns: US, Canada, Hawaii, Alaska, the two calling zones, Spain) and SMS from phones, data from sensors,
requests from API keys.  Each identifier has monthly targets (some light, some heavy), so buckets run out,
tiers are entered, repeating tiers repeat and share pools drain.  In arrival order, with ~2% late records
(arriving up to a few days after their event time, still inside a retained period) and ~1% that cannot be
rated: bad JSON, a missing or malformed field, an unknown usage identifier, a renumbered line's old number
after its end date, a call to a satellite network (no rate anywhere).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import yaml

from rater.catalog import Catalog
from rater.offline import load_folder
from rater.subscriptions import Subscriptions

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "config" / "catalog"

PERIOD_START = dt.date(2026, 3, 1)
PERIOD_END = dt.date(2026, 5, 1)
"""The usage period, end exclusive: two monthly periods (for accounts billed on the 1st)."""

CATALOG_ZONE = "America/New_York"

# -- what the records look like ------------------------------------------------------------------------------

US_AREAS = ["212", "646", "718", "312", "773", "415", "617", "206", "305", "512", "702", "404"]
CANADA_AREAS = ["416", "514", "604", "613", "403"]
DESTINATIONS: list[tuple[str, list[str], float]] = [
    # (what, prefixes, weight): prefixes are matched by the catalog's GeoTree patterns (longest wins)
    ("us", ["1" + area for area in US_AREAS], 70.0),
    ("canada", ["1" + area for area in CANADA_AREAS], 9.0),
    ("hawaii", ["1808"], 2.5),
    ("alaska", ["1907"], 1.0),
    ("zone1", ["5255", "5281", "4420", "44161", "3531"], 7.0),  # Mexico, UK, Ireland
    ("zone2", ["4930", "4989", "331", "4144", "813", "612"], 6.5),  # Germany, France, Switzerland, Japan, Australia
    ("spain", ["3491", "3493"], 2.0),  # Europe, in no calling zone
]
SATELLITE = ["8816", "8817", "870"]

# Local hour of day weights (0-23): quiet nights, busy days, a lively evening.
DIURNAL = [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5.5, 5.5, 5.5, 5.5, 5, 5, 5, 5, 4.5, 4, 3.5, 2.5, 1.6]

# Monthly targets per kind of identifier: (class -> choices of monthly amount in base units, weights).
GB = 1_000_000_000
MB = 1_000_000
PROFILES: dict[str, dict[str, tuple[list[int], list[float]]]] = {
    "mobile": {
        "DATA": ([1 * GB, 3 * GB, 6 * GB, 9 * GB, 12 * GB, 16 * GB, 22 * GB, 30 * GB], [1, 2, 3, 3, 3, 2, 2, 2]),
        "VOICE": ([40, 120, 250, 320, 520], [2, 3, 3, 2, 1]),  # minutes
        "SMS": ([20, 80, 150, 220, 380], [2, 3, 3, 2, 1]),
    },
    "biz": {
        "DATA": ([300 * MB, 800 * MB, 1500 * MB, 3 * GB, 5 * GB], [2, 3, 3, 2, 1]),
        "VOICE": ([100, 250, 350, 650], [2, 3, 2, 1]),
        "SMS": ([30, 120, 260], [3, 3, 1]),
    },
    "sensor": {"DATA": ([500_000, 2 * MB, 10 * MB, 40 * MB, 120 * MB], [2, 3, 3, 2, 2])},
    # sensors whose own allowance expired: they live on the fleet pool (100 MB each at most, R61), then the
    # company pool, then the rate plan
    "old-sensor": {"DATA": ([40 * MB, 90 * MB, 150 * MB, 250 * MB], [1, 2, 2, 1])},
    "api": {"API": ([40_000, 90_000, 140_000, 250_000], [1, 2, 2, 1])},
}
MIX: dict[str, dict[str, float]] = {
    "mobile": {"DATA": 0.42, "VOICE": 0.36, "SMS": 0.22},
    "biz": {"DATA": 0.35, "VOICE": 0.45, "SMS": 0.20},
    "sensor": {"DATA": 1.0},
    "old-sensor": {"DATA": 1.0},
    "api": {"API": 1.0},
}
ACTIVITY: dict[str, float] = {"mobile": 1.0, "biz": 1.0, "sensor": 0.8, "old-sensor": 0.8, "api": 2.0}
"""Mean share of the records per identifier of each kind."""

# Shares of the stream (of all records) that cannot be rated, and of late records.
BAD_JSON = 0.0025
MISSING_FIELD = 0.0015
BAD_VALUE = 0.001
UNKNOWN_UID = 0.003
OLD_NUMBER = 0.001
SATELLITE_CALL = 0.001
LATE = 0.02

INJECTED_TYPES = {
    "bad_json": "invalid_record",
    "missing_field": "invalid_record",
    "bad_value": "invalid_record",
    "unknown_uid": "no_usage_identifier_match",
    "old_number": "usage_identifier_time_mismatch",
    "satellite": "rate_not_found",
}
"""Each kind of unrateable record and the rating exception type it must come out as."""


@dataclass(frozen=True)
class Line:
    """A usage identifier that sends usage, with its active window inside the period (end exclusive)."""

    uid: str
    account: str
    kind: str
    zone: str
    start: dt.date
    end: dt.date
    targets: dict[str, int]
    weight: float


@dataclass
class Scenario:
    """The demo operator: the subscriptions file's content and the identifiers that send usage."""

    subscriptions: dict[str, Any]
    lines: list[Line]
    retired: list[Line]
    """Old numbers of renumbered lines: usage on them after their end is a time-mismatch exception."""
    showcase: list[str]
    """Accounts whose balances the demo report shows: a family, an enterprise, a single line."""


@dataclass(slots=True)
class DemoRecord:
    """One record as it goes on the usage topic, without its ``produced_at`` (added when sent)."""

    record_id: str
    key: bytes | None
    body: bytes
    kind: str
    """``ok``, ``late`` or one of :data:`INJECTED_TYPES`."""

    def value(self, produced_at_ms: int) -> bytes:
        """The message value: the body with ``produced_at`` (ms since the epoch), bad JSON unchanged."""
        if self.kind == "bad_json":
            return self.body
        return self.body[:-1] + b',"produced_at":' + str(produced_at_ms).encode() + b"}"


@dataclass
class _Builder:
    rng: random.Random
    lines: list[Line] = field(default_factory=list)
    retired: list[Line] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def phone(self) -> str:
        while True:
            uid = f"+1{self.rng.choice(US_AREAS)}{self.rng.randrange(2_000_000, 9_999_999)}"
            if uid not in self.used:
                self.used.add(uid)
                return uid

    def imsi(self, mcc_mnc: str) -> str:
        while True:
            uid = f"{mcc_mnc}{self.rng.randrange(10**9):09d}"
            if uid not in self.used:
                self.used.add(uid)
                return uid

    def apikey(self, name: str) -> str:
        uid = f"apikey-{name.lower()}-{self.rng.getrandbits(40):010x}"
        self.used.add(uid)
        return uid

    def day(self, first: dt.date, last: dt.date) -> dt.date:
        """A day in [first, last]."""
        return first + dt.timedelta(days=self.rng.randrange((last - first).days + 1))

    def targets(self, kind: str) -> dict[str, int]:
        out = {}
        for usage_class, (choices, weights) in PROFILES[kind].items():
            amount = self.rng.choices(choices, weights)[0]
            out[usage_class] = amount * 60_000 if usage_class == "VOICE" else amount  # minutes -> ms
        return out

    def line(self, uid: str, account: str, kind: str, zone: str, start: dt.date, end: dt.date | None = None) -> None:
        """Register an identifier that sends usage from ``start`` (inclusive) to ``end`` (exclusive)."""
        first = max(start, PERIOD_START)
        last = min(end or PERIOD_END, PERIOD_END)
        if first >= last:
            return
        weight = ACTIVITY[kind] * math.exp(self.rng.gauss(0, 0.45))
        self.lines.append(Line(uid, account, kind, zone, first, last, self.targets(kind), weight))


def build_scenario(seed: int = 7) -> Scenario:
    """The demo operator's accounts (a fixed shape; the seed picks the details)."""
    b = _Builder(random.Random(seed))  # noqa: S311 - a workload, not a secret
    families = [_family(b, n) for n in range(1, 37)]
    singles = [_single(b, n) for n in range(1, 49)]
    enterprises = [_enterprise(b, n) for n in range(1, 4)]
    euro = [_euro(b, n) for n in range(1, 3)]
    accounts = families + singles + [a for group in enterprises for a in group] + euro
    # Shown in the report: a family with the add-on package and a welcome bucket, an enterprise, a line with
    # a travel-credit money bucket.
    family = next(a["id"] for a in families if "buckets" in a and len(a["packages"]) > 1)
    travel = next(a["id"] for a in singles if any(bk["usage_bucket"] == "UB-TRAVEL-CREDIT" for bk in _buckets(a)))
    return Scenario({"accounts": accounts}, b.lines, b.retired, showcase=[family, enterprises[0][0]["id"], travel])


def _buckets(account: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(account.get("buckets", []))
    for package in account.get("packages", []):
        for service in package.get("services", []):
            found += service.get("buckets", [])
    return found


def _renumber(b: _Builder, service: dict[str, Any], account: str, kind: str, zone: str, start: dt.date) -> None:
    """Give the service a new number mid-period; the old one keeps sending a little after its end."""
    old, new = b.phone(), b.phone()
    switch = b.day(max(start + dt.timedelta(days=5), dt.date(2026, 3, 10)), dt.date(2026, 4, 15))
    service["usage_identifiers"] = [
        {"uid": old, "start": start.isoformat(), "end": switch.isoformat()},
        {"uid": new, "start": switch.isoformat()},
    ]
    b.line(old, account, kind, zone, start, switch)
    b.line(new, account, kind, zone, switch)
    b.retired.append(Line(old, account, kind, zone, switch, PERIOD_END, {}, 1.0))


def _family(b: _Builder, n: int) -> dict[str, Any]:
    rng = b.rng
    account = f"DEMO-FAM-{n:03d}"
    effective = b.day(dt.date(2026, 1, 5), dt.date(2026, 2, 25))
    bill_day = rng.choice([1, 1, 1, 8, 15, 22])
    services: list[dict[str, Any]] = [{"id": f"{account}-SELL", "service": "SVC-FAMILY-SHARE"}]
    for j in range(1, rng.randint(2, 5) + 1):
        service: dict[str, Any] = {"id": f"{account}-L{j}", "service": "SVC-MOBILE-LINE"}
        start = effective
        if j > 2 and rng.random() < 0.3:  # a line added during the period: its prorated buckets start mid-way
            start = b.day(dt.date(2026, 3, 5), dt.date(2026, 4, 20))
            service["effective"] = start.isoformat()
        if rng.random() < 0.1:
            service["rate_plan"] = "RP-FAMILY-PLUS"
        if rng.random() < 0.12:
            service["buckets"] = [
                {"id": f"{account}-L{j}-WORLD", "usage_bucket": "UB-WORLD-100", "effective": start.isoformat()}
            ]
        if n % 9 == 4 and j == 1:
            _renumber(b, service, account, "mobile", CATALOG_ZONE, start)
        else:
            uid = b.phone()
            service["usage_identifiers"] = [{"uid": uid, "start": start.isoformat()}]
            b.line(uid, account, "mobile", CATALOG_ZONE, start)
        services.append(service)
    packages: list[dict[str, Any]] = [
        {
            "id": f"{account}-SHARE",
            "package": "PKG-FAMILY-SHARE",
            "frequency": "MONTHLY",
            "effective": effective.isoformat(),
            "services": services,
        }
    ]
    if n % 3 == 1:  # the share plan add-on: +5 GB on the family pool (R64)
        packages.append(
            {
                "id": f"{account}-BOOST",
                "package": "PKG-FAMILY-DATA-BOOST",
                "effective": b.day(effective, dt.date(2026, 3, 31)).isoformat(),
                "services": [{"id": f"{account}-BOOST-1", "service": "SVC-DATA-BOOST"}],
            }
        )
    body: dict[str, Any] = {
        "id": account,
        "name": f"Demo family {n}",
        "bill_day": bill_day,
        "rate_plan": "RP-CONSUMER",
    }
    if n % 4 == 2:
        body["buckets"] = [
            {
                "id": f"{account}-WELCOME",
                "usage_bucket": "UB-WELCOME-SMS",
                "effective": b.day(dt.date(2026, 2, 1), dt.date(2026, 3, 20)).isoformat(),
                "threshold_per_account_service": False,
            }
        ]
    body["packages"] = packages
    body["share_plans"] = [
        {
            "share_plan": "SP-FAMILY-DATA",
            "effective": effective.isoformat(),
            "tie_break": 1,
            "selling_account_service": f"{account}-SELL",
        }
    ]
    return body


def _single(b: _Builder, n: int) -> dict[str, Any]:
    rng = b.rng
    account = f"DEMO-IND-{n:03d}"
    zone = rng.choice([CATALOG_ZONE, CATALOG_ZONE, "America/Chicago", "America/Denver", "America/Los_Angeles"])
    annual = rng.random() < 0.3
    effective = b.day(dt.date(2026, 1, 5), dt.date(2026, 3, 25))
    service: dict[str, Any] = {"id": f"{account}-LINE", "service": "SVC-MOBILE-LINE"}
    buckets = []
    if n % 5 == 1:
        buckets.append(
            {
                "id": f"{account}-TRAVEL",
                "usage_bucket": "UB-TRAVEL-CREDIT",
                "effective": b.day(max(effective, dt.date(2026, 2, 20)), dt.date(2026, 4, 10)).isoformat(),
            }
        )
    if n % 7 == 3:
        buckets.append({"id": f"{account}-WORLD", "usage_bucket": "UB-WORLD-100", "recur_frequency": "1 month"})
    if buckets:
        service["buckets"] = buckets
    package: dict[str, Any] = {
        "id": f"{account}-ESSENTIAL",
        "package": "PKG-MOBILE-ESSENTIAL",
        "frequency": "ANNUAL" if annual else "MONTHLY",
        "effective": effective.isoformat(),
        "services": [service],
    }
    if annual:
        package["cancel"] = effective.replace(year=effective.year + 1).isoformat()
    if n % 12 == 6:
        _renumber(b, service, account, "mobile", zone, effective)
    else:
        uid = b.phone()
        window: dict[str, Any] = {"uid": uid, "start": effective.isoformat()}
        if annual:
            window["end"] = package["cancel"]
        service["usage_identifiers"] = [window]
        b.line(uid, account, "mobile", zone, effective, dt.date.fromisoformat(package["cancel"]) if annual else None)
    body: dict[str, Any] = {"id": account, "name": f"Demo customer {n}"}
    if zone != CATALOG_ZONE:
        body["time_zone"] = zone
    bill_day = rng.choice([1, 1, 5, 15, 28])
    body["bill_day"] = bill_day
    if bill_day != 1 and rng.random() < 0.5:
        body["usage_bill_day"] = 1
    body["packages"] = [package]
    return body


def _enterprise(b: _Builder, n: int) -> list[dict[str, Any]]:
    rng = b.rng
    parent = f"DEMO-ENT-{n}"
    since = dt.date(2025, 3, 1)
    sensors: list[dict[str, Any]] = []
    for s in range(1, rng.randint(8, 14) + 1):
        legacy = s % 3 != 1  # on a contract started in spring 2025: its 12 sensor allowances ran out by March
        start = b.day(since, dt.date(2025, 3, 28)) if legacy else b.day(dt.date(2026, 1, 5), dt.date(2026, 3, 20))
        uid = b.imsi("3101701")
        sensors.append(
            {
                "id": f"{parent}-S{s:02d}",
                "service": "SVC-IOT-SENSOR",
                "effective": start.isoformat(),
                "usage_identifiers": [{"uid": uid, "start": start.isoformat()}],
            }
        )
        b.line(uid, parent, "old-sensor" if legacy else "sensor", CATALOG_ZONE, start)
    api = b.apikey(parent)
    b.line(api, parent, "api", CATALOG_ZONE, since)
    accounts: list[dict[str, Any]] = [
        {
            "id": parent,
            "name": f"Demo enterprise {n}",
            "rate_plan": "RP-ENTERPRISE",
            "buckets": [
                {
                    "id": f"{parent}-WORLD",
                    "usage_bucket": "UB-WORLD-100",
                    "effective": "2026-01-01",
                    "threshold_per_account_service": False,
                }
            ],
            "packages": [
                {
                    "id": f"{parent}-POOL",
                    "package": "PKG-BIZ-POOL",
                    "effective": "2026-01-01",
                    "services": [{"id": f"{parent}-POOL-SELL", "service": "SVC-BIZ-POOL"}],
                },
                {
                    "id": f"{parent}-IOT",
                    "package": "PKG-IOT-FLEET",
                    "effective": since.isoformat(),
                    "services": [
                        {"id": f"{parent}-ACTIVATION", "service": "SVC-IOT-ACTIVATION"},
                        *sensors,
                        {
                            "id": f"{parent}-API",
                            "service": "SVC-IOT-API",
                            "usage_identifiers": [{"uid": api, "start": since.isoformat()}],
                        },
                    ],
                },
            ],
            "share_plans": [
                {
                    "share_plan": "SP-IOT-FLEET",
                    "effective": "2026-01-01",
                    "tie_break": 1,
                    "selling_account_service": sensors[0]["id"],
                },
                {
                    "share_plan": "SP-BIZ-POOL",
                    "effective": "2026-01-01",
                    "tie_break": 2,
                    "selling_account_service": f"{parent}-POOL-SELL",
                },
            ],
        }
    ]
    offices = rng.randint(2, 3)
    for m in range(1, offices + 2):
        contractor = m == offices + 1
        account = f"{parent}-CTR" if contractor else f"{parent}-OFF{m}"
        zone = "America/Los_Angeles" if m == 2 else CATALOG_ZONE
        effective = dt.date(2026, 1, 1) if not contractor else dt.date(2026, 2, 1)
        lines: list[dict[str, Any]] = []
        for j in range(1, rng.randint(3, 5) + 1 if contractor else rng.randint(4, 9) + 1):
            service: dict[str, Any] = {"id": f"{account}-L{j}", "service": "SVC-BIZ-LINE"}
            uid = b.phone()
            window: dict[str, Any] = {"uid": uid, "start": effective.isoformat()}
            end = None
            if j == 2 and m == 1:  # an employee who leaves mid-April
                end = dt.date(2026, 4, 10)
                service["cancel"] = window["end"] = end.isoformat()
            service["usage_identifiers"] = [window]
            b.line(uid, account, "biz", zone, effective, end)
            lines.append(service)
        package: dict[str, Any] = {
            "id": f"{account}-MOBILE",
            "package": "PKG-BIZ-MOBILE",
            "frequency": "QUARTERLY" if m == 3 else "MONTHLY",
            "effective": effective.isoformat(),
            "services": lines,
        }
        body: dict[str, Any] = {
            "id": account,
            "name": f"Demo enterprise {n} {'contractors' if contractor else 'office'}",
        }
        if not contractor:
            body["parent"] = parent
        body["usage_invoicer"] = parent
        if zone != CATALOG_ZONE:
            body["time_zone"] = zone
        if m == 1:  # data blocks that repeat: the office's data never reaches the pool
            body["buckets"] = [
                {
                    "id": f"{account}-BLOCKS",
                    "usage_bucket": "UB-DATA-BLOCKS",
                    "effective": "2026-01-01",
                    "threshold_per_account_service": False,
                }
            ]
        if m == 2:
            package["rate_plan"] = "RP-ACME-WEST"
        body["packages"] = [package]
        accounts.append(body)
    return accounts


def _euro(b: _Builder, n: int) -> dict[str, Any]:
    account = f"DEMO-EU-{n}"
    zone = "Europe/Berlin"
    effective = dt.date(2026, 1, 1)
    services: list[dict[str, Any]] = [{"id": f"{account}-ACTIVATION", "service": "SVC-IOT-ACTIVATION"}]
    for s in range(1, b.rng.randint(4, 7) + 1):
        uid = b.imsi("2620199")
        services.append(
            {
                "id": f"{account}-S{s:02d}",
                "service": "SVC-IOT-SENSOR",
                "usage_identifiers": [{"uid": uid, "start": effective.isoformat()}],
            }
        )
        b.line(uid, account, "sensor", zone, effective)
    api = b.apikey(account)
    services.append(
        {"id": f"{account}-API", "service": "SVC-IOT-API", "usage_identifiers": [{"uid": api, "start": "2026-01-01"}]}
    )
    b.line(api, account, "api", zone, effective)
    return {
        "id": account,
        "name": f"Demo Logistik {n} GmbH",
        "currency": "EUR",
        "time_zone": zone,
        "packages": [
            {"id": f"{account}-IOT", "package": "PKG-IOT-FLEET", "effective": "2026-01-01", "services": services}
        ],
    }


# -- usage ------------------------------------------------------------------------------------------------------


def _local_time(rng: random.Random, first: dt.date, last: dt.date, zone: ZoneInfo) -> dt.datetime:
    """A moment on a day in [first, last) at a daytime-weighted local hour, as an aware datetime."""
    day = first + dt.timedelta(days=rng.randrange((last - first).days))
    hour = rng.choices(range(24), DIURNAL)[0]
    moment = dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=zone)
    return moment.astimezone(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _destination(rng: random.Random) -> str:
    _, prefixes, _ = rng.choices(DESTINATIONS, [w for *_, w in DESTINATIONS])[0]
    prefix = rng.choice(prefixes)
    return "+" + prefix + "".join(str(rng.randrange(10)) for _ in range(11 - len(prefix)))


def _body(rng: random.Random, line: Line, usage_class: str, quantity: int, moment: dt.datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"record_id": "", "usage_identifier": line.uid, "usage_class": usage_class}
    if usage_class == "VOICE":
        body["quantity"] = str(max(1, quantity // 1000))
        body["unit"] = "s"
    elif usage_class == "DATA":
        body["quantity"] = quantity
        body["unit"] = "B"
    else:
        body["quantity"] = quantity
    body["event_time"] = _iso(moment)
    if usage_class == "VOICE":
        body["terminating_identifier"] = _destination(rng)
        body["originating_identifier"] = line.uid
    elif usage_class == "SMS":
        body["terminating_identifier"] = "+1" + rng.choice(US_AREAS) + str(rng.randrange(2_000_000, 9_999_999))
    return body


def generate_usage(scenario: Scenario, records: int = 100_000, seed: int = 7) -> list[DemoRecord]:
    """``records`` usage records in arrival order, with unique ids ``demo-0000001``..."""
    rng = random.Random(seed * 7919 + records)  # noqa: S311 - a workload, not a secret
    zones = {line.zone: ZoneInfo(line.zone) for line in scenario.lines}
    injected = {
        "bad_json": round(records * BAD_JSON),
        "missing_field": round(records * MISSING_FIELD),
        "bad_value": round(records * BAD_VALUE),
        "unknown_uid": round(records * UNKNOWN_UID),
        "old_number": round(records * OLD_NUMBER) if scenario.retired else 0,
        "satellite": round(records * SATELLITE_CALL),
    }
    normal = max(0, records - sum(injected.values()))
    # Who sends each record, weighted by activity and by how many days the identifier is active.
    lines = scenario.lines
    weights = [line.weight * (line.end - line.start).days for line in lines]
    owners = Counter(rng.choices(range(len(lines)), weights, k=normal))
    pending: list[tuple[dt.datetime, dict[str, Any], str]] = []  # (arrival, body, kind)
    for index in sorted(owners):
        line = lines[index]
        classes = list(MIX[line.kind])
        picks = Counter(rng.choices(classes, [MIX[line.kind][c] for c in classes], k=owners[index]))
        months = (line.end - line.start).days / 30.5
        for usage_class, count in sorted(picks.items()):
            mean = line.targets[usage_class] * months / count  # per record, so the month's total hits the target
            for _ in range(count):
                quantity = max(1, round(mean * rng.lognormvariate(-0.32, 0.8)))
                moment = _local_time(rng, line.start, line.end, zones[line.zone])
                pending.append((moment, _body(rng, line, usage_class, quantity, moment), "ok"))
    # Late records: they arrive minutes to days after their event time, behind later records.
    for position in rng.sample(range(len(pending)), k=round(len(pending) * LATE)):
        moment, body, _ = pending[position]
        delay = dt.timedelta(minutes=rng.randrange(10, 36 * 60) if rng.random() < 0.9 else rng.randrange(3, 5) * 1440)
        pending[position] = (moment + delay, body, "late")
    pending += _unrateable(rng, scenario, injected, zones)
    pending.sort(key=lambda item: (item[0], item[1]["usage_identifier"]))
    out: list[DemoRecord] = []
    for number, (_, body, kind) in enumerate(pending, start=1):
        record_id = f"demo-{number:07d}"
        body["record_id"] = record_id
        uid = body.get("usage_identifier")
        out.append(DemoRecord(record_id, uid.encode() if isinstance(uid, str) else None, _encode(body, kind), kind))
    return out


def _encode(body: dict[str, Any], kind: str) -> bytes:
    # A copy: orjson's result keeps its 4 KiB working buffer, 100,000 of which are 400 MB.
    data = bytes(memoryview(orjson.dumps(body)))
    if kind == "bad_json":  # cut short by a broken mediation file: the record id cannot be read back
        return data[: len(data) // 2]
    return data


def _unrateable(
    rng: random.Random, scenario: Scenario, counts: dict[str, int], zones: dict[str, ZoneInfo]
) -> list[tuple[dt.datetime, dict[str, Any], str]]:
    """The ~1% that cannot be rated, spread over the period."""
    out: list[tuple[dt.datetime, dict[str, Any], str]] = []
    phones = [line for line in scenario.lines if line.kind in ("mobile", "biz")]
    for kind, count in counts.items():
        for _ in range(count):
            line = rng.choice(scenario.retired) if kind == "old_number" else rng.choice(phones)
            moment = _local_time(rng, line.start, line.end, zones.get(line.zone) or ZoneInfo(line.zone))
            usage_class = "SMS" if kind in ("missing_field", "bad_value") else "VOICE"
            body = _body(rng, line, usage_class, 60_000 * rng.randint(1, 20) if usage_class == "VOICE" else 1, moment)
            if kind == "missing_field":
                del body[rng.choice(["event_time", "usage_class", "quantity"])]
            elif kind == "bad_value":
                choice = rng.randrange(3)
                if choice == 0:
                    body["quantity"] = "-3"
                elif choice == 1:
                    body["usage_class"] = "MMS"  # not a class of the catalog
                else:
                    body["event_time"] = body["event_time"].removesuffix("Z")  # no UTC offset
            elif kind == "unknown_uid":
                body["usage_identifier"] = f"+1999555{rng.randrange(10**4):04d}"
                body["originating_identifier"] = body["usage_identifier"]
            elif kind == "satellite":
                prefix = rng.choice(SATELLITE)
                body["terminating_identifier"] = "+" + prefix + str(rng.randrange(10**7, 10**8))
            out.append((moment, body, kind))
    return out


# -- the folder ---------------------------------------------------------------------------------------------------


def injected_exceptions(records: list[DemoRecord]) -> dict[str, int]:
    """The rating exception types the unrateable records must come out as, with their counts."""
    counts: Counter[str] = Counter(INJECTED_TYPES[r.kind] for r in records if r.kind in INJECTED_TYPES)
    return dict(sorted(counts.items()))


def write_folder(folder: Path, scenario: Scenario, records: list[DemoRecord] | None = None) -> None:
    """A rating folder: a copy of the example catalog, the demo subscriptions and (when given) the usage as
    ``usage.jsonl`` (without ``produced_at``, for ``rater rate`` offline)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(CATALOG, folder / "catalog", dirs_exist_ok=True)
    header = "# Generated by `rater demo` (streams/dev/demo_data.py): the demo operator on the example catalog.\n"
    text = yaml.safe_dump(scenario.subscriptions, sort_keys=False, width=120)
    (folder / "subscriptions.yaml").write_text(header + text)
    if records is not None:
        with (folder / "usage.jsonl").open("wb") as handle:
            for record in records:
                handle.write(record.body + b"\n")


def load_demo(folder: Path) -> tuple[Catalog, Subscriptions]:
    """Load (and so validate) a generated folder; raises ``ValidationFailed`` listing every error."""
    return load_folder(folder)
