"""Which allowances a record may draw from, in which order, with how much (rater.consumption.Resolver).

Levels (R11), same-level order (R13), shared allotments (Q5), eligibility (R6, R10), expiry (R37, R38),
proration (R40, R41), share-plan scope (R57), pool sizes (R59, R60, Q15), add-ons (R64), participation limits
(R61) and sharing roots.  Each test writes a small catalog and subscriptions as YAML (through the real loader)
and calls ``Resolver(catalog, subscriptions).resolve(owner, class, location, day)``.

Data sizes are decimal: 1 GB = 10^9 B, 1 MB = 10^6 B.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rater.allotments import Candidate
from rater.catalog.model import SharePlan
from rater.consumption import Resolver
from rater.instances import sharing_roots
from rater.keys import bucket_key
from rater.state import UNLIMITED
from rater.subscriptions import Account
from tests.unit._builders import GEOTREE, USAGE_CLASSES, Doc, Twin, load

GB = 10**9
MB = 10**6
MAR = dt.date(2026, 3, 15)
JAN1 = dt.date(2026, 1, 1)


def d(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, day)


# --- builders -------------------------------------------------------------------------------------------------


def bucket(bucket_id: str, size: str = "1 GB", *, recur: str = "recurring", base: str = "BB-DATA", **extra: Any) -> Doc:
    """A usage bucket with one free tier of ``size``; recurring ones recur monthly."""
    doc: Doc = {"id": bucket_id, "base_buckets": [base], "recur_type": recur, "tiers": [{"threshold": size}]}
    if recur != "nonrecurring":
        doc["recur_frequency"] = "1 month"
    doc.update(extra)
    return doc


def catalog(
    *,
    usage_buckets: list[Doc] | None = None,
    phone_buckets: list[str] | None = None,
    other_buckets: list[str] | None = None,
    share_plans: list[Doc] | None = None,
    base_buckets: list[Doc] | None = None,
    packages: list[Doc] | None = None,
    settings: Doc | None = None,
) -> Doc:
    """Services SVC-PHONE (carrying ``phone_buckets``), SVC-OTHER (``other_buckets``) and SVC-SELL (a selling
    service), all in package PKG-1.  Base buckets BB-DATA (DATA), BB-SMS (SMS) and BB-LD (LD to North America
    except Hawaii) unless given."""
    return {
        "settings": settings or {"time_zone": "UTC"},
        "owner": {"id": "OWNER", "currency": "USD"},
        "geotree": GEOTREE,
        "usage_classes": USAGE_CLASSES,
        "base_buckets": base_buckets
        or [
            {"id": "BB-DATA", "unit_type": "data", "details": [{"class": "DATA"}]},
            {"id": "BB-SMS", "unit_type": "count", "details": [{"class": "SMS"}]},
            {
                "id": "BB-LD",
                "unit_type": "time",
                "details": [
                    {"class": "LD", "location": "NORTH-AMERICA"},
                    {"class": "LD", "location": "HAWAII", "exclude": True},
                ],
            },
        ],
        "usage_buckets": usage_buckets or [],
        "share_plans": share_plans or [],
        "services": [
            {"id": "SVC-PHONE", "usage_buckets": phone_buckets or []},
            {"id": "SVC-OTHER", "usage_buckets": other_buckets or []},
            {"id": "SVC-SELL"},
        ],
        "packages": packages or [{"id": "PKG-1", "services": ["SVC-PHONE", "SVC-OTHER", "SVC-SELL"]}],
    }


def service(service_id: str, catalog_service: str = "SVC-PHONE", **extra: Any) -> Doc:
    return {"id": service_id, "service": catalog_service, **extra}


def account(account_id: str, *services: Doc, effective: dt.date = JAN1, package: str = "PKG-1", **extra: Any) -> Doc:
    """An account with one account-package ``<account>-PKG`` of ``package`` holding ``services``."""
    return {
        "id": account_id,
        **extra,
        "packages": [
            {"id": f"{account_id}-PKG", "package": package, "effective": effective, "services": list(services)}
        ],
    }


def resolver(tmp_path: Path, catalog_doc: Doc, *accounts: Doc) -> Resolver:
    return Resolver(*load(tmp_path, catalog_doc, {"accounts": list(accounts)}))


def units(res: Resolver, account_service: str, day: dt.date = MAR, usage_class: str = "DATA") -> list[Candidate]:
    """The unit candidates for a record of ``usage_class`` owned by ``account_service`` on ``day``."""
    return res.resolve(res.subscriptions.services[account_service], usage_class, None, day).units


def ids(res: Resolver, account_service: str, day: dt.date = MAR, usage_class: str = "DATA") -> list[str]:
    return [candidate.instance.id for candidate in units(res, account_service, day, usage_class)]


def one(res: Resolver, account_service: str, day: dt.date = MAR, usage_class: str = "DATA") -> Candidate:
    found = units(res, account_service, day, usage_class)
    assert len(found) == 1, [c.instance.id for c in found]
    return found[0]


def share_plan(plan_id: str, *buckets: Doc, participants: list[str] | None = None, **extra: Any) -> Doc:
    """A monthly share plan sold by SVC-SELL with SVC-PHONE participating (service type) unless told."""
    return {
        "id": plan_id,
        "share_level": "account",
        "participating_type": "service",
        "selling_service": "SVC-SELL",
        "usage_billing_frequency": "1 month",
        "participants": participants or ["SVC-PHONE"],
        "buckets": list(buckets),
        **extra,
    }


def fixed(bucket_id: str = "SPB", size: str = "10 GB", **extra: Any) -> Doc:
    return {"id": bucket_id, "type": "fixed", "base_buckets": ["BB-DATA"], "tiers": [{"threshold": size}], **extra}


def plan_on(plan_id: str, effective: dt.date = JAN1, tie_break: int = 1, **extra: Any) -> Doc:
    return {"share_plan": plan_id, "effective": effective, "tie_break": tie_break, **extra}


# --- R11: level order -----------------------------------------------------------------------------------------


def test_levels_in_order_service_account_parent_share_plan(tmp_path: Path) -> None:
    """R11 / E19: a phone's DATA record sees its own bucket (account_service), its account's bucket (account),
    the parent's account bucket (parent), then the share plan bucket (share_plan), in that order, whatever the
    order of the documents."""
    cat = catalog(
        usage_buckets=[bucket("OWN", "3 GB"), bucket("ACC"), bucket("PAR")],
        phone_buckets=["OWN"],
        share_plans=[share_plan("SP", fixed())],
    )
    child = account(
        "FAMILY",
        service("AS-SELL", "SVC-SELL"),
        service("AS-PHONE"),
        parent="PARENT",
        buckets=[{"id": "FAMILY-ACC", "usage_bucket": "ACC", "effective": d(2026, 1, 1)}],
        share_plans=[plan_on("SP")],
    )
    parent = {"id": "PARENT", "buckets": [{"id": "PARENT-PAR", "usage_bucket": "PAR", "effective": d(2026, 1, 1)}]}
    res = resolver(tmp_path, cat, child, parent)
    found = units(res, "AS-PHONE")
    assert [(c.level, c.instance.id) for c in found] == [
        ("account_service", "AS-PHONE/OWN"),
        ("account", "FAMILY-ACC"),
        ("parent", "PARENT-PAR"),
        ("share_plan", "FAMILY/SP/SPB"),
    ]
    assert [c.counter.allowance for c in found] == [3 * GB, GB, GB, 10 * GB]


def test_parent_bucket_counts_as_account_level_on_the_parent(tmp_path: Path) -> None:
    """R11: the parent's own service sees the same instance at level "account" (it is the parent's account
    bucket); only the children see it as "parent"."""
    cat = catalog(usage_buckets=[bucket("PAR")])
    parent = account(
        "PARENT",
        service("P-PHONE"),
        buckets=[{"id": "PARENT-PAR", "usage_bucket": "PAR", "effective": d(2026, 1, 1)}],
    )
    child = account("CHILD", service("C-PHONE"), parent="PARENT")
    res = resolver(tmp_path, cat, parent, child)
    assert [(c.level, c.instance.id) for c in units(res, "P-PHONE")] == [("account", "PARENT-PAR")]
    assert [(c.level, c.instance.id) for c in units(res, "C-PHONE")] == [("parent", "PARENT-PAR")]


# --- R13: same-level order ------------------------------------------------------------------------------------

R13_BUCKETS = [
    bucket("NR", recur="nonrecurring", expire_after="6 months"),
    bucket("RO", recur="recurring_rollover"),
    bucket("RC"),
]


def test_same_level_recurring_before_rollover_before_nonrecurring(tmp_path: Path) -> None:
    """R13: attached in the order NR, RO, RC, the phone's buckets are drawn RC (recurring), RO (rollover), NR
    (nonrecurring): the recur type decides before the attachment order."""
    res = resolver(
        tmp_path, catalog(usage_buckets=R13_BUCKETS, phone_buckets=["NR", "RO", "RC"]), account("A", service("AS-1"))
    )
    assert ids(res, "AS-1") == ["AS-1/RC", "AS-1/RO", "AS-1/NR"]


def test_same_level_order_is_configurable(tmp_path: Path) -> None:
    """R13 / Q4: settings.same_level_bucket_order [nonrecurring, recurring_rollover, recurring] -> NR, RO, RC."""
    cat = catalog(
        usage_buckets=R13_BUCKETS,
        phone_buckets=["RC", "RO", "NR"],
        settings={"time_zone": "UTC", "same_level_bucket_order": ["nonrecurring", "recurring_rollover", "recurring"]},
    )
    res = resolver(tmp_path, cat, account("A", service("AS-1")))
    assert ids(res, "AS-1") == ["AS-1/NR", "AS-1/RO", "AS-1/RC"]


def test_same_level_earliest_expiry_first(tmp_path: Path) -> None:
    """R13: two nonrecurring buckets from Jan 1: LONG expires Jan 1 + 6 months = Jul 1, SHORT Jan 1 + 3 months =
    Apr 1; SHORT is attached second but expires first, so it is drawn first.  Two recurring buckets: OPEN
    (never expires) and EAR (expire_after_recurrence 3: Jan..Apr, gone May 1): EAR first."""
    cat = catalog(
        usage_buckets=[
            bucket("LONG", recur="nonrecurring", expire_after="6 months"),
            bucket("SHORT", recur="nonrecurring", expire_after="3 months"),
            bucket("OPEN"),
            bucket("EAR", expire_after_recurrence=3),
        ],
        phone_buckets=["LONG", "SHORT", "OPEN", "EAR"],
    )
    res = resolver(tmp_path, cat, account("A", service("AS-1")))
    assert ids(res, "AS-1") == ["AS-1/EAR", "AS-1/OPEN", "AS-1/SHORT", "AS-1/LONG"]
    expiries = {c.instance.id: c.instance.expiry(res.catalog) for c in units(res, "AS-1")}
    assert expiries["AS-1/SHORT"] == d(2026, 4, 1)
    assert expiries["AS-1/LONG"] == d(2026, 7, 1)
    assert expiries["AS-1/EAR"] == d(2026, 5, 1)


def test_same_level_attachment_order_breaks_ties(tmp_path: Path) -> None:
    """R13: two recurring, never-expiring buckets: the catalog service's buckets in their listed order (B2, B1),
    then the instances attached on the account-service (B3)."""
    cat = catalog(usage_buckets=[bucket("B1"), bucket("B2"), bucket("B3")], phone_buckets=["B2", "B1"])
    res = resolver(tmp_path, cat, account("A", service("AS-1", buckets=[{"id": "EXTRA", "usage_bucket": "B3"}])))
    assert ids(res, "AS-1") == ["AS-1/B2", "AS-1/B1", "EXTRA"]


def test_same_level_order_on_the_account_level(tmp_path: Path) -> None:
    """R13 at level 2: account buckets attached NR-ACC, RC-ACC -> RC-ACC (recurring) first."""
    cat = catalog(usage_buckets=R13_BUCKETS)
    res = resolver(
        tmp_path,
        cat,
        account(
            "A",
            service("AS-1"),
            buckets=[
                {"id": "NR-ACC", "usage_bucket": "NR", "effective": d(2026, 1, 1)},
                {"id": "RC-ACC", "usage_bucket": "RC", "effective": d(2026, 1, 1)},
            ],
        ),
    )
    assert ids(res, "AS-1") == ["RC-ACC", "NR-ACC"]


# --- Q5: shared allotments ------------------------------------------------------------------------------------


def test_threshold_not_per_account_service_is_one_shared_allotment(tmp_path: Path) -> None:
    """Q5: bucket SHARED (threshold_per_account_service false) on SVC-PHONE; account A has phones AS-1 and AS-2
    and AS-3 of SVC-OTHER.  Both phones see the same account-level instance "A/SHARED" with the same store key
    (one allotment of 1 GB); AS-3 does not carry the bucket and cannot draw it.  The per-service bucket OWN
    gives each phone its own instance."""
    cat = catalog(
        usage_buckets=[bucket("SHARED", threshold_per_account_service=False), bucket("OWN")],
        phone_buckets=["SHARED", "OWN"],
    )
    res = resolver(tmp_path, cat, account("A", service("AS-1"), service("AS-2"), service("AS-3", "SVC-OTHER")))
    first, second = units(res, "AS-1"), units(res, "AS-2")
    assert [(c.level, c.instance.id) for c in first] == [("account_service", "AS-1/OWN"), ("account", "A/SHARED")]
    assert [(c.level, c.instance.id) for c in second] == [("account_service", "AS-2/OWN"), ("account", "A/SHARED")]
    assert first[1].counter.key == second[1].counter.key == bucket_key("A", "A/SHARED")
    assert first[0].counter.key != second[0].counter.key
    assert first[1].instance.carriers == frozenset({"AS-1", "AS-2"})
    assert units(res, "AS-3") == []


def test_shared_allotment_by_instance_override(tmp_path: Path) -> None:
    """Q5 / §1.11: threshold_per_account_service false on the account-service's own instance of a per-service
    bucket makes it the account's one allotment "A/OWN" for the overriding phone; AS-2 keeps "AS-2/OWN"."""
    cat = catalog(usage_buckets=[bucket("OWN")], phone_buckets=["OWN"])
    res = resolver(
        tmp_path,
        cat,
        account(
            "A",
            service("AS-1", buckets=[{"usage_bucket": "OWN", "threshold_per_account_service": False}]),
            service("AS-2"),
        ),
    )
    assert [(c.level, c.instance.id) for c in units(res, "AS-1")] == [("account", "A/OWN")]
    assert [(c.level, c.instance.id) for c in units(res, "AS-2")] == [("account_service", "AS-2/OWN")]


def test_shared_allotment_keeps_the_instance_overrides(tmp_path: Path) -> None:
    """§1.11 / Q5: AS-1's instance of OWN overrides threshold_per_account_service false and recur_frequency
    "1 week".  The shared allotment recurs weekly from Jan 1 2026: Mar 15 is day 73 -> index 73 // 7 = 10,
    period [Jan 1 + 70 days = Mar 12, Mar 19) (the catalog's monthly period would be [Mar 1, Apr 1))."""
    cat = catalog(usage_buckets=[bucket("OWN")], phone_buckets=["OWN"])
    override = {"usage_bucket": "OWN", "threshold_per_account_service": False, "recur_frequency": "1 week"}
    res = resolver(tmp_path, cat, account("A", service("AS-1", buckets=[override])))
    found = one(res, "AS-1", d(2026, 3, 15))
    assert (found.period.index, found.period.start, found.period.end) == (10, d(2026, 3, 12), d(2026, 3, 19))


def test_parent_shared_allotment_is_reachable_by_children(tmp_path: Path) -> None:
    """Q5 / R11 level 3: parent P's phone carries SHARED (threshold_per_account_service false) -> one allotment
    "P/SHARED" on P.  P's child C has a phone without the bucket: its record should see "P/SHARED" at level
    "parent" (Q5: "the parent account's buckets with the per-service flag false, reachable by the parent's
    children")."""
    cat = catalog(usage_buckets=[bucket("SHARED", threshold_per_account_service=False)], phone_buckets=["SHARED"])
    res = resolver(
        tmp_path, cat, account("P", service("P-PHONE")), account("C", service("C-OTHER", "SVC-OTHER"), parent="P")
    )
    assert [(c.level, c.instance.id) for c in units(res, "P-PHONE")] == [("account", "P/SHARED")]
    assert [(c.level, c.instance.id) for c in units(res, "C-OTHER")] == [("parent", "P/SHARED")]


# --- R6: eligibility ------------------------------------------------------------------------------------------


def test_exclude_beats_include(tmp_path: Path) -> None:
    """R6 / E5: BB-LD includes LD to NORTH-AMERICA and excludes HAWAII.  USA and CANADA (under NORTH-AMERICA)
    are eligible; HAWAII is included by NORTH-AMERICA and excluded by itself -> not eligible; UK is not
    included; DATA is another class."""
    cat = catalog(usage_buckets=[bucket("LD-100", "100 min", base="BB-LD")], phone_buckets=["LD-100"])
    res = resolver(tmp_path, cat, account("A", service("AS-1")))
    owner = res.subscriptions.services["AS-1"]

    def eligible_at(location: str | None, usage_class: str = "LD") -> list[str]:
        return [c.instance.id for c in res.resolve(owner, usage_class, location, MAR).units]

    assert eligible_at("USA") == ["AS-1/LD-100"]
    assert eligible_at("CANADA") == ["AS-1/LD-100"]
    assert eligible_at("HAWAII") == []
    assert eligible_at("UK") == []
    assert eligible_at(None) == []
    assert eligible_at(None, "DATA") == []
    assert res.eligibility.eligible(res.catalog.usage_buckets["LD-100"], "LD", "USA")
    assert not res.eligibility.eligible(res.catalog.usage_buckets["LD-100"], "LD", "HAWAII")


def test_exclude_in_another_base_bucket_still_wins(tmp_path: Path) -> None:
    """R6 + R7/R48: a bucket over two base buckets is one pool over the union of their rules: BB-INC includes
    LD to EVERYWHERE, BB-EXC excludes the ISLANDS group (HAWAII, UK).  USA: included, not excluded -> eligible;
    UK and HAWAII: excluded by the second base bucket -> not eligible."""
    base = [
        {"id": "BB-DATA", "unit_type": "data", "details": [{"class": "DATA"}]},
        {"id": "BB-INC", "unit_type": "time", "details": [{"class": "LD", "location": "EVERYWHERE"}]},
        {
            "id": "BB-EXC",
            "unit_type": "time",
            "details": [{"class": "LD", "location_group": "ISLANDS", "exclude": True}],
        },
    ]
    two: Doc = {
        "id": "TWO",
        "base_buckets": ["BB-INC", "BB-EXC"],
        "recur_type": "recurring",
        "recur_frequency": "1 month",
        "tiers": [{"threshold": "60 min"}],
    }
    res = resolver(
        tmp_path, catalog(usage_buckets=[two], base_buckets=base, phone_buckets=["TWO"]), account("A", service("AS-1"))
    )
    owner = res.subscriptions.services["AS-1"]
    assert [c.instance.id for c in res.resolve(owner, "LD", "USA", MAR).units] == ["AS-1/TWO"]
    assert res.resolve(owner, "LD", "UK", MAR).units == []
    assert res.resolve(owner, "LD", "HAWAII", MAR).units == []


def test_eligibility_is_per_bucket_not_per_bucket_id(tmp_path: Path) -> None:
    """R6: usage bucket "POOL" holds DATA; share plan SP-SMS has a bucket also called "POOL" that holds SMS only.
    A DATA record of the phone is eligible for the usage bucket and must not be for the SMS pool: expected
    [AS-1/POOL] only; an SMS record sees only the share bucket A/SP-SMS/POOL."""
    sms_pool = {"id": "POOL", "type": "fixed", "base_buckets": ["BB-SMS"], "tiers": [{"threshold": 100}]}
    cat = catalog(usage_buckets=[bucket("POOL")], phone_buckets=["POOL"], share_plans=[share_plan("SP-SMS", sms_pool)])
    res = resolver(
        tmp_path, cat, account("A", service("AS-SELL", "SVC-SELL"), service("AS-1"), share_plans=[plan_on("SP-SMS")])
    )
    assert ids(res, "AS-1", usage_class="DATA") == ["AS-1/POOL"]
    assert ids(res, "AS-1", usage_class="SMS") == ["A/SP-SMS/POOL"]


# --- R10: active instances ------------------------------------------------------------------------------------


def test_instance_active_from_effective_until_cancel(tmp_path: Path) -> None:
    """R10 / R42: an instance effective Mar 10 (inclusive) and cancelled Mar 20 (exclusive): none on Mar 9,
    present Mar 10 and Mar 19, none on Mar 20."""
    cat = catalog(usage_buckets=[bucket("B1")])
    res = resolver(
        tmp_path,
        cat,
        account(
            "A",
            service(
                "AS-1",
                buckets=[{"id": "I1", "usage_bucket": "B1", "effective": d(2026, 3, 10), "cancel": d(2026, 3, 20)}],
            ),
        ),
    )
    assert ids(res, "AS-1", d(2026, 3, 9)) == []
    assert ids(res, "AS-1", d(2026, 3, 10)) == ["I1"]
    assert ids(res, "AS-1", d(2026, 3, 19)) == ["I1"]
    assert ids(res, "AS-1", d(2026, 3, 20)) == []


def test_catalog_bucket_follows_the_account_service_dates(tmp_path: Path) -> None:
    """R10 / §1.11: a catalog service bucket inherits the account-service's effective Feb 1 and cancel Apr 1."""
    cat = catalog(usage_buckets=[bucket("B1")], phone_buckets=["B1"])
    res = resolver(tmp_path, cat, account("A", service("AS-1", effective=d(2026, 2, 1), cancel=d(2026, 4, 1))))
    assert ids(res, "AS-1", d(2026, 1, 31)) == []
    assert ids(res, "AS-1", d(2026, 2, 1)) == ["AS-1/B1"]
    assert ids(res, "AS-1", d(2026, 3, 31)) == ["AS-1/B1"]
    assert ids(res, "AS-1", d(2026, 4, 1)) == []


# --- R37 / R38: expiry ----------------------------------------------------------------------------------------


def test_nonrecurring_expire_after_boundary(tmp_path: Path) -> None:
    """R37 / E10: 1,000 SMS nonrecurring, expire after 3 months, effective Mar 10: expires Mar 10 + 3 months =
    Jun 10 (end exclusive).  Jun 9 -> eligible, one period [Mar 10, Jun 10) of 1,000; Jun 10 -> expired."""
    cat = catalog(
        usage_buckets=[bucket("SMS-1000", "1000", recur="nonrecurring", base="BB-SMS", expire_after="3 months")]
    )
    res = resolver(
        tmp_path,
        cat,
        account("A", service("AS-1", buckets=[{"id": "NR", "usage_bucket": "SMS-1000", "effective": d(2026, 3, 10)}])),
    )
    on_jun_9 = one(res, "AS-1", d(2026, 6, 9), "SMS")
    assert (on_jun_9.period.index, on_jun_9.period.start, on_jun_9.period.end) == (0, d(2026, 3, 10), d(2026, 6, 10))
    assert on_jun_9.counter.allowance == 1000
    assert ids(res, "AS-1", d(2026, 6, 10), "SMS") == []


def _ear_resolver(tmp_path: Path, setting: str) -> Resolver:
    cat = catalog(
        usage_buckets=[bucket("EAR2", "10 GB", expire_after_recurrence=2)],
        phone_buckets=["EAR2"],
        settings={"time_zone": "UTC", "expire_after_recurrence": setting},
    )
    return resolver(tmp_path, cat, account("A", service("AS-1")))


def test_expire_after_recurrence_refills(tmp_path: Path) -> None:
    """R38 / E11: monthly 10 GB, Expire After Recurrence 2, effective Jan 1, setting "refills": the first fill
    plus 2 refills = Jan, Feb, Mar (periods 0, 1, 2); from Apr 1 there is no bucket."""
    res = _ear_resolver(tmp_path, "refills")
    march = one(res, "AS-1", d(2026, 3, 31))
    assert (march.period.index, march.period.start, march.period.end) == (2, d(2026, 3, 1), d(2026, 4, 1))
    assert ids(res, "AS-1", d(2026, 4, 1)) == []


def test_expire_after_recurrence_periods(tmp_path: Path) -> None:
    """R38 / Q10: setting "periods": N = 2 periods in total = Jan, Feb; from Mar 1 there is no bucket."""
    res = _ear_resolver(tmp_path, "periods")
    assert one(res, "AS-1", d(2026, 2, 28)).period.index == 1
    assert ids(res, "AS-1", d(2026, 3, 1)) == []


# --- R39 / R40 / R41: periods and proration -------------------------------------------------------------------


def test_bucket_periods_align_to_the_usage_bill_day(tmp_path: Path) -> None:
    """R39: account usage_bill_day 15 (bill_day 1), service effective Jan 1: the monthly bucket's period on
    Mar 20 is [Mar 15, Apr 15), index 3 (stub [Jan 1, Jan 15) is 0)."""
    cat = catalog(usage_buckets=[bucket("B1")], phone_buckets=["B1"])
    res = resolver(tmp_path, cat, account("A", service("AS-1"), usage_bill_day=15))
    found = one(res, "AS-1", d(2026, 3, 20))
    assert (found.period.index, found.period.start, found.period.end) == (3, d(2026, 3, 15), d(2026, 4, 15))
    assert found.counter.period == 3


def test_proration_on_add_halves_tier_1(tmp_path: Path) -> None:
    """R40 / E12: T1 30 GB, T2 10 GB, Prorate on, added Jun 16, bill day 1: period [Jun 16, Jul 1) of the 30-day
    June -> T1 = 30 x 15/30 = 15 GB, T2 unchanged; allowance 25 GB; full allowance (for rollover) 40 GB.  In
    July T1 is back to 30 GB."""
    e12 = bucket("E12", prorate=True)
    e12["tiers"] = [{"threshold": "30 GB"}, {"threshold": "10 GB", "flat_charge": "8.00"}]
    cat = catalog(usage_buckets=[e12], phone_buckets=["E12"])
    res = resolver(tmp_path, cat, account("A", service("AS-1"), effective=d(2026, 6, 16)))
    june = one(res, "AS-1", d(2026, 6, 20))
    assert june.tiers.sizes == (15 * GB, 10 * GB)
    assert (june.counter.allowance, june.counter.full_allowance) == (25 * GB, 40 * GB)
    assert res.allotments.prorated(june.instance, june.period) == (15, 30)
    assert one(res, "AS-1", d(2026, 7, 1)).tiers.sizes == (30 * GB, 10 * GB)


def test_proration_on_cancel_cuts_tier_1(tmp_path: Path) -> None:
    """R41 / E13: same bucket, full September (30 days), cancelled Sept 11: active Sept 1-10 = 10 days ->
    T1 = 30 x 10/30 = 10 GB.  Without Prorate the tiers stay whole."""
    e13 = bucket("E13", prorate=True)
    e13["tiers"] = [{"threshold": "30 GB"}, {"threshold": "10 GB"}]
    plain = bucket("PLAIN", "30 GB")
    cat = catalog(usage_buckets=[e13, plain], phone_buckets=["E13", "PLAIN"])
    res = resolver(tmp_path, cat, account("A", service("AS-1", cancel=d(2026, 9, 11))))
    found = {c.instance.id: c for c in units(res, "AS-1", d(2026, 9, 5))}
    assert found["AS-1/E13"].tiers.sizes == (10 * GB, 10 * GB)
    assert found["AS-1/PLAIN"].tiers.sizes == (30 * GB,)


def _e9(tmp_path: Path, rollover_size: str) -> Resolver:
    """E9: rollover bucket T1 10 GB free, T2 5 GB flat $5, monthly from Jan 1."""
    e9 = bucket("E9", recur="recurring_rollover")
    e9["tiers"] = [{"threshold": "10 GB"}, {"threshold": "5 GB", "flat_charge": "5.00"}]
    cat = catalog(
        usage_buckets=[e9], phone_buckets=["E9"], settings={"time_zone": "UTC", "rollover_size": rollover_size}
    )
    return resolver(tmp_path, cat, account("A", service("AS-1")))


def test_rollover_carry_joins_tier_1_next_period(tmp_path: Path) -> None:
    """R36 / E9 (rollover_size cumulative): S = E2 = 10 + 5 = 15 GB.  January uses 12 GB ->
    R = 15 - 12 = 3 GB.  February's counter carries 3 GB (allowance 15 + 3 = 18 GB) and its tiers with the carry
    are T1 = 10 + 3 = 13 GB, T2 = 5 GB."""
    res = _e9(tmp_path, "cumulative")
    store = Twin()
    january = one(res, "AS-1", d(2026, 1, 10))
    assert (january.counter.allowance, january.counter.full_allowance, january.counter.rollover) == (
        15 * GB,
        15 * GB,
        True,
    )
    store.draw("jan", 12 * GB, [january.counter])
    february = one(res, "AS-1", d(2026, 2, 10))
    drawn = store.draw("feb", 1, [february.counter]).draws[0]
    assert (drawn.carry, drawn.allowance) == (3 * GB, 18 * GB)
    assert february.tiers.with_carry(drawn.carry) == (13 * GB, 5 * GB)


def test_rollover_size_last_tier(tmp_path: Path) -> None:
    """R36 / Q3 alternative (rollover_size last_tier): S = s2 = 5 GB.  January uses 2 GB -> R = max(0, 5 - 2) =
    3 GB (cumulative would carry 15 - 2 = 13 GB); February's allowance is 15 + 3 = 18 GB."""
    res = _e9(tmp_path, "last_tier")
    store = Twin()
    store.draw("jan", 2 * GB, [one(res, "AS-1", d(2026, 1, 10)).counter])
    drawn = store.draw("feb", 1, [one(res, "AS-1", d(2026, 2, 10)).counter]).draws[0]
    assert (drawn.carry, drawn.allowance) == (3 * GB, 18 * GB)


# --- R57: share level -----------------------------------------------------------------------------------------


def _e20(tmp_path: Path, level: str) -> Resolver:
    """E20: P is the usage invoicer of C1 and C2; C3 (also P's child) bills its own usage.  P holds the plan."""
    cat = catalog(share_plans=[share_plan("SP", fixed(), share_level=level)])
    return resolver(
        tmp_path,
        cat,
        account("P", service("P-SELL", "SVC-SELL"), service("P-PHONE"), share_plans=[plan_on("SP")]),
        account("C1", service("C1-PHONE"), parent="P", usage_invoicer="P"),
        account("C2", service("C2-PHONE"), parent="P", usage_invoicer="P"),
        account("C3", service("C3-PHONE"), parent="P"),
    )


def test_share_level_usage_invoicer_scope(tmp_path: Path) -> None:
    """R57 / E20, share level usage_invoicer: P's own phone and the phones of C1 and C2 (usage invoicer P) draw
    "P/SP/SPB"; C3's phone does not."""
    res = _e20(tmp_path, "usage_invoicer")
    for phone in ("P-PHONE", "C1-PHONE", "C2-PHONE"):
        assert [(c.level, c.instance.id) for c in units(res, phone)] == [("share_plan", "P/SP/SPB")]
    assert units(res, "C3-PHONE") == []


def test_share_level_account_scope(tmp_path: Path) -> None:
    """R57 / E20, share level account: only P's own phone takes part."""
    res = _e20(tmp_path, "account")
    assert ids(res, "P-PHONE") == ["P/SP/SPB"]
    for phone in ("C1-PHONE", "C2-PHONE", "C3-PHONE"):
        assert units(res, phone) == []


def test_share_plan_tie_break_order(tmp_path: Path) -> None:
    """R12 / E28: SP-A (tie_break 2) and SP-B (tie_break 1) on one account: SP-B is drawn first whatever the
    order of the account's list; both after the phone's own bucket (R58)."""
    cat = catalog(
        usage_buckets=[bucket("OWN")],
        phone_buckets=["OWN"],
        share_plans=[share_plan("SP-A", fixed()), share_plan("SP-B", fixed())],
    )
    res = resolver(
        tmp_path,
        cat,
        account(
            "A",
            service("AS-SELL", "SVC-SELL"),
            service("AS-1"),
            share_plans=[plan_on("SP-A", tie_break=2), plan_on("SP-B", tie_break=1)],
        ),
    )
    assert ids(res, "AS-1") == ["AS-1/OWN", "A/SP-B/SPB", "A/SP-A/SPB"]


# --- R59 / R60 / Q15: pool sizes ------------------------------------------------------------------------------


def _pool_resolver(tmp_path: Path, pool: Doc, *extra_services: Doc) -> Resolver:
    """Account A holds plan SP with ``pool``; phones PH1, PH2 from Jan 1, PH3 added Jan 20, PH4 cancelled
    Jan 10 (effective Jan 1)."""
    cat = catalog(share_plans=[share_plan("SP", pool)])
    return resolver(
        tmp_path,
        cat,
        account(
            "A",
            service("AS-SELL", "SVC-SELL"),
            service("PH1"),
            service("PH2"),
            service("PH3", effective=d(2026, 1, 20)),
            service("PH4", cancel=d(2026, 1, 10)),
            *extra_services,
            share_plans=[plan_on("SP")],
        ),
    )


VST: Doc = {
    "id": "SPB",
    "type": "variable_single_tier",
    "base_buckets": ["BB-DATA"],
    "tiers": [{}],
    "participants": [{"participant": "SVC-PHONE", "contribution": "1 GB"}],
}


def test_variable_single_tier_sums_active_contributions(tmp_path: Path) -> None:
    """R59 VST / R60 / Q15, 1 GB per phone:
    Jan 5: PH1, PH2, PH4 (active; PH3 not yet) -> 3 GB.
    Jan 19: PH4 left on Jan 10 but counts until the next reset; PH3 not yet -> 3 GB.
    Jan 20: PH3 joins that day, not prorated (R43) -> 4 GB.
    Feb 5: new period; PH4 (cancelled Jan 10 <= Feb 1) no longer counts -> PH1, PH2, PH3 = 3 GB."""
    res = _pool_resolver(tmp_path, VST)
    assert one(res, "PH1", d(2026, 1, 5)).tiers.sizes == (3 * GB,)
    assert one(res, "PH1", d(2026, 1, 19)).tiers.sizes == (3 * GB,)
    jan20 = one(res, "PH1", d(2026, 1, 20))
    assert jan20.tiers.sizes == (4 * GB,)
    assert jan20.counter.allowance == 4 * GB
    feb = one(res, "PH2", d(2026, 2, 5))
    assert (feb.period.index, feb.tiers.sizes) == (1, (3 * GB,))


def test_variable_multiple_tier_grows_per_contributor(tmp_path: Path) -> None:
    """R59 VMT / E17: tier growth T1 500 MB, T2 250 MB.
    Jan 5: 3 contributors (PH1, PH2, PH4) -> (1,500 MB, 750 MB).
    Jan 20: PH3 joins -> 4 contributors -> (2,000 MB, 1,000 MB) (E17's pool).
    Feb 5: PH4 gone -> 3 -> (1,500 MB, 750 MB)."""
    vmt = {
        "id": "SPB",
        "type": "variable_multiple_tier",
        "base_buckets": ["BB-DATA"],
        "tiers": [{"tier_growth": "500 MB"}, {"tier_growth": "250 MB", "flat_charge": "5.00"}],
        "participants": [{"participant": "SVC-PHONE", "contribution": "1 MB"}],
    }
    res = _pool_resolver(tmp_path, vmt)
    assert one(res, "PH1", d(2026, 1, 5)).tiers.sizes == (1500 * MB, 750 * MB)
    assert one(res, "PH1", d(2026, 1, 20)).tiers.sizes == (2000 * MB, 1000 * MB)
    assert one(res, "PH1", d(2026, 2, 5)).tiers.sizes == (1500 * MB, 750 * MB)


def test_fixed_pool_ignores_contributions(tmp_path: Path) -> None:
    """R59 Fixed / E15: the configured 10 GB whatever the number of phones."""
    res = _pool_resolver(tmp_path, fixed())
    assert one(res, "PH1", d(2026, 1, 5)).tiers.sizes == (10 * GB,)
    assert one(res, "PH1", d(2026, 1, 20)).tiers.sizes == (10 * GB,)


def test_usage_invoicer_pool_counts_contributors_in_scope(tmp_path: Path) -> None:
    """R57 + R59 VST: a usage_invoicer-level pool on P at 1 GB per phone counts P-PHONE, C1-PHONE and C2-PHONE
    (3 GB) and not C3-PHONE (C3 invoices itself); at share level account only P-PHONE (1 GB)."""
    for level, size in (("usage_invoicer", 3 * GB), ("account", GB)):
        folder = tmp_path / level
        cat = catalog(share_plans=[share_plan("SP", VST, share_level=level)])
        res = resolver(
            folder,
            cat,
            account("P", service("P-SELL", "SVC-SELL"), service("P-PHONE"), share_plans=[plan_on("SP")]),
            account("C1", service("C1-PHONE"), parent="P", usage_invoicer="P"),
            account("C2", service("C2-PHONE"), parent="P", usage_invoicer="P"),
            account("C3", service("C3-PHONE"), parent="P"),
        )
        assert one(res, "P-PHONE").tiers.sizes == (size,)


def test_rollover_pool_rolls_an_untouched_period_forward_in_full(tmp_path: Path) -> None:
    """R36 + R59 VST: a recurring_rollover pool of 1 GB per phone, phones PH1, PH2 from Jan 1 (2 GB).
    January: PH1 uses 0.5 GB -> 1.5 GB unused.  February: nobody draws, so its whole 2 GB + 1.5 GB = 3.5 GB is
    unused.  March: carry 3.5 GB, allowance 2 + 3.5 = 5.5 GB.  The counter's full allowance is the 2 GB pool."""
    pool = dict(VST, recur_type="recurring_rollover")
    cat = catalog(share_plans=[share_plan("SP", pool)])
    res = resolver(
        tmp_path,
        cat,
        account("A", service("AS-SELL", "SVC-SELL"), service("PH1"), service("PH2"), share_plans=[plan_on("SP")]),
    )
    store = Twin()
    january = one(res, "PH1", d(2026, 1, 10))
    assert january.counter.allowance == 2 * GB
    store.draw("jan", GB // 2, [january.counter])
    march = one(res, "PH1", d(2026, 3, 10))
    drawn = store.draw("mar", 1, [march.counter]).draws[0]
    assert (drawn.carry, drawn.allowance) == (3 * GB + GB // 2, 5 * GB + GB // 2)
    assert march.counter.full_allowance == 2 * GB


# --- R64: add-ons ---------------------------------------------------------------------------------------------


def test_add_on_allotment_joins_tier_1(tmp_path: Path) -> None:
    """R64: Fixed pool T1 10 GB, T2 5 GB; add-on package PKG-ADDON adds 2 GB to SPB.  Account A buys it on
    Jan 15: Jan 14 -> (10 GB, 5 GB); Jan 15 -> (12 GB, 5 GB), tier 2 unchanged."""
    pool = fixed()
    pool["tiers"] = [{"threshold": "10 GB"}, {"threshold": "5 GB"}]
    packages: list[Doc] = [
        {"id": "PKG-1", "services": ["SVC-PHONE", "SVC-OTHER", "SVC-SELL"]},
        {
            "id": "PKG-ADDON",
            "services": ["SVC-OTHER"],
            "share_plan_add_on": {"share_plan": "SP", "allotments": [{"bucket": "SPB", "amount": "2 GB"}]},
        },
    ]
    cat = catalog(share_plans=[share_plan("SP", pool)], packages=packages)
    holder = account("A", service("AS-SELL", "SVC-SELL"), service("AS-1"), share_plans=[plan_on("SP")])
    holder["packages"].append(
        {
            "id": "A-ADDON",
            "package": "PKG-ADDON",
            "effective": d(2026, 1, 15),
            "services": [service("AS-ADD", "SVC-OTHER")],
        }
    )
    res = resolver(tmp_path, cat, holder)
    assert one(res, "AS-1", d(2026, 1, 14)).tiers.sizes == (10 * GB, 5 * GB)
    jan15 = one(res, "AS-1", d(2026, 1, 15))
    assert jan15.tiers.sizes == (12 * GB, 5 * GB)
    assert jan15.counter.allowance == 17 * GB


# --- R61: participation limits --------------------------------------------------------------------------------


def test_participation_limit_per_participant_instance(tmp_path: Path) -> None:
    """R61 / E18: package-type plan, PKG-X with limit 1 GB and contribution 100 MB; two instances X01, X02.
    Each instance's record carries the limit field l:<period>:<account-package>: in March (period 0 from
    Mar 1) l:0:X01 and l:0:X02, limit 10^9 B; in April l:1:X01.  Pool = 2 x 100 MB = 200 MB."""
    pool = {
        "id": "SPB",
        "type": "variable_single_tier",
        "base_buckets": ["BB-DATA"],
        "tiers": [{}],
        "participants": [{"participant": "PKG-X", "contribution": "100 MB", "participation_limit": "1 GB"}],
    }
    packages = [
        {"id": "PKG-1", "services": ["SVC-PHONE", "SVC-OTHER", "SVC-SELL"]},
        {"id": "PKG-X", "services": ["SVC-PHONE"]},
    ]
    cat = catalog(
        share_plans=[share_plan("SP", pool, participating_type="package", participants=["PKG-X"])], packages=packages
    )
    holder = account("A", service("AS-SELL", "SVC-SELL"), share_plans=[plan_on("SP", d(2026, 3, 1))])
    for number in (1, 2):
        holder["packages"].append(
            {
                "id": f"X0{number}",
                "package": "PKG-X",
                "effective": d(2026, 3, 1),
                "services": [service(f"X0{number}-PHONE")],
            }
        )
    res = resolver(tmp_path, cat, holder)
    first, second = one(res, "X01-PHONE"), one(res, "X02-PHONE")
    assert (first.participant, first.counter.limit_field, first.counter.limit) == ("X01", "l:0:X01", GB)
    assert (second.participant, second.counter.limit_field, second.counter.limit) == ("X02", "l:0:X02", GB)
    assert first.counter.key == second.counter.key
    assert first.tiers.sizes == (200 * MB,)
    assert one(res, "X01-PHONE", d(2026, 4, 2)).counter.limit_field == "l:1:X01"


def test_service_participant_limit_and_no_limit(tmp_path: Path) -> None:
    """R61: service-type plan: the participant instance is the account-service (l:2:AS-1 in March for a plan
    effective Jan 1); a participant entry without a limit is still counted in its own field, under the
    limit no draw reaches (UNLIMITED), so balances can show its use."""
    limited = fixed(participants=[{"participant": "SVC-PHONE", "participation_limit": "3 GB"}])
    cat = catalog(share_plans=[share_plan("SP", limited), share_plan("SP-FREE", fixed())])
    res = resolver(
        tmp_path,
        cat,
        account(
            "A",
            service("AS-SELL", "SVC-SELL"),
            service("AS-1"),
            share_plans=[plan_on("SP", tie_break=1), plan_on("SP-FREE", tie_break=2)],
        ),
    )
    limited_candidate, free_candidate = units(res, "AS-1")
    assert (limited_candidate.participant, limited_candidate.counter.limit_field) == ("AS-1", "l:2:AS-1")
    assert limited_candidate.counter.limit == 3 * GB
    assert (free_candidate.counter.limit_field, free_candidate.counter.limit) == ("l:2:AS-1", UNLIMITED)


def test_bucket_participant_list_restricts_participants(tmp_path: Path) -> None:
    """R55 / §1.12a: a bucket whose participant list names SVC-OTHER only serves SVC-OTHER, though SVC-PHONE
    takes part in the plan."""
    only_other = fixed(participants=[{"participant": "SVC-OTHER"}])
    cat = catalog(share_plans=[share_plan("SP", only_other, participants=["SVC-PHONE", "SVC-OTHER"])])
    res = resolver(
        tmp_path,
        cat,
        account(
            "A",
            service("AS-SELL", "SVC-SELL"),
            service("AS-1"),
            service("AS-2", "SVC-OTHER"),
            share_plans=[plan_on("SP")],
        ),
    )
    assert units(res, "AS-1") == []
    assert ids(res, "AS-2") == ["A/SP/SPB"]


# --- sharing roots --------------------------------------------------------------------------------------------


def _accounts(*docs: Doc) -> dict[str, Account]:
    return {doc["id"]: Account.model_validate(doc) for doc in docs}


def test_sharing_roots_group_linked_accounts_and_pick_the_smallest_id() -> None:
    """Architecture property 5: "M2" has parent "Z1"; "K3" has usage invoicer "M2"; so Z1, M2, K3 are one scope
    whose root is min("K3", "M2", "Z1") = "K3".  "Q9" is alone (root "Q9").  "B5" has parent "Z1" too -> the
    scope gains B5 and its root becomes "B5".  The result does not depend on the accounts' order."""
    docs: list[Doc] = [
        {"id": "Z1"},
        {"id": "M2", "parent": "Z1"},
        {"id": "K3", "usage_invoicer": "M2"},
        {"id": "Q9"},
    ]
    roots = sharing_roots(_accounts(*docs))
    assert roots == {"Z1": "K3", "M2": "K3", "K3": "K3", "Q9": "Q9"}
    assert sharing_roots(_accounts(*reversed(docs))) == roots
    wider = sharing_roots(_accounts(*docs, {"id": "B5", "parent": "Z1"}))
    assert wider == {"Z1": "B5", "M2": "B5", "K3": "B5", "Q9": "Q9", "B5": "B5"}


def test_store_keys_carry_the_sharing_root(tmp_path: Path) -> None:
    """Architecture property 5: child "A-CHILD" of parent "Z-PARENT": the root is "A-CHILD", and the parent's
    own bucket key carries {A-CHILD} too (InstanceIndex.root agrees)."""
    cat = catalog(usage_buckets=[bucket("B1")], phone_buckets=["B1"])
    res = resolver(
        tmp_path,
        cat,
        account("Z-PARENT", service("Z-PHONE")),
        account("A-CHILD", service("A-PHONE"), parent="Z-PARENT"),
    )
    assert res.index.root("Z-PARENT") == res.index.root("A-CHILD") == "A-CHILD"
    assert one(res, "Z-PHONE").counter.key == bucket_key("A-CHILD", "Z-PHONE/B1")


def test_share_plan_model_is_loaded(tmp_path: Path) -> None:
    """Sanity for the builders: the share plan instance carries its catalog plan and the holder's bill day."""
    cat = catalog(share_plans=[share_plan("SP", fixed())])
    res = resolver(
        tmp_path,
        cat,
        account("A", service("AS-SELL", "SVC-SELL"), service("AS-1"), share_plans=[plan_on("SP")], usage_bill_day=10),
    )
    found = one(res, "AS-1", d(2026, 3, 12))
    assert isinstance(found.instance.share_plan, SharePlan)
    assert (found.period.start, found.period.end) == (d(2026, 3, 10), d(2026, 4, 10))
