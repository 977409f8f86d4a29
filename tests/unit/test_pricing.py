"""Rate-plan pricing (rater.pricing): plan selection R24-R26, group and rate selection R27-R28, rounding R29,
charge R30.  Every catalog is YAML loaded from a temporary folder (tests/unit/_builders.py).

Unless a test says otherwise the record is 60 s of VOICE on Monday 2 March 2026 10:00 UTC, so a rate of
$X per minute charges 60,000 ms / 60,000 ms-per-min x X = 1 min x X = $X.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rater.catalog.model import Rate, RoundingRule, TimePeriod
from rater.errors import ExceptionType, RatingError
from rater.pricing import (
    billable_quantity,
    charge,
    find_rate,
    in_time_period,
    plan_candidates,
    select_rate_plan,
)
from rater.rating import Rater
from rater.units import UnitType
from tests.unit._builders import (
    GEOTREE,
    USAGE_CLASSES,
    WHEN,
    Doc,
    account,
    catalog_doc,
    charge_of,
    group,
    line,
    load,
    make_rater,
    rate,
    rated,
    rating_error,
    record,
    subscriptions_doc,
)

MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)

# --- R24-R26: the rate-plan hierarchy ----------------------------------------------------------------------

#: R24 levels, lowest first, each with its own plan, a distinct VOICE price per minute and where it is attached.
LEVELS: list[tuple[str, str, str, str]] = [
    ("bucket_overage", "RP-BUCKET-OVERAGE", "0.01", "AS-1"),
    ("account_service", "RP-ACCOUNT-SERVICE", "0.02", "AS-1"),
    ("package_service", "RP-PACKAGE-SERVICE", "0.03", "PKG-1"),
    ("account_package", "RP-ACCOUNT-PACKAGE", "0.04", "AP-1"),
    ("package_frequency", "RP-PACKAGE-FREQUENCY", "0.05", "PKG-1/MONTHLY"),
    ("account", "RP-ACCOUNT", "0.06", "ACC-1"),
    ("parent", "RP-PARENT", "0.07", "ACC-PARENT"),
    ("usage_invoicer", "RP-USAGE-INVOICER", "0.08", "ACC-INVOICER"),
    ("owner", "RP-OWNER", "0.09", "OWNER"),
]
PLAN = {level: plan for level, plan, _, _ in LEVELS}


def hierarchy(
    levels: set[str], *, inheritance: bool = True, starts: dict[str, dt.date] | None = None
) -> tuple[Doc, Doc]:
    """Catalog and subscriptions where the plan of each level in ``levels`` is attached at that level.

    Account ACC-1 (parent ACC-PARENT, usage invoicer ACC-INVOICER) holds account-package AP-1 of PKG-1
    (frequency MONTHLY) with account-service AS-1 of SVC-1.  ``starts`` gives a level's only rate group a start.
    """
    starts = starts or {}

    def plan_ref(level: str) -> Doc:
        return {"rate_plan": PLAN[level]} if level in levels else {}

    plans = []
    for level, plan_id, amount, _ in LEVELS:
        extra: dict[str, Any] = {"start": starts[level]} if level in starts else {}
        plans.append(
            {"id": plan_id, "precision": 2, "rate_groups": [group(f"G-{level}", rate("VOICE", amount), **extra)]}
        )
    catalog: Doc = {
        "settings": {"time_zone": "UTC", "parent_rate_plan_inheritance": inheritance},
        "owner": {"id": "OWNER", "currency": "USD", **plan_ref("owner")},
        "usage_classes": USAGE_CLASSES,
        "geotree": GEOTREE,
        "rate_plans": plans,
        "services": [{"id": "SVC-1"}],
        "packages": [
            {
                "id": "PKG-1",
                "services": [{"service": "SVC-1", **plan_ref("package_service")}],
                "frequencies": [{"id": "MONTHLY", "every": "1 month", **plan_ref("package_frequency")}],
            }
        ],
    }
    acc = account(
        "ACC-1",
        rate_plan=PLAN["account"] if "account" in levels else None,
        parent="ACC-PARENT",
        usage_invoicer="ACC-INVOICER",
    )
    acc["packages"][0].update(frequency="MONTHLY", **plan_ref("account_package"))
    acc["packages"][0]["services"][0].update(plan_ref("account_service"))
    subscriptions = {
        "accounts": [
            acc,
            {"id": "ACC-PARENT", **plan_ref("parent")},
            {"id": "ACC-INVOICER", **plan_ref("usage_invoicer")},
        ]
    }
    return catalog, subscriptions


def _choose(tmp_path: Path, levels: set[str], **options: Any) -> tuple[Rater, Any]:
    catalog, subscriptions = hierarchy(levels, **options)
    rater = make_rater(tmp_path, catalog, subscriptions)
    owner = rater.subscriptions.services["AS-1"]
    overage = PLAN["bucket_overage"] if "bucket_overage" in levels else None
    return rater, select_rate_plan(rater.catalog, rater.subscriptions, owner, MONDAY_10, overage_plan=overage)


def test_plan_candidates_in_r24_order(tmp_path: Path) -> None:
    """R24 (+R26 placement): with a plan at every level the candidates come lowest level first:
    bucket overage, account-service, package-service, account-package, package frequency, account, parent,
    usage invoicer, owner."""
    catalog, subscriptions = load(tmp_path, *hierarchy({level for level, *_ in LEVELS}))
    owner = subscriptions.services["AS-1"]
    candidates = list(plan_candidates(catalog, subscriptions, owner, overage_plan=PLAN["bucket_overage"]))
    assert candidates == [(level, attached, plan) for level, plan, _, attached in LEVELS]


@pytest.mark.parametrize("lowest", range(len(LEVELS)), ids=[level for level, *_ in LEVELS])
def test_lowest_level_plan_wins(tmp_path: Path, lowest: int) -> None:
    """R24, like E4: plans sit at every level from ``lowest`` up to owner; the lowest one wins.  Removing
    levels one at a time from the bottom walks the hierarchy: bucket overage ($0.01/min) -> account-service
    ($0.02) -> package-service ($0.03) -> account-package ($0.04) -> package frequency ($0.05) -> account
    ($0.06) -> parent ($0.07) -> usage invoicer ($0.08) -> owner ($0.09).

    Rated through the pipeline (no bucket, so no overage plan there): 60 s = 1 min x $0.0N = $0.0N, billed
    to the usage invoicer ACC-INVOICER.
    """
    level, plan_id, amount, attached = LEVELS[lowest]
    rater, choice = _choose(tmp_path, {name for name, *_ in LEVELS[lowest:]})
    assert (choice.level, choice.plan.id, choice.attached_to) == (level, plan_id, attached)
    if level != "bucket_overage":
        charged = line(rater)
        assert (charged.rate_plan_level, charged.rate_plan, charged.rate_plan_attached_to) == (level, plan_id, attached)
        assert charged.amount == Decimal(amount)
        assert charged.billed_to == "ACC-INVOICER"


def test_no_plan_anywhere_is_rate_plan_not_defined(tmp_path: Path) -> None:
    """R25, E4 last step: with the owner plan removed too there is no plan at any level ->
    "Usage Rate Plan not defined for Account Service or Usage Rate Plan Inheritance Hierarchy"."""
    catalog, subscriptions = hierarchy(set())
    rater = make_rater(tmp_path, catalog, subscriptions)
    owner = rater.subscriptions.services["AS-1"]
    with pytest.raises(RatingError) as caught:
        select_rate_plan(rater.catalog, rater.subscriptions, owner, MONDAY_10)
    assert caught.value.type is ExceptionType.RATE_PLAN_NOT_DEFINED
    assert caught.value.account == "ACC-1"
    assert caught.value.message.startswith("Usage Rate Plan not defined for Account Service")
    assert rating_error(rater).type is ExceptionType.RATE_PLAN_NOT_DEFINED


def test_plan_whose_groups_all_start_later_counts_as_no_plan(tmp_path: Path) -> None:
    """R25: the account-service plan's only group starts 1 April 2026; on 2 March it counts as no plan and
    the account plan wins ($0.06); from 1 April 00:00 (start inclusive) the account-service plan wins ($0.02)."""
    catalog, subscriptions = hierarchy({"account_service", "account"}, starts={"account_service": dt.date(2026, 4, 1)})
    rater = make_rater(tmp_path, catalog, subscriptions)
    early = line(rater)
    assert (early.rate_plan_level, early.amount) == ("account", Decimal("0.06"))
    on_start = line(rater, event_time="2026-04-01T00:00:00Z")
    assert (on_start.rate_plan_level, on_start.amount) == ("account_service", Decimal("0.02"))
    before_start = line(rater, event_time="2026-03-31T23:59:59Z")
    assert before_start.rate_plan_level == "account"


def test_only_future_plans_is_rate_plan_not_defined(tmp_path: Path) -> None:
    """R25: when the only plan in the hierarchy has all its groups starting later -> rate_plan_not_defined."""
    catalog, subscriptions = hierarchy({"owner"}, starts={"owner": dt.date(2026, 4, 1)})
    rater = make_rater(tmp_path, catalog, subscriptions)
    assert rating_error(rater).type is ExceptionType.RATE_PLAN_NOT_DEFINED


def test_parent_level_skipped_without_inheritance(tmp_path: Path) -> None:
    """R26/Q22: plans on the parent, the usage invoicer and the owner.  With
    settings.parent_rate_plan_inheritance true the parent plan wins ($0.07); with it false the parent chain is
    not searched and the usage invoicer's plan wins ($0.08)."""
    levels = {"parent", "usage_invoicer", "owner"}
    _, on = _choose(tmp_path / "on", levels, inheritance=True)
    _, off = _choose(tmp_path / "off", levels, inheritance=False)
    assert (on.level, on.attached_to) == ("parent", "ACC-PARENT")
    assert (off.level, off.attached_to) == ("usage_invoicer", "ACC-INVOICER")


def test_parent_chain_nearest_first(tmp_path: Path) -> None:
    """R26: the parent chain is searched nearest first: ACC-1 -> ACC-PARENT (no plan) -> ACC-GRAND (RP-GRAND,
    $0.07) -> ACC-TOP (RP-TOP, $0.11); the grandparent's plan is used at level "parent" ($0.07)."""
    catalog = catalog_doc([group("G", rate("VOICE", "0.07"))])
    catalog["rate_plans"] = [
        {"id": "RP-GRAND", "precision": 2, "rate_groups": [group("G", rate("VOICE", "0.07"))]},
        {"id": "RP-TOP", "precision": 2, "rate_groups": [group("G", rate("VOICE", "0.11"))]},
    ]
    subscriptions = {
        "accounts": [
            account("ACC-1", rate_plan=None, parent="ACC-PARENT"),
            {"id": "ACC-PARENT", "parent": "ACC-GRAND"},
            {"id": "ACC-GRAND", "parent": "ACC-TOP", "rate_plan": "RP-GRAND"},
            {"id": "ACC-TOP", "rate_plan": "RP-TOP"},
        ]
    }
    charged = line(make_rater(tmp_path, catalog, subscriptions))
    assert (charged.rate_plan_level, charged.rate_plan_attached_to, charged.amount) == (
        "parent",
        "ACC-GRAND",
        Decimal("0.07"),
    )
    assert charged.billed_to == "ACC-1"  # no usage invoicer: the account itself


@pytest.mark.parametrize(
    ("frequency", "expected_level"),
    [
        (None, "package_frequency"),  # no frequency chosen: the package's first (default) frequency
        ("MONTHLY", "package_frequency"),
        ("YEARLY", "account"),  # the chosen frequency has no plan; MONTHLY's plan does not apply
    ],
)
def test_package_frequency_level_uses_the_chosen_frequency(
    tmp_path: Path, frequency: str | None, expected_level: str
) -> None:
    """R24 level 5: the plan of the account-package's frequency (its package's first frequency when none is
    chosen).  MONTHLY carries RP-PACKAGE-FREQUENCY, YEARLY none; the account plan is the next level up."""
    catalog, subscriptions = hierarchy({"package_frequency", "account"})
    catalog["packages"][0]["frequencies"].append({"id": "YEARLY", "every": "1 year"})
    package = subscriptions["accounts"][0]["packages"][0]
    package.pop("frequency")
    if frequency is not None:
        package["frequency"] = frequency
    assert line(make_rater(tmp_path, catalog, subscriptions)).rate_plan_level == expected_level


# --- R27: which rate group ---------------------------------------------------------------------------------


def _voice(tmp_path: Path, *groups: Doc, **options: Any) -> Rater:
    return make_rater(tmp_path, catalog_doc(list(groups), **options), subscriptions_doc())


def test_group_starting_later_is_skipped(tmp_path: Path) -> None:
    """R27: group LATER (start 2026-04-01, $0.02/min) is skipped on 2 March, so STANDARD ($0.05/min) is used:
    1 min x 0.05 = $0.05.  From 1 April 00:00 (start inclusive) LATER is used: 1 min x 0.02 = $0.02."""
    rater = _voice(
        tmp_path,
        group("LATER", rate("VOICE", "0.02"), start=dt.date(2026, 4, 1)),
        group("STANDARD", rate("VOICE", "0.05")),
    )
    march = line(rater)
    assert (march.rate_group, march.amount) == ("STANDARD", Decimal("0.05"))
    april = line(rater, event_time="2026-04-01T00:00:00Z")
    assert (april.rate_group, april.amount) == ("LATER", Decimal("0.02"))


@pytest.mark.parametrize(
    ("event_time", "expected_group"),
    [
        ("2026-03-02T09:59:59Z", "OLD"),  # one second before retirement: still usable
        ("2026-03-02T10:00:00Z", "STANDARD"),  # retired exactly now: skipped (exclusive end)
        ("2026-03-02T10:00:01Z", "STANDARD"),
    ],
)
def test_retired_group_is_skipped(tmp_path: Path, event_time: str, expected_group: str) -> None:
    """R27: group OLD is retired at 2026-03-02 10:00:00Z (the end of its use, exclusive).  A call at 09:59:59
    uses OLD; at 10:00:00 and later OLD is skipped and STANDARD is used."""
    rater = _voice(
        tmp_path,
        group("OLD", rate("VOICE", "0.02"), retired=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)),
        group("STANDARD", rate("VOICE", "0.05")),
    )
    assert line(rater, event_time=event_time).rate_group == expected_group


def test_retired_date_is_midnight_in_the_catalog_zone(tmp_path: Path) -> None:
    """R27: a retirement given as a date (2026-03-02) ends the group's use at 00:00 that day (catalog zone UTC):
    1 March 23:59:59 uses OLD, 2 March 00:00:00 uses STANDARD."""
    rater = _voice(
        tmp_path,
        group("OLD", rate("VOICE", "0.02"), retired=dt.date(2026, 3, 2)),
        group("STANDARD", rate("VOICE", "0.05")),
    )
    assert line(rater, event_time="2026-03-01T23:59:59Z").rate_group == "OLD"
    assert line(rater, event_time="2026-03-02T00:00:00Z").rate_group == "STANDARD"


def _period(*details: Doc) -> TimePeriod:
    return TimePeriod.model_validate({"id": "TP", "details": list(details)})


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (dt.datetime(2026, 3, 2, 16, 59, 59), False),  # Monday, one second before "from"
        (dt.datetime(2026, 3, 2, 17, 0), True),  # Monday 17:00: "from" is inclusive
        (dt.datetime(2026, 3, 2, 20, 59, 59, 999999), True),
        (dt.datetime(2026, 3, 2, 21, 0, 59, 999999), True),  # Monday 21:00:59: "to" holds its whole minute
        (dt.datetime(2026, 3, 2, 21, 1), False),  # Monday 21:01: past the window
        (dt.datetime(2026, 3, 3, 18, 0), False),  # Tuesday: not a listed day
    ],
)
def test_time_period_from_inclusive_to_its_whole_minute(moment: dt.datetime, inside: bool) -> None:
    """§1.18/R27: window (Mon, 17:00, 21:00), written to the minute as the LogiSense screens write windows
    (the seed's weekend "12:00 AM-11:59 PM" holds the whole day): Monday 17:00 and 21:00:59 are inside,
    Monday 21:01 is outside."""
    assert in_time_period(_period({"days": ["mon"], "from": "17:00", "to": "21:00"}), moment) is inside


def test_a_window_to_23_59_holds_the_whole_day_and_a_to_with_seconds_its_second() -> None:
    """§1.18: (Sat, 00:00, 23:59) holds Saturday 23:59:59.999999 (the seed's "Saturday 12:00 AM-11:59 PM");
    (Sat, 10:00, 10:30:15) holds 10:30:15.9 and not 10:30:16."""
    saturday = dt.datetime(2026, 3, 7, 23, 59, 59, 999999)
    assert in_time_period(_period({"days": ["sat"], "from": "00:00", "to": "23:59"}), saturday)
    seconds = _period({"days": ["sat"], "from": "10:00", "to": "10:30:15"})
    assert in_time_period(seconds, dt.datetime(2026, 3, 7, 10, 30, 15, 900000))
    assert not in_time_period(seconds, dt.datetime(2026, 3, 7, 10, 30, 16))


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (dt.datetime(2026, 3, 7, 21, 59, 59), False),  # Saturday before 22:00
        (dt.datetime(2026, 3, 7, 22, 0), True),
        (dt.datetime(2026, 3, 7, 23, 59, 59, 999999), True),  # the last instant of Saturday
        (dt.datetime(2026, 3, 8, 0, 0), False),  # Sunday 00:00: the window ended at midnight
    ],
)
def test_time_period_ending_at_2400(moment: dt.datetime, inside: bool) -> None:
    """§1.18: "24:00" ends a window at midnight: (Sat, 22:00, 24:00) holds Saturday 23:59:59.999999,
    not Sunday 00:00."""
    assert in_time_period(_period({"days": ["sat"], "from": "22:00", "to": "24:00"}), moment) is inside


def test_time_period_with_several_details() -> None:
    """§1.18 weekend example: (Sat, 00:00, 24:00) + (Sun, 00:00, 24:00) hold every weekend moment and no weekday."""
    weekend = _period(
        {"days": ["sat"], "from": "00:00", "to": "24:00"}, {"days": ["sun"], "from": "00:00", "to": "24:00"}
    )
    assert in_time_period(weekend, dt.datetime(2026, 3, 7, 0, 0))
    assert in_time_period(weekend, dt.datetime(2026, 3, 8, 23, 59))
    assert not in_time_period(weekend, dt.datetime(2026, 3, 9, 0, 0))  # Monday


def test_the_seed_weekend_holds_a_call_at_23_59_30(tmp_path: Path) -> None:
    """§1.18's weekend, "Saturday 12:00 AM-11:59 PM plus Sunday 12:00 AM-11:59 PM", is written with 'to'
    "24:00" (a '23:59' is refused by validation: 'to' is exclusive).  Group WEEKEND ($0.01/min) then
    STANDARD ($0.05/min), account in UTC: a 60 s call on Saturday 7 March 2026 at 23:59:30 is in the weekend,
    1 min x 0.01 = $0.01; one on Monday 9 March at 00:00:00 is not, 1 min x 0.05 = $0.05."""
    weekend = [{"days": ["sat", "sun"], "from": "00:00", "to": "24:00"}]
    catalog = catalog_doc(
        [group("WEEKEND", rate("VOICE", "0.01"), time_period="WEEKEND"), group("STANDARD", rate("VOICE", "0.05"))],
        time_periods=[{"id": "WEEKEND", "details": weekend}],
    )
    rater = make_rater(tmp_path, catalog, subscriptions_doc())
    last_minute = line(rater, event_time="2026-03-07T23:59:30Z")
    assert (last_minute.rate_group, last_minute.amount) == ("WEEKEND", Decimal("0.01"))
    monday = line(rater, event_time="2026-03-09T00:00:00Z")
    assert (monday.rate_group, monday.amount) == ("STANDARD", Decimal("0.05"))


def test_time_period_read_on_the_account_clock(tmp_path: Path) -> None:
    """R27/Q8, E22: the account is in America/Toronto (UTC-5 in early March); group EVENING (Mon 17:00-21:00,
    $0.02/min) then STANDARD ($0.05/min).  22:00Z = 17:00 Toronto -> EVENING $0.02; 21:59Z = 16:59 Toronto ->
    STANDARD $0.05; 02:01Z Tuesday = 21:01 Monday Toronto -> STANDARD (past the window's last minute)."""
    catalog = catalog_doc(
        [
            group("EVENING", rate("VOICE", "0.02"), time_period="EVENING"),
            group("STANDARD", rate("VOICE", "0.05")),
        ],
        time_periods=[{"id": "EVENING", "details": [{"days": ["mon"], "from": "17:00", "to": "21:00"}]}],
    )
    rater = make_rater(tmp_path, catalog, subscriptions_doc(account(time_zone="America/Toronto")))
    evening = line(rater, event_time="2026-03-02T22:00:00Z")
    assert (evening.rate_group, evening.amount) == ("EVENING", Decimal("0.02"))
    assert line(rater, event_time="2026-03-02T21:59:00Z").rate_group == "STANDARD"
    assert line(rater, event_time="2026-03-03T02:01:00Z").rate_group == "STANDARD"


def test_group_in_another_currency_is_skipped(tmp_path: Path) -> None:
    """R27: groups EUR (VOICE €0.04/min) then USD ($0.05/min); a USD account skips EUR: 1 min x 0.05 = $0.05."""
    rater = _voice(
        tmp_path,
        group("EUR", rate("VOICE", "0.04"), currency="EUR"),
        group("USD", rate("VOICE", "0.05")),
    )
    charged = line(rater)
    assert (charged.rate_group, charged.amount) == ("USD", Decimal("0.05"))


def test_no_group_in_the_account_currency_is_rate_group_not_found(tmp_path: Path) -> None:
    """R27/R31, E23: a EUR account on a plan whose groups are all USD -> "Usage Rate Group matching UDR not
    found"; the same plan with a EUR group added rates the call (€0.04/min x 1 min = €0.04)."""
    usd_only = [group("USD-1", rate("VOICE", "0.05")), group("USD-2", rate("VOICE", "0.06"))]
    before = make_rater(tmp_path / "before", catalog_doc(usd_only), subscriptions_doc(account(currency="EUR")))
    error = rating_error(before)
    assert error.type is ExceptionType.RATE_GROUP_NOT_FOUND
    assert error.message.startswith("Usage Rate Group matching UDR not found")
    assert "EUR" in error.message
    assert error.account == "ACC-1"

    with_eur = [*usd_only, group("EUR", rate("VOICE", "0.04"), currency="EUR")]
    after = make_rater(tmp_path / "after", catalog_doc(with_eur), subscriptions_doc(account(currency="EUR")))
    charged = charge_of(after, record())
    assert (charged.charges[0].rate_group, charged.total_amount, charged.currency) == ("EUR", Decimal("0.04"), "EUR")


def test_every_group_in_the_currency_skipped_is_rate_not_found(tmp_path: Path) -> None:
    """R27/R31, E22 second half: the plan has only EVENING (Mon-Fri 17:00-21:00); a Saturday 18:00 call skips
    it, no group is left -> "Usage Rate matching UDR not found" (not rate_group_not_found: the currency matches)."""
    catalog = catalog_doc(
        [group("EVENING", rate("VOICE", "0.02"), time_period="EVENING")],
        time_periods=[
            {
                "id": "EVENING",
                "details": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "17:00", "to": "21:00"}],
            }
        ],
    )
    rater = make_rater(tmp_path, catalog, subscriptions_doc())
    assert line(rater, event_time="2026-03-03T18:00:00Z").amount == Decimal("0.02")  # Tuesday 18:00
    error = rating_error(rater, event_time="2026-03-07T18:00:00Z")  # Saturday 18:00
    assert error.type is ExceptionType.RATE_NOT_FOUND
    assert error.message.startswith("Usage Rate matching UDR not found")


def test_retired_and_future_groups_all_skipped_is_rate_not_found(tmp_path: Path) -> None:
    """R27/R31: RETIRED (retired 2026-03-01) and STARTED (start 2026-01-01, retired 2026-02-01) are both
    retired by 2 March: every USD group is skipped -> rate_not_found (the plan itself is still found: R25 looks
    only at start dates, and STARTED has started)."""
    rater = _voice(
        tmp_path,
        group("RETIRED", rate("VOICE", "0.02"), retired=dt.date(2026, 3, 1)),
        group("STARTED", rate("VOICE", "0.03"), start=dt.date(2026, 1, 1), retired=dt.date(2026, 2, 1)),
    )
    assert rating_error(rater).type is ExceptionType.RATE_NOT_FOUND


# --- R28: which rate ---------------------------------------------------------------------------------------


def test_first_matching_rate_wins(tmp_path: Path) -> None:
    """R28: group STANDARD has SMS $0.10/message, then VOICE $0.02/min (id FIRST), then VOICE $0.05/min (SECOND);
    the first VOICE rate is used: 1 min x 0.02 = $0.02."""
    rater = _voice(
        tmp_path,
        group(
            "STANDARD",
            rate("SMS", "0.10", "message"),
            rate("VOICE", "0.02", id="FIRST"),
            rate("VOICE", "0.05", id="SECOND"),
        ),
    )
    charged = line(rater)
    assert (charged.rate, charged.rate_amount, charged.amount) == ("FIRST", Decimal("0.02"), Decimal("0.02"))


def test_rate_without_id_is_named_by_position(tmp_path: Path) -> None:
    """docs/events.md: a rate with no id is "<group>#<n>": the VOICE rate is STANDARD's 2nd rate -> "STANDARD#2"."""
    rater = _voice(tmp_path, group("STANDARD", rate("SMS", "0.10", "message"), rate("VOICE", "0.02")))
    assert line(rater).rate == "STANDARD#2"


def test_first_group_lacking_the_class_is_rate_not_found(tmp_path: Path) -> None:
    """R28: the search stops in the first group not skipped.  SMS-ONLY (no VOICE rate) comes before STANDARD
    (VOICE $0.05/min); a VOICE call does not fall through to STANDARD -> rate_not_found naming SMS-ONLY.
    An SMS in the same plan is rated by SMS-ONLY: 1 message x $0.10 = $0.10."""
    rater = _voice(
        tmp_path,
        group("SMS-ONLY", rate("SMS", "0.10", "message")),
        group("STANDARD", rate("VOICE", "0.05")),
    )
    error = rating_error(rater)
    assert error.type is ExceptionType.RATE_NOT_FOUND
    assert "SMS-ONLY" in error.message
    assert "VOICE" in error.message
    assert line(rater, usage_class="SMS", quantity="1", unit=None).amount == Decimal("0.10")


def _ld(tmp_path: Path, *rates: Doc) -> Rater:
    return _voice(tmp_path, group("LD-GROUP", *rates))


def test_geotree_rate_at_a_higher_node_covers_a_descendant(tmp_path: Path) -> None:
    """R4b/R28: rates UK $0.50/min then NORTH-AMERICA $0.10/min.  A call to +1 808 555 1234 is located at
    HAWAII (longest prefix "1808"); UK does not cover it, NORTH-AMERICA does: 1 min x 0.10 = $0.10."""
    rater = _ld(tmp_path, rate("LD", "0.50", location="UK"), rate("LD", "0.10", location="NORTH-AMERICA"))
    charged = charge_of(rater, record(usage_class="LD", terminating_identifier="+18085551234"))
    assert charged.location == "HAWAII"
    assert (charged.charges[0].rate, charged.total_amount) == ("LD-GROUP#2", Decimal("0.10"))


def test_geotree_first_covering_rate_wins_not_the_most_specific(tmp_path: Path) -> None:
    """R28: rates NORTH-AMERICA $0.10/min then HAWAII $0.25/min.  Both cover a Hawaii call; the first matching
    rate is used (R28 is "first match", not "most specific"): 1 min x 0.10 = $0.10."""
    rater = _ld(tmp_path, rate("LD", "0.10", location="NORTH-AMERICA"), rate("LD", "0.25", location="HAWAII"))
    assert line(rater, usage_class="LD", terminating_identifier="+18085551234").amount == Decimal("0.10")


def test_geotree_rate_with_a_location_group(tmp_path: Path) -> None:
    """R4b/R28: one rate on location group ISLANDS = {HAWAII, UK} at $0.30/min.  A UK call (+44...) is covered:
    1 min x 0.30 = $0.30; a Toronto call (+1 416..., located at NORTH-AMERICA) is not -> rate_not_found."""
    rater = _ld(tmp_path, rate("LD", "0.30", location_group="ISLANDS"))
    assert line(rater, usage_class="LD", terminating_identifier="+447700900123").amount == Decimal("0.30")
    error = rating_error(rater, usage_class="LD", terminating_identifier="+1 416-555-1234")
    assert error.type is ExceptionType.RATE_NOT_FOUND
    assert "NORTH-AMERICA" in error.message


def test_find_rate_directly(tmp_path: Path) -> None:
    """R27/R28 through find_rate: group NIGHT is skipped (retired 2026-03-01), DAY's second rate is the first
    VOICE one: rate id "DAY#2", amount $0.05, no rounding rule."""
    catalog, subscriptions = load(
        tmp_path,
        catalog_doc(
            [
                group("NIGHT", rate("VOICE", "0.01"), retired=dt.date(2026, 3, 1)),
                group("DAY", rate("SMS", "0.10", "message"), rate("VOICE", "0.05"), rate("VOICE", "0.07")),
            ]
        ),
        subscriptions_doc(),
    )
    owner = subscriptions.services["AS-1"]
    choice = select_rate_plan(catalog, subscriptions, owner, MONDAY_10)
    match = find_rate(
        catalog,
        choice,
        currency="USD",
        usage_class="VOICE",
        location=None,
        when=MONDAY_10,
        local=MONDAY_10,
        account="ACC-1",
    )
    assert (match.group.id, match.rate_id, match.rate.amount, match.rounding) == ("DAY", "DAY#2", Decimal("0.05"), None)


# --- R29: rounding rule ------------------------------------------------------------------------------------


def _rule(unit_type: str, unit: str, minimum: str, increment: str) -> RoundingRule:
    return RoundingRule.model_validate(
        {"id": "RR", "unit_type": unit_type, "unit": unit, "minimum": minimum, "increment": increment}
    )


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 0),  # Q = 0 stays 0 (R29 [INT], Q20)
        (1, 60_000),  # 1 ms <= M = 60,000 ms -> M
        (30_000, 60_000),  # E7: 30 s -> 60 s
        (60_000, 60_000),  # Q = M -> M
        (60_001, 66_000),  # 60,000 + ceil(1 / 6,000) x 6,000
        (61_000, 66_000),  # E7: 61 s -> 66 s
        (66_000, 66_000),  # 60,000 + ceil(6,000 / 6,000) x 6,000: exactly one increment
        (66_001, 72_000),  # 60,000 + ceil(6,001 / 6,000) x 6,000 = 60,000 + 2 x 6,000
        (125_000, 126_000),  # E7: 125 s -> 60 + ceil(65/6) x 6 = 126 s
    ],
)
def test_rounding_minimum_60s_increment_6s(quantity: int, expected: int) -> None:
    """R29, E7: M = 60 s = 60,000 ms, I = 6 s = 6,000 ms.  Q <= M -> M; else M + ceil((Q - M) / I) x I."""
    assert billable_quantity(_rule("time", "s", "60", "6"), quantity) == expected


def test_rounding_seed_example_61s_to_70s() -> None:
    """R29 source example: M = 60 s, I = 10 s; a 61 s call -> 60 + ceil(1/10) x 10 = 70 s = 70,000 ms."""
    assert billable_quantity(_rule("time", "s", "60", "10"), 61_000) == 70_000


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(0, 0), (1, 1_000), (999, 1_000), (1_000, 1_000), (1_001, 2_000), (59_500, 60_000)],
)
def test_rounding_whole_seconds_without_minimum(quantity: int, expected: int) -> None:
    """R29: M = 0, I = 1 s = 1,000 ms: every started second counts.  1 ms -> 0 + ceil(1/1,000) x 1,000 = 1,000;
    1,001 ms -> 2,000; 0 stays 0."""
    assert billable_quantity(_rule("time", "s", "0", "1"), quantity) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(0, 0), (1, 10_000), (10_000, 10_000), (10_001, 15_000), (15_000, 15_000), (15_001, 20_000)],
)
def test_rounding_data_in_kilobytes(quantity: int, expected: int) -> None:
    """R29 with a Data rule in KB (decimal, 1 KB = 1,000 B): M = 10 KB = 10,000 B, I = 5 KB = 5,000 B.
    1 B -> 10,000 B; 10,001 B -> 10,000 + ceil(1/5,000) x 5,000 = 15,000 B; 15,001 B -> 20,000 B."""
    assert billable_quantity(_rule("data", "KB", "10", "5"), quantity) == expected


def test_rounding_fractional_rule_units() -> None:
    """R29: rule values are converted to base units: M = 0.5 s = 500 ms, I = 0.25 s = 250 ms.
    1 ms -> 500; 501 ms -> 500 + ceil(1/250) x 250 = 750."""
    rule = _rule("time", "s", "0.5", "0.25")
    assert billable_quantity(rule, 1) == 500
    assert billable_quantity(rule, 501) == 750


def test_no_rounding_rule_keeps_the_quantity() -> None:
    """R29: with no rule the billable quantity is the raw quantity (61,001 ms stays 61,001 ms)."""
    assert billable_quantity(None, 61_001) == 61_001


# --- R30: the charge ---------------------------------------------------------------------------------------


def _rate(usage_class: str, amount: str, per: str) -> Rate:
    return Rate.model_validate({"class": usage_class, "amount": amount, "per": per})


@pytest.mark.parametrize(
    ("billable", "precision", "expected"),
    [
        (7_000, 2, "0.01"),  # 7,000 / 60,000 min x 0.10 = 0.011666... -> 0.01
        (7_000, 4, "0.0117"),  # 0.011666... -> 0.0117
        (3_000, 2, "0.01"),  # 3,000 / 60,000 x 0.10 = 0.005 exactly -> half up -> 0.01
        (60_000, 2, "0.10"),  # 1 min x 0.10
        (0, 2, "0.00"),
    ],
)
def test_charge_rounds_once_to_the_plan_precision(billable: int, precision: int, expected: str) -> None:
    """R30/Q18: charge = Q' in the rate's unit x amount, rounded half up once at the plan precision.  7 s at
    $0.10/min: 7/60 x 0.10 = 0.011666... -> 0.01 (precision 2), 0.0117 (precision 4).  Rounding only at the end
    matters: a per-second price rounded first (0.10/60 = 0.00166... -> 0.00) would give $0.00."""
    amount = charge(_rate("VOICE", "0.10", "min"), UnitType.TIME, billable, precision)
    assert amount == Decimal(expected)
    assert f"{amount:f}" == expected


def test_charge_of_one_byte_at_11_decimals() -> None:
    """R30: 1 B at $2/GB (1 GB = 10^9 B) = 2 / 10^9 = 0.000000002, at precision 11 -> 0.00000000200."""
    amount = charge(_rate("DATA", "2", "GB"), UnitType.DATA, 1, 11)
    assert amount == Decimal("0.000000002")
    assert f"{amount:f}" == "0.00000000200"
    assert amount.as_tuple().exponent == -11


def test_charge_e7() -> None:
    """R30, E7: 66 s at $0.06/min = 1.1 min x 0.06 = 0.066 (precision 3)."""
    assert f"{charge(_rate('VOICE', '0.06', 'min'), UnitType.TIME, 66_000, 3):f}" == "0.066"


def test_rounding_and_charge_through_the_rater(tmp_path: Path) -> None:
    """R29 + R30 through the pipeline: rule M = 60 s, I = 6 s, $0.06/min, precision 3; 61 s -> 66 s -> 1.1 min x 0.06 =
    $0.066; the record's quantity is 61,000 ms and its billable quantity 66,000 ms; the line prices the
    billable 66,000 ms with the rule's id (Q6: rounding applies before allocation)."""
    rater = _voice(
        tmp_path,
        group("STANDARD", rate("VOICE", "0.06", rounding_rule="MIN60-INC6")),
        precision=3,
        rounding_rules=[{"id": "MIN60-INC6", "unit_type": "time", "unit": "s", "minimum": 60, "increment": 6}],
    )
    event = rated(rater, quantity="61")
    (charged,) = event.charges
    assert (event.quantity, event.billable_quantity) == (61_000, 66_000)
    assert (charged.quantity, charged.rounding_rule) == (66_000, "MIN60-INC6")
    assert f"{charged.amount:f}" == "0.066"


def test_default_time() -> None:
    """The builders' default record time is Monday 2 March 2026 10:00 UTC (the weekday the R27 tests rely on)."""
    assert record().event_time == MONDAY_10 == dt.datetime.fromisoformat(WHEN)
    assert MONDAY_10.weekday() == 0
