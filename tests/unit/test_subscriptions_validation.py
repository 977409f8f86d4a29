"""Subscriptions validation against a catalog: accounts, account-packages, account-services, usage
identifiers, bucket instances and account share plans (domain-spec §1.2-§1.4, §1.11, §1.13).

Each test writes :func:`tests.unit.catalog_builders.base_subscriptions` (valid) with one thing changed and
checks the exact issue: file, kind, entity, field path, message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rater.catalog import Catalog, load_catalog
from rater.issues import ValidationFailed
from rater.subscriptions import check_subscriptions, load_subscriptions
from tests.unit.catalog_builders import Doc, account, write_catalog, write_subscriptions

Change = Callable[[Doc], object]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    folder = tmp_path_factory.mktemp("catalog")
    write_catalog(folder)
    return load_catalog(folder)


def _parent(doc: Doc) -> dict[str, Any]:
    return account(doc, "ACC-P")


def _child(doc: Doc) -> dict[str, Any]:
    return account(doc, "ACC-C")


def _phone(doc: Doc) -> dict[str, Any]:
    """ACC-P's account-service AS-P-PHONE."""
    service: dict[str, Any] = _parent(doc)["packages"][0]["services"][0]
    return service


def _child_uids(doc: Doc) -> list[dict[str, Any]]:
    uids: list[dict[str, Any]] = _child(doc)["packages"][0]["services"][0]["usage_identifiers"]
    return uids


def _issues(folder: Path, catalog: Catalog, change: Change) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """Write the changed file, assert it is refused, return its name and (file, kind, entity, field,
    message) of every error (warnings that follow from the error are checked in their own tests)."""
    file = write_subscriptions(folder, change)
    subscriptions, issues = check_subscriptions(folder, catalog)
    assert subscriptions is None
    return str(file), [(i.file, i.kind, i.entity, i.field, i.message) for i in issues if i.severity == "error"]


# --- the valid file ------------------------------------------------------------------------------------


def test_valid_subscriptions_pass(tmp_path: Path, catalog: Catalog) -> None:
    """§1.2-§1.4: the base file (parent/child, usage invoicer, UID handed over at an exclusive end date,
    share plans with tie-breaks, an account-service bucket) passes with no issue and compiles."""
    write_subscriptions(tmp_path)
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert issues == []
    assert subscriptions is not None
    assert sorted(subscriptions.accounts) == ["ACC-C", "ACC-P"]
    assert sorted(subscriptions.services) == ["AS-C-PHONE", "AS-P-PHONE", "AS-P-SELL"]
    # R2: one UID, two owners one after the other (end exclusive).
    windows = subscriptions.uids["+15195550100"]
    assert [(w.start, w.end, w.owner.service.id) for w in windows] == [
        (dt.date(2026, 1, 1), dt.date(2026, 3, 1), "AS-P-PHONE"),
        (dt.date(2026, 3, 1), dt.date(2026, 12, 1), "AS-C-PHONE"),  # the UID ends with its account-service
    ]
    child = subscriptions.accounts["ACC-C"]
    assert subscriptions.usage_invoicer(child).id == "ACC-P"
    assert [a.id for a in subscriptions.parents(child)] == ["ACC-P"]
    # §1.3: an account-service inherits its account-package's dates.
    context = subscriptions.services["AS-C-PHONE"]
    assert (context.effective, context.cancel) == (dt.date(2026, 2, 1), dt.date(2026, 12, 1))


def test_missing_subscriptions_file_is_empty(tmp_path: Path, catalog: Catalog) -> None:
    """subscriptions/load.py: a folder without subscriptions.yaml has no accounts (and no error)."""
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert issues == []
    assert subscriptions is not None
    assert dict(subscriptions.accounts) == {}


def test_load_subscriptions_raises_with_every_error(tmp_path: Path, catalog: Catalog) -> None:
    """load_subscriptions raises ValidationFailed carrying every issue."""
    write_subscriptions(tmp_path, lambda d: _parent(d).update({"rate_plan": "NOPE"}))
    with pytest.raises(ValidationFailed) as caught:
        load_subscriptions(tmp_path, catalog)
    assert [(i.entity, i.field, i.message) for i in caught.value.issues] == [
        ("ACC-P", "rate_plan", "unknown rate plan 'NOPE'")
    ]


def test_top_level_key_other_than_accounts_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """subscriptions/load.py: the file is a mapping with one key, 'accounts'."""
    file, issues = _issues(tmp_path, catalog, lambda d: d.update({"acounts": []}))
    assert issues == [(file, "subscriptions", "", "", "the file must be a mapping with one key, 'accounts'")]


def test_unknown_account_field_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """subscriptions/model.py (extra="forbid"): a typo in an account is an error, not ignored."""
    file, issues = _issues(tmp_path, catalog, lambda d: _child(d).update({"usage_invoicr": "ACC-P"}))
    assert issues == [(file, "account", "ACC-C", "usage_invoicr", "unknown field")]


def test_duplicate_account_id_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.2: account ids are unique."""
    file, issues = _issues(tmp_path, catalog, lambda d: d["accounts"].append({"id": "ACC-P"}))
    assert issues == [(file, "account", "ACC-P", "id", "duplicate account id")]


def test_duplicate_account_service_id_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.3: account-service ids are unique across all accounts."""
    file, issues = _issues(
        tmp_path, catalog, lambda d: _child(d)["packages"][0]["services"][0].update({"id": "AS-P-PHONE"})
    )
    assert issues == [(file, "account_service", "AS-P-PHONE", "id", "duplicate account-service id")]


def test_duplicate_account_package_id_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.3: account-package ids are unique across all accounts (billing activation, R49-R53, and
    proration key their state by it)."""

    def reuse(doc: Doc) -> None:
        _child(doc)["packages"][0]["id"] = _parent(doc)["packages"][0]["id"]

    file, issues = _issues(tmp_path, catalog, reuse)
    assert len(issues) == 1
    assert issues[0][:2] == (file, "account_package")
    assert issues[0][3:] == ("id", "duplicate account-package id")


# --- references into the catalog -----------------------------------------------------------------------

UNKNOWN_REFERENCES = [
    pytest.param(
        lambda d: _parent(d)["packages"][0].update({"package": "NOPE"}),
        "ACC-P",
        "packages[0].package",
        "unknown package 'NOPE'",
        id="package",
    ),
    pytest.param(
        lambda d: _parent(d).update({"rate_plan": "NOPE"}),
        "ACC-P",
        "rate_plan",
        "unknown rate plan 'NOPE'",
        id="rate-plan-on-account",
    ),
    pytest.param(
        lambda d: _parent(d)["packages"][0].update({"rate_plan": "NOPE"}),
        "ACC-P",
        "packages[0].rate_plan",
        "unknown rate plan 'NOPE'",
        id="rate-plan-on-account-package",
    ),
    pytest.param(
        lambda d: _phone(d).update({"rate_plan": "NOPE"}),
        "ACC-P",
        "packages[0].services[0].rate_plan",
        "unknown rate plan 'NOPE'",
        id="rate-plan-on-account-service",
    ),
    pytest.param(
        lambda d: _phone(d)["buckets"][0].update({"overage_rate_plan": "NOPE"}),
        "ACC-P",
        "packages[0].services[0].buckets[0].overage_rate_plan",
        "unknown rate plan 'NOPE'",
        id="overage-rate-plan-on-bucket-instance",
    ),
    pytest.param(
        lambda d: _parent(d)["share_plans"][0].update({"share_plan": "NOPE"}),
        "ACC-P",
        "share_plans[0].share_plan",
        "unknown share plan 'NOPE'",
        id="share-plan",
    ),
    pytest.param(
        lambda d: _phone(d)["buckets"][0].update({"usage_bucket": "NOPE"}),
        "ACC-P",
        "packages[0].services[0].buckets[0].usage_bucket",
        "unknown usage bucket 'NOPE'",
        id="usage-bucket-on-account-service",
    ),
    pytest.param(
        lambda d: _child(d).update({"buckets": [{"usage_bucket": "NOPE"}]}),
        "ACC-C",
        "buckets[0].usage_bucket",
        "unknown usage bucket 'NOPE'",
        id="usage-bucket-on-account",
    ),
    pytest.param(
        lambda d: _parent(d)["packages"][0].update({"frequency": "WEEKLY"}),
        "ACC-P",
        "packages[0].frequency",
        "package 'PKG-1' has no frequency 'WEEKLY'",
        id="package-frequency",
    ),
    pytest.param(
        lambda d: _child(d).update({"parent": "NOPE"}),
        "ACC-C",
        "parent",
        "unknown account 'NOPE'",
        id="parent-account",
    ),
    pytest.param(
        lambda d: _child(d).update({"usage_invoicer": "NOPE"}),
        "ACC-C",
        "usage_invoicer",
        "unknown account 'NOPE'",
        id="usage-invoicer-account",
    ),
]


@pytest.mark.parametrize(("change", "account_id", "field", "message"), UNKNOWN_REFERENCES)
def test_unknown_reference_is_refused(
    tmp_path: Path, catalog: Catalog, change: Change, account_id: str, field: str, message: str
) -> None:
    """§1.2-§1.3, §1.11, §1.13: every package, rate plan, share plan, usage bucket, package frequency and
    account named by the subscriptions exists; the issue names the account and the field."""
    file, issues = _issues(tmp_path, catalog, change)
    assert issues == [(file, "account", account_id, field, message)]


def test_unknown_service_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.3: an account-service's service must exist in the catalog."""
    file, issues = _issues(tmp_path, catalog, lambda d: _phone(d).update({"service": "NOPE"}))
    assert issues == [(file, "account", "ACC-P", "packages[0].services[0].service", "unknown service 'NOPE'")]


def test_service_not_in_the_package_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.3: an account-service is an instance of a service of its account-package's package."""
    file, issues = _issues(tmp_path, catalog, lambda d: _phone(d).update({"service": "SVC-SPARE"}))
    assert issues == [
        (
            file,
            "account",
            "ACC-P",
            "packages[0].services[0].service",
            "service 'SVC-SPARE' is not in package 'PKG-1'",
        )
    ]


def test_invalid_account_time_zone_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """Q8: an account's own time zone must be a known zone."""
    file, issues = _issues(tmp_path, catalog, lambda d: _child(d).update({"time_zone": "Mars/Base"}))
    assert issues == [(file, "account", "ACC-C", "time_zone", "unknown time zone 'Mars/Base'")]


@pytest.mark.parametrize("zone", ["America", "leapseconds", "Europe/Paris/x"])
def test_a_zone_database_path_that_is_no_zone_is_an_unknown_time_zone(
    tmp_path: Path, catalog: Catalog, zone: str
) -> None:
    """Q8: a folder of the zone database (IsADirectoryError before, past the check), one of its data files
    (ValueError: not a zone file) or a path below a zone is "unknown time zone", naming the field."""
    file, issues = _issues(tmp_path, catalog, lambda d: _child(d).update({"time_zone": zone}))
    assert issues == [(file, "account", "ACC-C", "time_zone", f"unknown time zone {zone!r}")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "x" * 65, "String should have at most 64 characters"),
        ("name", "n" * 201, "String should have at most 200 characters"),
    ],
)
def test_account_text_fields_are_bounded(
    tmp_path: Path, catalog: Catalog, field: str, value: str, message: str
) -> None:
    """docs/subscriptions.md bounds: a time zone name is at most 64 characters (a 300-character one made the
    zone lookup fail with "File name too long"), an account name at most 200."""
    file, issues = _issues(tmp_path, catalog, lambda d: _child(d).update({field: value}))
    assert issues == [(file, "account", "ACC-C", field, message)]


def test_a_usage_identifier_is_at_most_128_characters(tmp_path: Path, catalog: Catalog) -> None:
    """docs/subscriptions.md bounds: UIDs are 1-128 characters; 128 passes, 129 is refused."""
    write_subscriptions(tmp_path, lambda d: _child_uids(d)[0].update({"uid": "9" * 128}))
    assert "9" * 128 in load_subscriptions(tmp_path, catalog).uids
    _, issues = _issues(tmp_path, catalog, lambda d: _child_uids(d)[0].update({"uid": "9" * 129}))
    assert [issue[3:] for issue in issues] == [
        ("packages[0].services[0].usage_identifiers[0].uid", "String should have at most 128 characters")
    ]


# --- dates (§1.3, R42) ---------------------------------------------------------------------------------

WINDOW_MESSAGE = "cancel/end must be later than the start (start inclusive, end exclusive)"


@pytest.mark.parametrize(
    ("change", "account_id", "field"),
    [
        pytest.param(
            lambda d: _child(d)["packages"][0].update({"cancel": "2026-01-15"}),
            "ACC-C",
            "packages[0].cancel",
            id="account-package-cancel-before-effective",
        ),
        pytest.param(
            lambda d: _child(d)["packages"][0].update({"cancel": "2026-02-01"}),
            "ACC-C",
            "packages[0].cancel",
            id="account-package-cancel-on-effective-day",
        ),
        pytest.param(
            lambda d: _phone(d).update({"effective": "2026-02-01", "cancel": "2026-01-31"}),
            "ACC-P",
            "packages[0].services[0].cancel",
            id="account-service-cancel-before-effective",
        ),
        pytest.param(
            lambda d: _phone(d).update({"cancel": "2025-12-31"}),
            "ACC-P",
            "packages[0].services[0].cancel",
            id="account-service-cancel-before-package-effective",
        ),
        pytest.param(
            lambda d: _phone(d)["buckets"][0].update({"cancel": "2025-06-01"}),
            "ACC-P",
            "packages[0].services[0].buckets[0].cancel",
            id="bucket-instance-cancel-before-effective",
        ),
        pytest.param(
            lambda d: _parent(d)["share_plans"][0].update({"cancel": "2026-01-01"}),
            "ACC-P",
            "share_plans[0].cancel",
            id="account-share-plan-cancel-on-effective-day",
        ),
    ],
)
def test_cancel_not_after_effective_is_refused(
    tmp_path: Path, catalog: Catalog, change: Change, account_id: str, field: str
) -> None:
    """§1.3/R42: start inclusive, cancel exclusive, so a cancel date on or before the effective date (an
    account-service's effective date defaults to its package's) leaves no active day."""
    file, issues = _issues(tmp_path, catalog, change)
    # Consequences may follow (an account-service outliving its cut-short package); the cause is reported.
    assert (file, "account", account_id, field, WINDOW_MESSAGE) in issues


def test_account_service_outside_its_package_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.3: an account-service lives inside its account-package: it cannot start before it."""
    file, issues = _issues(tmp_path, catalog, lambda d: _phone(d).update({"effective": "2025-12-01"}))
    assert (
        file,
        "account",
        "ACC-P",
        "packages[0].services[0].effective",
        "starts before its account-package (2026-01-01)",
    ) in issues


def test_usage_identifier_ending_on_its_start_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.4/R2: a UID window is start inclusive, end exclusive; end == start is empty."""
    file, issues = _issues(tmp_path, catalog, lambda d: _child_uids(d)[0].update({"end": "2026-02-01"}))
    assert issues == [(file, "account", "ACC-C", "packages[0].services[0].usage_identifiers[0].end", WINDOW_MESSAGE)]


# --- R2: one owner per UID at a time -------------------------------------------------------------------


def test_overlapping_windows_of_one_uid_are_refused(tmp_path: Path, catalog: Catalog) -> None:
    """R2: a UID is owned by one account-service at a time; ACC-C taking +15195550100 on Feb 28 while
    ACC-P holds it until Mar 1 (exclusive) is refused."""
    file, issues = _issues(tmp_path, catalog, lambda d: _child_uids(d)[1].update({"start": "2026-02-28"}))
    assert issues == [
        (
            file,
            "usage_identifier",
            "+15195550100",
            "start",
            "ACC-C/packages[0].services[0].usage_identifiers[1] overlaps "
            "ACC-P/packages[0].services[0].usage_identifiers[0] from 2026-01-01 (R2)",
        )
    ]


def test_open_ended_window_overlaps_every_later_window(tmp_path: Path, catalog: Catalog) -> None:
    """R2: a window with no end is open; a later window of the same UID overlaps it."""
    file, issues = _issues(tmp_path, catalog, lambda d: _phone(d)["usage_identifiers"][0].pop("end"))
    assert issues == [
        (
            file,
            "usage_identifier",
            "+15195550100",
            "start",
            "ACC-C/packages[0].services[0].usage_identifiers[1] overlaps "
            "ACC-P/packages[0].services[0].usage_identifiers[0] from 2026-01-01 (R2)",
        )
    ]


def test_same_uid_twice_on_one_service_overlapping_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """R2: the overlap rule holds within one account-service too."""
    file, issues = _issues(
        tmp_path,
        catalog,
        lambda d: _child_uids(d).append({"uid": "+15195550199", "start": "2026-02-15"}),
    )
    assert issues == [
        (
            file,
            "usage_identifier",
            "+15195550199",
            "start",
            "ACC-C/packages[0].services[0].usage_identifiers[2] overlaps "
            "ACC-C/packages[0].services[0].usage_identifiers[0] from 2026-02-01 (R2)",
        )
    ]


def test_numeric_uid_is_text(tmp_path: Path, catalog: Catalog) -> None:
    """§1.4: a UID written as a bare number is kept as text, so it matches the record's string."""
    write_subscriptions(tmp_path, lambda d: _child_uids(d)[0].update({"uid": 15195550199}))
    subscriptions = load_subscriptions(tmp_path, catalog)
    assert "15195550199" in subscriptions.uids


# --- the account tree ----------------------------------------------------------------------------------


def test_parent_cycle_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.2: the parent chain has no depth limit but cannot loop (ACC-P -> ACC-C -> ACC-P)."""
    file, issues = _issues(tmp_path, catalog, lambda d: _parent(d).update({"parent": "ACC-C"}))
    assert issues == [
        (file, "account", "ACC-P", "parent", "the parent chain loops back to this account"),
        (file, "account", "ACC-C", "parent", "the parent chain loops back to this account"),
    ]


def test_account_below_a_parent_cycle_is_not_reported(tmp_path: Path, catalog: Catalog) -> None:
    """§1.2: ACC-P <-> ACC-C loop; ACC-G (child of ACC-C) is below the loop, not in it, so only the two
    accounts in the loop are reported."""

    def change(d: dict[str, Any]) -> None:
        _parent(d).update({"parent": "ACC-C"})
        d["accounts"].append({"id": "ACC-G", "parent": "ACC-C"})

    file, issues = _issues(tmp_path, catalog, change)
    assert issues == [
        (file, "account", "ACC-P", "parent", "the parent chain loops back to this account"),
        (file, "account", "ACC-C", "parent", "the parent chain loops back to this account"),
    ]


def test_own_parent_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.2: an account cannot be its own parent."""
    file, issues = _issues(tmp_path, catalog, lambda d: d["accounts"].append({"id": "ACC-SELF", "parent": "ACC-SELF"}))
    assert issues == [(file, "account", "ACC-SELF", "parent", "the parent chain loops back to this account")]


# --- account share plans (R12, R54, Q12) ---------------------------------------------------------------


def test_duplicate_tie_break_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """R12: the Tie-Break Order orders an account's share plans, so two plans cannot share a tie-break."""
    file, issues = _issues(tmp_path, catalog, lambda d: _parent(d)["share_plans"][1].update({"tie_break": 1}))
    message = "tie-break 1 is used twice on this account (R12)"
    assert issues == [
        (file, "account", "ACC-P", "share_plans[0].tie_break", message),
        (file, "account", "ACC-P", "share_plans[1].tie_break", message),
    ]


def test_same_tie_break_on_two_accounts_is_allowed(tmp_path: Path, catalog: Catalog) -> None:
    """R12: the tie-break order is per account."""
    write_subscriptions(
        tmp_path,
        lambda d: d["accounts"].append(
            {"id": "ACC-X", "share_plans": [{"share_plan": "SP-PKG", "effective": "2026-01-01", "tie_break": 1}]}
        ),
    )
    assert check_subscriptions(tmp_path, catalog)[1] == []


def test_share_plan_without_buckets_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """R54: a share plan without a bucket cannot be activated on an account."""
    file, issues = _issues(tmp_path, catalog, lambda d: _parent(d)["share_plans"][1].update({"share_plan": "SP-SPARE"}))
    assert issues == [
        (
            file,
            "account",
            "ACC-P",
            "share_plans[1].share_plan",
            "share plan 'SP-SPARE' has no bucket and cannot be activated (R54)",
        )
    ]


def test_usage_invoicer_level_plan_on_non_invoicer_account_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """Q12/R57: a Usage Invoicer level plan (SP-1) belongs on the usage invoicer account; ACC-C's usage is
    invoiced to ACC-P, so ACC-C cannot hold it."""
    file, issues = _issues(
        tmp_path,
        catalog,
        lambda d: _child(d).update({"share_plans": [{"share_plan": "SP-1", "effective": "2026-02-01"}]}),
    )
    assert issues == [
        (
            file,
            "account",
            "ACC-C",
            "share_plans[0].share_plan",
            "a Usage Invoicer level share plan belongs on the usage invoicer account (Q12)",
        )
    ]


def test_account_level_plan_on_child_account_is_allowed(tmp_path: Path, catalog: Catalog) -> None:
    """Q12/R57: the restriction is for Usage Invoicer level plans only; an Account level plan (SP-PKG)
    may sit on an account invoiced elsewhere."""
    write_subscriptions(
        tmp_path, lambda d: _child(d).update({"share_plans": [{"share_plan": "SP-PKG", "effective": "2026-02-01"}]})
    )
    assert check_subscriptions(tmp_path, catalog)[1] == []


# --- R27: currency -------------------------------------------------------------------------------------


def test_rate_plan_without_group_in_account_currency_is_a_warning(tmp_path: Path, catalog: Catalog) -> None:
    """R27/§1.15: a rate plan with no rate group in the account currency is reported as a warning, not an
    error: the subscriptions still load (rating raises "Usage Rate Group matching UDR not found")."""
    file = write_subscriptions(tmp_path, lambda d: _child(d).update({"currency": "EUR", "rate_plan": "RP-1"}))
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert subscriptions is not None
    assert [(i.file, i.kind, i.entity, i.field, i.message, i.severity) for i in issues] == [
        (str(file), "account", "ACC-C", "rate_plan", "rate plan 'RP-1' has no rate group in EUR (R27)", "warning"),
        (
            str(file),
            "account",
            "ACC-C",
            "packages[0].frequency",
            "rate plan 'RP-1' has no rate group in EUR (R27)",
            "warning",
        ),
    ]


def test_rate_plan_with_group_in_account_currency_has_no_warning(tmp_path: Path, catalog: Catalog) -> None:
    """R27: RP-EUR has a EUR group, so a EUR account using it gets no warning for it.  The package
    frequency's RP-1 (USD only) is still reported: it sits below the account level in R24, so it would be
    chosen first and fail with "Usage Rate Group matching UDR not found"."""
    file = write_subscriptions(tmp_path, lambda d: _child(d).update({"currency": "EUR", "rate_plan": "RP-EUR"}))
    issues = check_subscriptions(tmp_path, catalog)[1]
    assert [(i.file, i.entity, i.field, i.message, i.severity) for i in issues] == [
        (str(file), "ACC-C", "packages[0].frequency", "rate plan 'RP-1' has no rate group in EUR (R27)", "warning")
    ]


# --- gaps found (the code accepts what the spec refuses) -----------------------------------------------


def test_unknown_selling_account_service_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.12b/§1.13: the account share plan's selling service is an existing account-service."""
    subscriptions_file = write_subscriptions(
        tmp_path, lambda d: _parent(d)["share_plans"][1].update({"selling_account_service": "NOPE"})
    )
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert subscriptions is None
    assert [(i.file, i.kind, i.entity, i.field) for i in issues] == [
        (str(subscriptions_file), "account", "ACC-P", "share_plans[1].selling_account_service")
    ]
    assert "'NOPE'" in issues[0].message


def test_selling_account_service_must_sell_the_plan(tmp_path: Path, catalog: Catalog) -> None:
    """R54/§1.12b: the activating account-service is an instance of the plan's selling service; AS-P-PHONE
    is a SVC-PHONE, not SVC-SELL, so it cannot be the one that activated the plan."""
    subscriptions_file = write_subscriptions(
        tmp_path, lambda d: _parent(d)["share_plans"][1].update({"selling_account_service": "AS-P-PHONE"})
    )
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert subscriptions is None
    assert [(i.file, i.kind, i.entity, i.field) for i in issues] == [
        (str(subscriptions_file), "account", "ACC-P", "share_plans[1].selling_account_service")
    ]
    assert "not the plan's selling service 'SVC-SELL'" in issues[0].message


def test_selling_account_service_of_the_selling_service_is_accepted(tmp_path: Path, catalog: Catalog) -> None:
    """R54: AS-P-SELL is a SVC-SELL, the plan's selling service: accepted."""
    write_subscriptions(
        tmp_path, lambda d: _parent(d)["share_plans"][1].update({"selling_account_service": "AS-P-SELL"})
    )
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert subscriptions is not None
    assert [i for i in issues if i.severity == "error"] == []


def test_billing_activation_bucket_on_non_activation_account_service_is_refused(
    tmp_path: Path, catalog: Catalog
) -> None:
    """R49: a billing-activation bucket (UB-ACT) goes only on a billing activation service; SVC-PHONE is
    not one, whether the bucket is attached in the catalog or on the account-service (§1.3, §1.11)."""
    subscriptions_file = write_subscriptions(
        tmp_path, lambda d: _phone(d)["buckets"].append({"usage_bucket": "UB-ACT"})
    )
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert subscriptions is None
    assert [(i.file, i.kind, i.entity, i.field) for i in issues] == [
        (str(subscriptions_file), "account", "ACC-P", "packages[0].services[0].buckets[1].usage_bucket")
    ]
    assert "(R49)" in issues[0].message


def test_recur_type_override_without_recur_frequency_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    """§1.11 overrides, R35/R37 (catalog/validate/buckets.py: Recur Frequency required on recurring types,
    Expire After only on nonrecurring): UB-VOICE is nonrecurring with Expire After 3 months; an instance
    that makes it recurring without a frequency describes a bucket the catalog would refuse."""
    subscriptions_file = write_subscriptions(
        tmp_path, lambda d: _phone(d)["buckets"].append({"usage_bucket": "UB-VOICE", "recur_type": "recurring"})
    )
    subscriptions, issues = check_subscriptions(tmp_path, catalog)
    assert subscriptions is None
    assert [(i.file, i.kind, i.entity) for i in issues][:1] == [(str(subscriptions_file), "account", "ACC-P")]
    assert issues[0].field.startswith("packages[0].services[0].buckets[1].")
