"""Property tests of the consumption model over random catalogs and record sequences (R11-R19, R36, R59-R61).

Each example builds a catalog with random service, account, parent and share-plan buckets (random tier
sizes, repeats, recur types, share-plan bucket types, contributions and participation limits), random
subscriptions of three phones on a parent and a child account, and a random sequence of SMS records over
three months.  For every example:

* conservation: for every record, the quantities drawn from buckets plus the overflow priced by the rate
  plan equal the record's billable quantity (R14);
* no bucket's period counter goes past its allowance (R19b);
* no participant draws more than its participation limit in a period (R61);
* a tier occurrence's flat charge is billed, and its crossing announced, at most once per bucket instance and
  period (R17), although a contributor joining mid-period (R60) and an add-on package sold mid-period (R64)
  move a share-plan pool's tier boundaries, and records arrive out of time order;
* rating the sequence in one run equals rating it split at any point, with the state carried over in a
  copy of the store (the outcome depends on the state, never on the process).
"""

from __future__ import annotations

import asyncio
import copy
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rater.batch import rate_batch
from rater.events import RatedCharge
from rater.memory_store import MemoryStore
from rater.offline import load_folder
from rater.rating import Rater

RECUR = ("recurring", "recurring_rollover", "nonrecurring")
PHONES = ("+15550000001", "+15550000002", "+15550000003")


@st.composite
def bucket_spec(draw: st.DrawFn) -> dict[str, Any]:
    recur = draw(st.sampled_from(RECUR))
    sizes = draw(st.lists(st.integers(1, 40), min_size=1, max_size=3))
    spec: dict[str, Any] = {
        "base_buckets": ["BB-SMS"],
        "recur_type": recur,
        "tiers": [{"threshold": size, "flat_charge": draw(st.sampled_from(["0", "1.00", "2.50"]))} for size in sizes],
    }
    if recur == "nonrecurring":
        if draw(st.booleans()):
            spec["expire_after"] = "2 months"
    else:
        spec["recur_frequency"] = "1 month"
        spec["last_tier_repeats"] = draw(st.booleans())
    return spec


@st.composite
def share_spec(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["fixed", "variable_single_tier", "variable_multiple_tier"]))
    limit = draw(st.one_of(st.none(), st.integers(1, 30)))
    entry: dict[str, Any] = {"participant": "SVC-PHONE", "contribution": draw(st.integers(1, 25))}
    if limit is not None:
        entry["participation_limit"] = limit
    bucket: dict[str, Any] = {
        "id": "SPB",
        "type": kind,
        "base_buckets": ["BB-SMS"],
        "recur_type": draw(st.sampled_from(["recurring", "recurring_rollover"])),
        "participants": [entry],
    }
    repeat = draw(st.booleans())
    if kind == "fixed":
        sizes = draw(st.lists(st.integers(1, 40), min_size=1, max_size=2))
        bucket["tiers"] = [{"threshold": size} for size in sizes]
    elif kind == "variable_single_tier":
        bucket["tiers"] = [{}]
    else:
        growths = draw(st.lists(st.integers(1, 10), min_size=1, max_size=2))
        bucket["tiers"] = [{"tier_growth": growth} for growth in growths]
    bucket["tiers"][-1]["repeat"] = repeat
    return {"bucket": bucket, "limit": limit, "tie_break": 1}


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "service": draw(st.lists(bucket_spec(), max_size=2)),
        "account": draw(st.one_of(st.none(), bucket_spec())),
        "parent": draw(st.one_of(st.none(), bucket_spec())),
        "share": draw(st.one_of(st.none(), share_spec())),
        "records": draw(
            st.lists(
                st.tuples(st.integers(0, 2), st.integers(0, 45), st.integers(0, 85)),
                min_size=1,
                max_size=30,
            )
        ),
        "split": draw(st.integers(0, 30)),
        # a contributing phone (no usage identifier) effective from this day index; an add-on package (R64)
        # adding this many SMS to the pool's tier 1 from that day index
        "joins": draw(st.one_of(st.none(), st.integers(1, 84))),
        "add_on": draw(st.one_of(st.none(), st.tuples(st.integers(1, 84), st.integers(1, 30)))),
    }


def _day(day: int) -> str:
    """The date of a scenario day index: four 28-day months from 2026-01-01 (as the records use)."""
    month, day_of_month = divmod(day, 28)
    return f"2026-{month + 1:02d}-{day_of_month + 1:02d}"


def _write(folder: Path, case: dict[str, Any]) -> None:
    usage_buckets = []
    service_buckets = []
    for index, spec in enumerate(case["service"]):
        usage_buckets.append({"id": f"UB-S{index}", **spec})
        service_buckets.append(f"UB-S{index}")
    for name in ("account", "parent"):
        if case[name] is not None:
            usage_buckets.append({"id": f"UB-{name.upper()}", **case[name]})
    share_plans = []
    if case["share"] is not None:
        share_plans.append(
            {
                "id": "SP",
                "share_level": "usage_invoicer",
                "selling_service": "SVC-SELL",
                "usage_billing_frequency": "1 month",
                "participants": ["SVC-PHONE"],
                "buckets": [case["share"]["bucket"]],
            }
        )
    packages: list[dict[str, Any]] = [{"id": "PKG", "services": ["SVC-PHONE", "SVC-SELL"]}]
    catalog = {
        "owner": {"id": "OWNER", "currency": "USD", "rate_plan": "RP"},
        "usage_classes": [{"id": "SMS", "rater": "class", "unit_type": "count"}],
        "rate_plans": [
            {
                "id": "RP",
                "precision": 2,
                "rate_groups": [
                    {"id": "G", "currency": "USD", "rates": [{"class": "SMS", "amount": "0.10", "per": "event"}]}
                ],
            }
        ],
        "base_buckets": [{"id": "BB-SMS", "unit_type": "count", "details": [{"class": "SMS"}]}],
        "usage_buckets": usage_buckets,
        "share_plans": share_plans,
        "services": [{"id": "SVC-PHONE", "usage_buckets": service_buckets}, {"id": "SVC-SELL"}, {"id": "SVC-EXTRA"}],
        "packages": packages,
    }
    add_on = case.get("add_on") if case["share"] is not None else None
    if add_on is not None:
        packages.append(
            {
                "id": "PKG-ADDON",
                "services": ["SVC-EXTRA"],
                "share_plan_add_on": {"share_plan": "SP", "allotments": [{"bucket": "SPB", "amount": add_on[1]}]},
            }
        )

    def services(prefix: str, phones: tuple[str, ...]) -> list[dict[str, Any]]:
        return [
            {
                "id": f"{prefix}-{index}",
                "service": "SVC-PHONE",
                "usage_identifiers": [{"uid": uid, "start": "2026-01-01"}],
            }
            for index, uid in enumerate(phones)
        ]

    parent: dict[str, Any] = {
        "id": "ACC-P",
        "packages": [
            {"id": "AP-P", "package": "PKG", "effective": "2026-01-01", "services": services("AS-P", PHONES[:1])}
        ],
    }
    child: dict[str, Any] = {
        "id": "ACC-C",
        "parent": "ACC-P",
        "usage_invoicer": "ACC-P",
        "packages": [
            {"id": "AP-C", "package": "PKG", "effective": "2026-01-01", "services": services("AS-C", PHONES[1:])}
        ],
    }
    if case.get("joins") is not None:
        joiner = {"id": "AS-C-JOINS", "service": "SVC-PHONE", "effective": _day(case["joins"])}
        child["packages"][0]["services"].append(joiner)
    if add_on is not None:
        extra = [{"id": "AS-C-ADDON", "service": "SVC-EXTRA"}]
        child["packages"].append(
            {"id": "AP-ADDON", "package": "PKG-ADDON", "effective": _day(add_on[0]), "services": extra}
        )
    if case["account"] is not None:
        child["buckets"] = [{"usage_bucket": "UB-ACCOUNT", "effective": "2026-01-01"}]
    if case["parent"] is not None:
        parent["buckets"] = [{"usage_bucket": "UB-PARENT", "effective": "2026-01-01"}]
    if case["share"] is not None:
        parent["share_plans"] = [{"share_plan": "SP", "effective": "2026-01-01", "tie_break": 1}]
    (folder / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    (folder / "subscriptions.yaml").write_text(yaml.safe_dump({"accounts": [parent, child]}, sort_keys=False))


def _records(case: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for number, (phone, quantity, day) in enumerate(case["records"]):
        out.append(
            {
                "record_id": f"r{number}",
                "usage_identifier": PHONES[phone],
                "usage_class": "SMS",
                "quantity": quantity,
                "event_time": f"{_day(day)}T12:00:00Z",
            }
        )
    return out


def _run(rater: Rater, store: MemoryStore, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rate ``records`` in one batch of the rating pipeline; every one must be rated."""
    items = [(orjson.dumps(record), f"case:{number}") for number, record in enumerate(records)]
    outcomes = asyncio.run(rate_batch(rater, store, items))
    assert all(isinstance(outcome, RatedCharge) for _, outcome in outcomes), outcomes
    return [outcome.to_dict() for _, outcome in outcomes]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenario())
def test_consumption_invariants(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case)
        catalog, subscriptions = load_folder(folder)
        records = _records(case)

        whole = _run(Rater(catalog, subscriptions), MemoryStore(), records)

        # Conservation (R14) and caps (R19b) per record.
        for record, event in zip(records, whole, strict=True):
            drawn = sum(draw["quantity"] for draw in event["draws"] if not draw["money"])
            overflow = sum(line["quantity"] for line in event["charges"] if line["type"] == "rate_plan")
            assert drawn + overflow == record["quantity"] == event["billable_quantity"]
            for draw in event["draws"]:
                assert draw["after"] - draw["before"] == draw["quantity"]
                if draw["allowance"] is not None:
                    assert draw["after"] <= draw["allowance"]

        # Participation limits (R61): per participant instance and period.
        limit = case["share"]["limit"] if case["share"] is not None else None
        used: dict[tuple[str, str, str], int] = defaultdict(int)
        for event in whole:
            for draw in event["draws"]:
                if draw["level"] == "share_plan":
                    used[(draw["bucket_instance"], draw["participant"], draw["period_start"])] += draw["quantity"]
        if limit is not None:
            assert all(total <= limit for total in used.values())

        _assert_entered_once(whole)

        # One run equals the same run split anywhere with the state carried over.
        split = min(case["split"], len(records))
        first_store = MemoryStore()
        head = _run(Rater(catalog, subscriptions), first_store, records[:split])
        carried = MemoryStore(
            copy.deepcopy(first_store.hashes), copy.deepcopy(first_store.results), claims=dict(first_store.claims)
        )
        tail = _run(Rater(catalog, subscriptions), carried, records[split:])
        assert orjson.dumps(head + tail) == orjson.dumps(whole)


def _assert_entered_once(events: list[dict[str, Any]]) -> None:
    """R17: each tier occurrence of a bucket instance's period is billed and announced at most once."""
    flats: list[tuple[str, str, int, int]] = []
    crossings: list[tuple[str, str, str, int, int]] = []
    for event in events:
        periods = {draw["bucket_instance"]: draw["period_start"] for draw in event["draws"]}
        flats += [
            (line["bucket_instance"], periods[line["bucket_instance"]], line["tier"], line["repeat"])
            for line in event["charges"]
            if line["type"] == "flat_charge"
        ]
        crossings += [
            (c["bucket_instance"], c["period_start"], c["kind"], c["tier"], c["repeat"]) for c in event["crossings"]
        ]
    assert len(flats) == len(set(flats)), flats
    assert len(crossings) == len(set(crossings)), crossings


@st.composite
def growing_pool(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario with only a Variable share-plan pool with flat charges on every tier, whose boundaries move
    within a month: a contributor joins and/or an add-on is sold on some day; records in random order."""
    share = draw(share_spec().filter(lambda spec: spec["bucket"]["type"] != "fixed"))
    for tier in share["bucket"]["tiers"]:
        tier["flat_charge"] = "1.00"
    case = draw(scenario())
    return {
        **case,
        "service": [],
        "account": None,
        "parent": None,
        "share": share,
        "joins": draw(st.integers(1, 84)),
        "add_on": draw(st.one_of(st.none(), st.tuples(st.integers(1, 84), st.integers(1, 30)))),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=growing_pool())
def test_a_pool_whose_tiers_grow_mid_period_enters_each_tier_once(case: dict[str, Any]) -> None:
    """R17 with R59/R60/R64: tiers of a Variable pool grow the day a contributor joins or an add-on is sold;
    a tier entered before that, whose start moves up past the consumption, is not entered again."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case)
        catalog, subscriptions = load_folder(folder)
        _assert_entered_once(_run(Rater(catalog, subscriptions), MemoryStore(), _records(case)))


def _fresh_per_record(catalog: Any, subscriptions: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record rated by a new :class:`Rater` (nothing memoised) against one store."""
    store = MemoryStore()
    return [event for record in records for event in _run(Rater(catalog, subscriptions), store, [record])]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.one_of(scenario(), growing_pool(), growing_pool()))
def test_a_memoised_resolution_rates_as_a_fresh_one(case: dict[str, Any]) -> None:
    """A resolution is memoised for the window of days it reports (rater.periods.DayWindow: its periods, up to
    an instance starting or ending, a contributor joining, an add-on sold, R10, R59, R60, R64); rating every
    record with nothing memoised gives byte-identical outcomes, in any record order."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case)
        catalog, subscriptions = load_folder(folder)
        records = _records(case)
        memoised = _run(Rater(catalog, subscriptions), MemoryStore(), records)
        assert orjson.dumps(_fresh_per_record(catalog, subscriptions, records)) == orjson.dumps(memoised)


def test_the_property_test_reaches_every_level() -> None:
    """Guard against a vacuous property: a fixed scenario with every level draws at all four levels."""
    bucket = {
        "base_buckets": ["BB-SMS"],
        "recur_type": "recurring",
        "recur_frequency": "1 month",
        "tiers": [{"threshold": 2}],
    }
    case = {
        "service": [bucket],
        "account": bucket,
        "parent": bucket,
        "share": {
            "bucket": {
                "id": "SPB",
                "type": "fixed",
                "base_buckets": ["BB-SMS"],
                "participants": [{"participant": "SVC-PHONE", "participation_limit": 5}],
                "tiers": [{"threshold": 10}],
            },
            "limit": 5,
            "tie_break": 1,
        },
        "records": [(1, 12, 3)],
        "split": 0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case)
        catalog, subscriptions = load_folder(folder)
        (event,) = _run(Rater(catalog, subscriptions), MemoryStore(), _records(case))
    # 12 SMS: 2 (service) + 2 (account) + 2 (parent) + 5 (share plan, limit 5 of pool 10) + 1 overflow at 0.10.
    assert [(d["level"], d["quantity"]) for d in event["draws"]] == [
        ("account_service", 2),
        ("account", 2),
        ("parent", 2),
        ("share_plan", 5),
    ]
    assert [(line["type"], line["quantity"], line["amount"]) for line in event["charges"]] == [("rate_plan", 1, "0.10")]
