"""Catalog validation: every shape rule of ``rater.catalog.model`` and every cross-entity rule listed in
``rater.catalog.validate``'s docstring refuses a broken catalog with the exact issue (file, kind, entity,
field path, message).  Rule numbers are those of domain-spec.md.

Each test writes :func:`tests.unit.catalog_builders.base_catalog` (valid) with one thing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rater.catalog import check_catalog, load_catalog
from rater.catalog.model import UsageBucket
from rater.issues import Issue, ValidationFailed
from rater.units import UnitType, parse_quantity
from tests.unit.catalog_builders import Doc, entity, write_catalog

Change = Callable[[Doc], object]


# --- helpers -------------------------------------------------------------------------------------------


def _plan(doc: Doc) -> dict[str, Any]:
    return entity(doc, "rate_plans", "RP-1")


def _rate(doc: Doc, index: int) -> dict[str, Any]:
    rate: dict[str, Any] = _plan(doc)["rate_groups"][0]["rates"][index]
    return rate


def _bucket(doc: Doc, bucket_id: str) -> dict[str, Any]:
    return entity(doc, "usage_buckets", bucket_id)


def _share(doc: Doc, plan_id: str) -> dict[str, Any]:
    return entity(doc, "share_plans", plan_id)


def _share_bucket(doc: Doc, index: int) -> dict[str, Any]:
    """SP-1's buckets: 0 = SPB-FIXED, 1 = SPB-VST, 2 = SPB-VMT."""
    bucket: dict[str, Any] = _share(doc, "SP-1")["buckets"][index]
    return bucket


def _add_on(doc: Doc) -> dict[str, Any]:
    add_on: dict[str, Any] = entity(doc, "packages", "PKG-ADDON")["share_plan_add_on"]
    return add_on


def _period_detail(doc: Doc) -> dict[str, Any]:
    detail: dict[str, Any] = entity(doc, "time_periods", "EVENINGS")["details"][0]
    return detail


def _refused(folder: Path, change: Change) -> tuple[str, list[Issue]]:
    """Write the changed catalog; assert it is refused; return the catalog file name and the issues."""
    file = write_catalog(folder, change)
    catalog, issues = check_catalog(folder)
    assert catalog is None
    return str(file), issues


@dataclass(frozen=True)
class Broken:
    """One change to the valid catalog and the issue it must produce."""

    change: Change
    kind: str
    entity: str
    field: str
    message: str


def _assert_only(folder: Path, case: Broken) -> None:
    """The change is refused with exactly one issue, the expected one."""
    file, issues = _refused(folder, case.change)
    assert [(i.file, i.kind, i.entity, i.field, i.severity) for i in issues] == [
        (file, case.kind, case.entity, case.field, "error")
    ]
    assert case.message in issues[0].message


def _assert_first(folder: Path, case: Broken) -> None:
    """A shape error: the entity is left out (so referrers may add "unknown ..." findings), but the first
    issue is the expected one."""
    file, issues = _refused(folder, case.change)
    first = issues[0]
    assert (first.file, first.kind, first.entity, first.field, first.severity) == (
        file,
        case.kind,
        case.entity,
        case.field,
        "error",
    )
    assert case.message in first.message


# --- the valid catalog ---------------------------------------------------------------------------------


def test_minimal_valid_catalog_has_no_issue(tmp_path: Path) -> None:
    """The base catalog uses every entity kind and reference (R5/R48 two data base buckets on one bucket,
    R8 a money base bucket naming time and data classes, a GeoTree rate by location and by location group,
    Fixed/VST/VMT share-plan buckets, an add-on package) and passes with no issue, not even a warning."""
    write_catalog(tmp_path)
    catalog, issues = check_catalog(tmp_path)
    assert issues == []
    assert catalog is not None
    assert sorted(catalog.usage_buckets) == ["UB-ACT", "UB-DATA", "UB-MONEY", "UB-SMS", "UB-SPARE", "UB-VOICE"]
    assert catalog.bucket_unit_type(catalog.usage_buckets["UB-DATA"]) is UnitType.DATA
    assert catalog.bucket_unit_type(catalog.usage_buckets["UB-MONEY"]) is UnitType.MONEY
    assert sorted(catalog.share_plan_buckets) == ["SPB-FIXED", "SPB-PKG", "SPB-VMT", "SPB-VST"]


def test_load_catalog_raises_with_every_error(tmp_path: Path) -> None:
    """load_catalog refuses a catalog with errors by raising ValidationFailed that carries every issue."""
    write_catalog(tmp_path, lambda d: (_rate(d, 0).update({"class": "NOPE"}), d["owner"].update({"rate_plan": "X"})))
    with pytest.raises(ValidationFailed) as caught:
        load_catalog(tmp_path)
    assert [(i.kind, i.entity, i.field) for i in caught.value.issues] == [
        ("owner", "OWNER", "rate_plan"),
        ("rate_plan", "RP-1", "rate_groups[0].rates[0].class"),
    ]
    assert str(caught.value).startswith("2 error(s):\n")


# --- every reference resolves --------------------------------------------------------------------------

UNKNOWN_REFERENCES = [
    pytest.param(
        Broken(
            lambda d: _rate(d, 0).update({"class": "NOPE"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[0].class",
            "unknown usage class 'NOPE'",
        ),
        id="usage-class-on-rate",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "base_buckets", "BB-SPARE")["details"][0].update({"class": "NOPE"}),
            "base_bucket",
            "BB-SPARE",
            "details[0].class",
            "unknown usage class 'NOPE'",
        ),
        id="usage-class-on-base-bucket-detail",
    ),
    pytest.param(
        Broken(
            lambda d: _rate(d, 2).update({"location": "NOPE"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[2].location",
            "unknown GeoTree location 'NOPE'",
        ),
        id="location-on-rate",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "base_buckets", "BB-VOICE")["details"][1].update({"location": "NOPE"}),
            "base_bucket",
            "BB-VOICE",
            "details[1].location",
            "unknown GeoTree location 'NOPE'",
        ),
        id="location-on-base-bucket-detail",
    ),
    pytest.param(
        Broken(
            lambda d: d["geotree"]["location_groups"][0].update({"locations": ["CANADA", "NOPE"]}),
            "geotree",
            "NA",
            "location_groups[0].locations",
            "unknown location 'NOPE'",
        ),
        id="location-in-location-group",
    ),
    pytest.param(
        Broken(
            lambda d: _rate(d, 3).update({"location_group": "NOPE"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[3].location_group",
            "unknown location group 'NOPE'",
        ),
        id="location-group-on-rate",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "base_buckets", "BB-VOICE")["details"][1].update(
                {"location": None, "location_group": "NOPE"}
            ),
            "base_bucket",
            "BB-VOICE",
            "details[1].location_group",
            "unknown location group 'NOPE'",
        ),
        id="location-group-on-base-bucket-detail",
    ),
    pytest.param(
        Broken(
            lambda d: _rate(d, 0).update({"rounding_rule": "NOPE"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[0].rounding_rule",
            "unknown rounding rule 'NOPE'",
        ),
        id="rounding-rule",
    ),
    pytest.param(
        Broken(
            lambda d: _plan(d)["rate_groups"][0].update({"time_period": "NOPE"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].time_period",
            "unknown time period 'NOPE'",
        ),
        id="time-period",
    ),
    pytest.param(
        Broken(
            lambda d: d["owner"].update({"rate_plan": "NOPE"}),
            "owner",
            "OWNER",
            "rate_plan",
            "unknown rate plan 'NOPE'",
        ),
        id="rate-plan-on-owner",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-DATA").update({"overage_rate_plan": "NOPE"}),
            "usage_bucket",
            "UB-DATA",
            "overage_rate_plan",
            "unknown rate plan 'NOPE'",
        ),
        id="rate-plan-bucket-overage",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-DATA")["tiers"][1].update({"rate_plan": "NOPE"}),
            "usage_bucket",
            "UB-DATA",
            "tiers[1].rate_plan",
            "unknown rate plan 'NOPE'",
        ),
        id="rate-plan-on-usage-bucket-tier",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 2)["tiers"][1].update({"rate_plan": "NOPE"}),
            "share_plan",
            "SP-1",
            "buckets[2].tiers[1].rate_plan",
            "unknown rate plan 'NOPE'",
        ),
        id="rate-plan-on-share-plan-bucket-tier",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "packages", "PKG-1")["services"][1].update({"rate_plan": "NOPE"}),
            "package",
            "PKG-1",
            "services[1].rate_plan",
            "unknown rate plan 'NOPE'",
        ),
        id="rate-plan-on-package-service",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "packages", "PKG-1")["frequencies"][0].update({"rate_plan": "NOPE"}),
            "package",
            "PKG-1",
            "frequencies[0].rate_plan",
            "unknown rate plan 'NOPE'",
        ),
        id="rate-plan-on-package-frequency",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-DATA").update({"base_buckets": ["BB-DATA", "NOPE"]}),
            "usage_bucket",
            "UB-DATA",
            "base_buckets[1]",
            "unknown base bucket 'NOPE'",
        ),
        id="base-bucket-on-usage-bucket",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 0).update({"base_buckets": ["NOPE"]}),
            "share_plan",
            "SP-1",
            "buckets[0].base_buckets[0]",
            "unknown base bucket 'NOPE'",
        ),
        id="base-bucket-on-share-plan-bucket",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "services", "SVC-PHONE")["usage_buckets"].insert(1, "NOPE"),
            "service",
            "SVC-PHONE",
            "usage_buckets[1]",
            "unknown usage bucket 'NOPE'",
        ),
        id="usage-bucket-on-service",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "packages", "PKG-SPARE").update({"services": ["NOPE"]}),
            "package",
            "PKG-SPARE",
            "services[0].service",
            "unknown service 'NOPE'",
        ),
        id="service-in-package",
    ),
    pytest.param(
        Broken(
            lambda d: _share(d, "SP-SPARE").update({"selling_service": "NOPE"}),
            "share_plan",
            "SP-SPARE",
            "selling_service",
            "unknown service 'NOPE'",
        ),
        id="selling-service",
    ),
    pytest.param(
        Broken(
            lambda d: _share(d, "SP-1").update({"participants": ["SVC-PHONE", "NOPE"]}),
            "share_plan",
            "SP-1",
            "participants[1]",
            "unknown service 'NOPE'",
        ),
        id="service-participant",
    ),
    pytest.param(
        Broken(
            lambda d: _share(d, "SP-PKG").update({"participants": ["NOPE"]}),
            "share_plan",
            "SP-PKG",
            "participants[0]",
            "unknown package 'NOPE'",
        ),
        id="package-participant",
    ),
    pytest.param(
        Broken(
            lambda d: _add_on(d).update({"share_plan": "NOPE"}),
            "package",
            "PKG-ADDON",
            "share_plan_add_on.share_plan",
            "unknown share plan 'NOPE'",
        ),
        id="share-plan-on-add-on-package",
    ),
    pytest.param(
        Broken(
            lambda d: _add_on(d)["allotments"][0].update({"bucket": "NOPE"}),
            "package",
            "PKG-ADDON",
            "share_plan_add_on.allotments[0].bucket",
            "share plan 'SP-1' has no bucket 'NOPE'",
        ),
        id="share-plan-bucket-on-add-on-allotment",
    ),
]


@pytest.mark.parametrize("case", UNKNOWN_REFERENCES)
def test_unknown_reference_is_refused(tmp_path: Path, case: Broken) -> None:
    """validate/ "every reference resolves": a reference to a missing class, location, location group,
    rounding rule, time period, rate plan, base bucket, usage bucket, service, package or share plan is
    refused, naming the referring entity and the field."""
    _assert_only(tmp_path, case)


# --- ids, sections, files ------------------------------------------------------------------------------


def test_duplicate_id_in_one_file_is_refused(tmp_path: Path) -> None:
    """load.py: an entity id may be defined once per kind; the second definition is refused."""
    file, issues = _refused(
        tmp_path, lambda d: d["usage_classes"].append({"id": "VOICE", "rater": "class", "unit_type": "count"})
    )
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (file, "usage_class", "VOICE", "id", f"duplicate id (first defined in {file})")
    ]


def test_duplicate_id_across_two_files_is_refused(tmp_path: Path) -> None:
    """load.py: a catalog folder may split sections over files, but an id is still defined once per kind
    across all of them; the issue names the second file and points at the first."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a-classes.yaml").write_text(
        "usage_classes:\n  - {id: VOICE, rater: class, unit_type: time}\n", encoding="utf-8"
    )
    (folder / "b-more.yaml").write_text(
        "usage_classes:\n  - {id: VOICE, rater: geotree, unit_type: time}\n", encoding="utf-8"
    )
    catalog, issues = check_catalog(tmp_path)
    assert catalog is None
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (
            str(folder / "b-more.yaml"),
            "usage_class",
            "VOICE",
            "id",
            f"duplicate id (first defined in {folder / 'a-classes.yaml'})",
        )
    ]


def test_same_id_in_two_kinds_is_allowed(tmp_path: Path) -> None:
    """load.py: ids are unique per kind, so a usage class and a base bucket may share an id."""
    write_catalog(
        tmp_path,
        lambda d: d["base_buckets"].append({"id": "VOICE", "unit_type": "time", "details": [{"class": "VOICE"}]}),
    )
    assert check_catalog(tmp_path)[1] == []


def test_mapping_section_defined_in_two_files_is_refused(tmp_path: Path) -> None:
    """load.py: settings, owner and geotree are single mappings; a second definition is refused."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.yaml").write_text("settings: {time_zone: UTC}\n", encoding="utf-8")
    (folder / "b.yaml").write_text("settings: {time_zone: UTC}\n", encoding="utf-8")
    catalog, issues = check_catalog(tmp_path)
    assert catalog is None
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (str(folder / "b.yaml"), "settings", "", "", f"defined twice (also in {folder / 'a.yaml'})")
    ]


def test_folder_catalog_ignores_subscriptions_file(tmp_path: Path) -> None:
    """load.py catalog_files: in a catalog folder every *.yaml file is a catalog file except
    subscriptions*.yaml, which is not read as catalog sections."""
    (tmp_path / "classes.yaml").write_text(
        "usage_classes:\n  - {id: VOICE, rater: class, unit_type: time}\n", encoding="utf-8"
    )
    (tmp_path / "subscriptions.yaml").write_text("accounts: []\n", encoding="utf-8")
    catalog, issues = check_catalog(tmp_path)
    assert issues == []
    assert catalog is not None
    assert list(catalog.usage_classes) == ["VOICE"]


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    """model/fields.py Entity (extra="forbid"): a typo such as 'recur_frequncy' is an error, never ignored."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"recur_frequncy": "1 month"}),
            "usage_bucket",
            "UB-SPARE",
            "recur_frequncy",
            "unknown field",
        ),
    )


def test_unknown_nested_field_is_refused(tmp_path: Path) -> None:
    """model/fields.py Entity (extra="forbid") applies to nested entities too: a typo inside a rate names the
    full field path."""
    _assert_first(
        tmp_path,
        Broken(
            lambda d: _rate(d, 1).update({"amout": "2"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[1].amout",
            "unknown field",
        ),
    )


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    """load.py: a top-level key that is not a catalog section (a typo) is refused, listing the known ones."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: d.update({"usage_clases": []}),
            "catalog",
            "",
            "usage_clases",
            "unknown section (known: settings, owner, geotree, usage_classes, rounding_rules, time_periods, "
            "rate_plans, base_buckets, usage_buckets, share_plans, services, packages)",
        ),
    )


def test_list_section_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    """load.py: a list section given as a mapping is refused."""
    _assert_first(
        tmp_path,
        Broken(
            lambda d: d.update({"usage_classes": {"id": "VOICE"}}),
            "usage_class",
            "",
            "usage_classes",
            "must be a list of entities",
        ),
    )


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    """load.py: a catalog file is a mapping of sections."""
    (tmp_path / "catalog.yaml").write_text("- usage_classes\n", encoding="utf-8")
    catalog, issues = check_catalog(tmp_path)
    assert catalog is None
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (str(tmp_path / "catalog.yaml"), "catalog", "", "", "a catalog file must be a mapping of sections")
    ]


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    """load.py: a folder with no catalog file is an error, not an empty catalog."""
    catalog, issues = check_catalog(tmp_path)
    assert catalog is None
    assert [(i.kind, i.message) for i in issues] == [("catalog", "no catalog files found")]


def test_bad_yaml_syntax_reports_file_line_and_column(tmp_path: Path) -> None:
    """yamlio.py: a file that is not well-formed YAML is refused with file:line:col of the problem."""
    file = tmp_path / "catalog.yaml"
    file.write_text("usage_classes:\n  - {id: VOICE, rater: class, unit_type: time\n  - {id: DATA}\n", encoding="utf-8")
    catalog, issues = check_catalog(tmp_path)
    assert catalog is None
    assert [(i.file, i.kind, i.entity, i.field) for i in issues] == [(str(file), "catalog", "", "")]
    assert issues[0].message == f"{file}:3:5: expected ',' or '}}', but got '{{'"


def test_non_finite_amount_is_refused_with_position(tmp_path: Path) -> None:
    """yamlio.py: amounts are exact; '.inf' is refused while reading, naming file:line:col."""
    file = tmp_path / "catalog.yaml"
    file.write_text(
        "rounding_rules:\n  - {id: R, unit_type: time, unit: s, minimum: .inf, increment: 1}\n", encoding="utf-8"
    )
    catalog, issues = check_catalog(tmp_path)
    assert catalog is None
    assert [(i.kind, i.message) for i in issues] == [("catalog", f"{file}:2:48: '.inf' is not a finite amount")]


# --- float safety --------------------------------------------------------------------------------------


def test_yaml_float_amount_loads_as_exact_decimal(tmp_path: Path) -> None:
    """yamlio.py / R30: 'amount: 0.1' written as a bare YAML float loads as Decimal('0.1') exactly (never
    the binary float 0.1000000000000000055...), and so do rounding-rule and flat-charge numbers."""
    (tmp_path / "catalog.yaml").write_text(
        "usage_classes:\n"
        "  - {id: SMS, rater: class, unit_type: count}\n"
        "  - {id: VOICE, rater: class, unit_type: time}\n"
        "rounding_rules:\n"
        "  - {id: RR, unit_type: time, unit: min, minimum: 0.5, increment: 0.1}\n"
        "rate_plans:\n"
        "  - id: RP\n"
        "    precision: 11\n"
        "    rate_groups:\n"
        "      - id: G\n"
        "        currency: USD\n"
        "        rates:\n"
        "          - {class: SMS, amount: 0.1, per: message}\n"
        "          - {class: VOICE, amount: 0.30, per: min, rounding_rule: RR}\n"
        "base_buckets:\n"
        "  - {id: BB, unit_type: count, details: [{class: SMS}]}\n"
        "usage_buckets:\n"
        "  - id: UB\n"
        "    base_buckets: [BB]\n"
        "    recur_frequency: 1 month\n"
        "    tiers: [{threshold: 100, flat_charge: 19.99}]\n",
        encoding="utf-8",
    )
    catalog = load_catalog(tmp_path)
    rates = catalog.rate_plans["RP"].rate_groups[0].rates
    assert type(rates[0].amount) is Decimal
    assert str(rates[0].amount) == "0.1"
    assert rates[0].amount * 3 == Decimal("0.3")  # a float would give 0.30000000000000004
    assert (type(rates[1].amount), str(rates[1].amount)) == (Decimal, "0.30")
    rule = catalog.rounding_rules["RR"]
    assert (type(rule.minimum), rule.minimum, type(rule.increment), rule.increment) == (
        Decimal,
        Decimal("0.5"),
        Decimal,
        Decimal("0.1"),
    )
    assert catalog.usage_buckets["UB"].tiers[0].flat_charge == Decimal("19.99")


# --- shape rules of the models -------------------------------------------------------------------------

SHAPE_RULES = [
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"id": "UB/SPARE"}),
            "usage_bucket",
            "UB/SPARE",
            "id",
            "String should match pattern",
        ),
        id="Id-pattern-no-slash",
    ),
    pytest.param(
        Broken(
            lambda d: d["usage_classes"][0].pop("rater"),
            "usage_class",
            "VOICE",
            "rater",
            "Field required",
        ),
        id="R3-class-rater-required",
    ),
    pytest.param(
        Broken(
            lambda d: d["usage_classes"][0].update({"rater": "geo"}),
            "usage_class",
            "VOICE",
            "rater",
            "Input should be 'class' or 'geotree'",
        ),
        id="R3-class-rater-enum",
    ),
    pytest.param(
        Broken(
            lambda d: d["usage_classes"][0].update({"unit_type": "money"}),
            "usage_class",
            "VOICE",
            "unit_type",
            "Input should be",
        ),
        id="1.6-class-unit-type-not-money",
    ),
    pytest.param(
        Broken(
            lambda d: d["owner"].update({"currency": "usd"}),
            "owner",
            "",
            "currency",
            "String should match pattern '^[A-Z]{3}$'",
        ),
        id="currency-code",
    ),
    pytest.param(
        Broken(
            lambda d: d["settings"].update({"same_level_bucket_order": ["recurring", "nonrecurring"]}),
            "settings",
            "",
            "same_level_bucket_order",
            "must list each recur type exactly once",
        ),
        id="R13-bucket-order-complete",
    ),
    pytest.param(
        Broken(
            lambda d: d["settings"].update({"rollover_size": "first_tier"}),
            "settings",
            "",
            "rollover_size",
            "Input should be 'cumulative' or 'last_tier'",
        ),
        id="Q3-rollover-size-option",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "rounding_rules", "RR-60-6").update({"minimum": -1}),
            "rounding_rule",
            "RR-60-6",
            "minimum",
            "must be zero or more",
        ),
        id="R29-minimum-not-negative",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "rounding_rules", "RR-60-6").update({"increment": 0}),
            "rounding_rule",
            "RR-60-6",
            "increment",
            "must be greater than zero",
        ),
        id="R29-increment-positive",
    ),
    pytest.param(
        Broken(
            lambda d: _period_detail(d).update({"from": "25:00"}),
            "time_period",
            "EVENINGS",
            "details[0].from",
            "'25:00' is not a clock time such as '17:00'",
        ),
        id="1.18-clock-time",
    ),
    pytest.param(
        Broken(
            lambda d: _period_detail(d).update({"days": ["monday"]}),
            "time_period",
            "EVENINGS",
            "details[0].days[0]",
            "Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
        ),
        id="1.18-weekday",
    ),
    pytest.param(
        Broken(
            lambda d: _period_detail(d).update({"days": []}),
            "time_period",
            "EVENINGS",
            "details[0].days",
            "at least 1 item",
        ),
        id="1.18-days-required",
    ),
    pytest.param(
        Broken(
            lambda d: _rate(d, 0).update({"amount": "-0.01"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[0].amount",
            "must be zero or more",
        ),
        id="1.16-amount-not-negative",
    ),
    pytest.param(
        Broken(
            lambda d: _rate(d, 0).update({"amount": "six cents"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[0].amount",
            "'six cents' is not a decimal number",
        ),
        id="1.16-amount-decimal",
    ),
    pytest.param(
        Broken(
            lambda d: _plan(d).update({"precision": 12}),
            "rate_plan",
            "RP-1",
            "precision",
            "Input should be less than or equal to 11",
        ),
        id="R30-precision-at-most-11",
    ),
    pytest.param(
        Broken(
            lambda d: _plan(d).update({"rate_groups": []}),
            "rate_plan",
            "RP-1",
            "rate_groups",
            "at least 1 item",
        ),
        id="1.14-rate-groups-required",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "base_buckets", "BB-SPARE").update({"details": []}),
            "base_bucket",
            "BB-SPARE",
            "details",
            "at least 1 item",
        ),
        id="1.8-base-bucket-details-required",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "base_buckets", "BB-SPARE").update({"unit_type": "pages"}),
            "base_bucket",
            "BB-SPARE",
            "unit_type",
            "Input should be 'time', 'data', 'count' or 'money'",
        ),
        id="1.8-base-bucket-unit-type",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"base_buckets": []}),
            "usage_bucket",
            "UB-SPARE",
            "base_buckets",
            "at least 1 item",
        ),
        id="1.9-base-buckets-required",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"recur_type": "weekly"}),
            "usage_bucket",
            "UB-SPARE",
            "recur_type",
            "Input should be 'recurring', 'recurring_rollover' or 'nonrecurring'",
        ),
        id="R35-R37-recur-type",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"recur_frequency": "monthly"}),
            "usage_bucket",
            "UB-SPARE",
            "recur_frequency",
            "'monthly' is not a duration such as '1 month', '7 days', '1 year'",
        ),
        id="1.9-duration-syntax",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"recur_frequency": "0 months"}),
            "usage_bucket",
            "UB-SPARE",
            "recur_frequency",
            "'0 months': a duration must be at least 1",
        ),
        id="1.9-duration-positive",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"expire_after_recurrence": 0}),
            "usage_bucket",
            "UB-SPARE",
            "expire_after_recurrence",
            "Input should be greater than or equal to 1",
        ),
        id="R38-expire-after-recurrence-at-least-1",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"notify_at_percent": [50, 101]}),
            "usage_bucket",
            "UB-SPARE",
            "notify_at_percent[1]",
            "Input should be less than or equal to 100",
        ),
        id="R66-notify-percent-at-most-100",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"notify_at_percent": [0]}),
            "usage_bucket",
            "UB-SPARE",
            "notify_at_percent[0]",
            "Input should be greater than 0",
        ),
        id="R66-notify-percent-positive",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE")["tiers"][0].update({"flat_charge": "-5"}),
            "usage_bucket",
            "UB-SPARE",
            "tiers[0].flat_charge",
            "must be zero or more",
        ),
        id="1.10-flat-charge-not-negative",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-SPARE")["tiers"][0].update({"threshold": "ten messages"}),
            "usage_bucket",
            "UB-SPARE",
            "tiers[0].threshold",
            "'ten messages' is not a quantity such as '10 GB' or '60 s'",
        ),
        id="1.10-threshold-syntax",
    ),
    pytest.param(
        Broken(
            lambda d: _bucket(d, "UB-ACT")["billing_activation"].pop("time_expiry"),
            "usage_bucket",
            "UB-ACT",
            "billing_activation.time_expiry",
            "Field required",
        ),
        id="R49-activation-needs-time-expiry",
    ),
    pytest.param(
        Broken(
            lambda d: d["geotree"]["location_groups"][0].update({"locations": []}),
            "geotree",
            "",
            "location_groups[0].locations",
            "at least 1 item",
        ),
        id="1.7-location-group-not-empty",
    ),
    pytest.param(
        Broken(
            lambda d: entity(d, "packages", "PKG-SPARE").update({"services": []}),
            "package",
            "PKG-SPARE",
            "services",
            "at least 1 item",
        ),
        id="1.3-package-services-required",
    ),
    pytest.param(
        Broken(
            lambda d: _add_on(d).update({"allotments": []}),
            "package",
            "PKG-ADDON",
            "share_plan_add_on.allotments",
            "at least 1 item",
        ),
        id="R64-add-on-allotments-required",
    ),
    pytest.param(
        Broken(
            lambda d: _share(d, "SP-SPARE").update({"share_level": "owner"}),
            "share_plan",
            "SP-SPARE",
            "share_level",
            "Input should be 'account' or 'usage_invoicer'",
        ),
        id="R57-share-level",
    ),
    pytest.param(
        Broken(
            lambda d: _share(d, "SP-SPARE").update({"participating_type": "service_type"}),
            "share_plan",
            "SP-SPARE",
            "participating_type",
            "Input should be 'service' or 'package'",
        ),
        id="R55-participating-type",
    ),
    pytest.param(
        Broken(
            lambda d: _share(d, "SP-SPARE").pop("usage_billing_frequency"),
            "share_plan",
            "SP-SPARE",
            "usage_billing_frequency",
            "Field required",
        ),
        id="R62-usage-billing-frequency-required",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 0).update({"type": "variable"}),
            "share_plan",
            "SP-1",
            "buckets[0].type",
            "Input should be 'fixed', 'variable_single_tier' or 'variable_multiple_tier'",
        ),
        id="R59-bucket-type",
    ),
]


@pytest.mark.parametrize("case", SHAPE_RULES)
def test_shape_rule_is_refused(tmp_path: Path, case: Broken) -> None:
    """model/ shape rules (ids, enums, required fields, ranges, decimals, durations, quantity syntax; the
    param id names the rule): the entity is refused with the pydantic field path."""
    _assert_first(tmp_path, case)


def test_shape_error_leaves_the_entity_out(tmp_path: Path) -> None:
    """load.py: an entity with a shape error is left out (nothing is half-loaded); what references it says
    that it is not valid, pointing at its own error, not that it is unknown."""
    file, issues = _refused(tmp_path, lambda d: entity(d, "rounding_rules", "RR-60-6").update({"increment": 0}))
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (file, "rounding_rule", "RR-60-6", "increment", "Value error, must be greater than zero"),
        (
            file,
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[0].rounding_rule",
            "rounding rule 'RR-60-6' is not valid: see its own errors",
        ),
    ]


@pytest.mark.parametrize("end", ["23:59", "23:59:59", "24:00"])
def test_a_window_may_end_in_the_last_minute_of_the_day(tmp_path: Path, end: str) -> None:
    """§1.18: the seed's weekend is "Saturday 12:00 AM-11:59 PM", the whole day; a window's 'to' holds its
    whole minute, so '23:59' (as '23:59:59' and '24:00') is a valid end of the day."""
    write_catalog(tmp_path, lambda d: _period_detail(d).update({"from": "19:00", "to": end}))
    catalog, issues = check_catalog(tmp_path)
    assert (catalog is not None, [i for i in issues if i.severity == "error"]) == (True, [])


def test_a_usage_bucket_without_tiers_is_refused_by_name_not_reported_unknown(tmp_path: Path) -> None:
    """§1.9: a usage bucket that is not a billing activation bucket needs at least one tier (R15).  UB-SMS
    without ``tiers`` is one error on its own ``tiers`` field; SVC-PHONE, which carries it, is not told of
    an "unknown usage bucket"."""
    file, issues = _refused(tmp_path, lambda d: _bucket(d, "UB-SMS").pop("tiers"))
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (
            file,
            "usage_bucket",
            "UB-SMS",
            "tiers",
            "required: at least one tier (only a billing activation bucket has none)",
        )
    ]


def test_a_malformed_usage_bucket_is_named_by_its_referrers_as_not_valid(tmp_path: Path) -> None:
    """load.py / validate/: UB-SMS with an unknown field is refused by its model; the service carrying it
    reports "usage bucket 'UB-SMS' is not valid: see its own errors" (it was "unknown usage bucket")."""
    _, issues = _refused(tmp_path, lambda d: _bucket(d, "UB-SMS").update({"tier": []}))
    assert [(i.kind, i.entity, i.field, i.message) for i in issues] == [
        ("usage_bucket", "UB-SMS", "tier", "unknown field"),
        ("service", "SVC-PHONE", "usage_buckets[2]", "usage bucket 'UB-SMS' is not valid: see its own errors"),
    ]


def test_a_billing_activation_bucket_needs_no_tiers_or_recurrence(tmp_path: Path) -> None:
    """R49-R52, Q11: an activation bucket is a trigger, not an allowance.  UB-ACT written with only its base
    bucket and ``billing_activation`` (no ``tiers``, ``recur_type`` or ``recur_frequency``; the recur type
    defaults to recurring, which for any other bucket requires a frequency) loads without an issue."""

    def bare(doc: Doc) -> None:
        bucket = _bucket(doc, "UB-ACT")
        for name in ("tiers", "recur_type"):
            bucket.pop(name)

    write_catalog(tmp_path, bare)
    catalog, issues = check_catalog(tmp_path)
    assert issues == []
    assert catalog is not None
    assert catalog.usage_buckets["UB-ACT"].tiers == ()


def test_shape_error_in_one_tier_names_only_that_tier(tmp_path: Path) -> None:
    """validate/ "every finding names the file, the entity and the field": a bad threshold on the only
    tier of an unreferenced bucket is one issue, on tiers[0].threshold."""
    file, issues = _refused(tmp_path, lambda d: _bucket(d, "UB-SPARE")["tiers"][0].update({"threshold": "ten"}))
    assert [(i.file, i.kind, i.entity, i.field) for i in issues] == [
        (file, "usage_bucket", "UB-SPARE", "tiers[0].threshold")
    ]


def test_numeric_geotree_patterns_are_text(tmp_path: Path) -> None:
    """§1.7 model/classification.py GeoNode: a pattern written as a bare number (1519249) is kept as the text
    '1519249'."""
    write_catalog(tmp_path, lambda d: d["geotree"]["nodes"][0]["children"][0].update({"patterns": [1519249]}))
    catalog = load_catalog(tmp_path)
    assert catalog.geotree.nodes[0].children[0].patterns == ("1519249",)


def test_package_service_entry_shorthand(tmp_path: Path) -> None:
    """model/products.py Package: a package service may be written as its id alone or as a mapping with a
    package-service rate plan (R24 level 3)."""
    write_catalog(tmp_path)
    catalog = load_catalog(tmp_path)
    services = catalog.packages["PKG-1"].services
    assert [(s.service, s.rate_plan) for s in services] == [
        ("SVC-PHONE", None),
        ("SVC-SELL", "RP-1"),
        ("SVC-ACT", None),
    ]


# --- R5/R48, R8, §1.8: unit types and locations -------------------------------------------------------


def test_base_buckets_of_different_unit_types_on_one_bucket_are_refused(tmp_path: Path) -> None:
    """R5/R48: several base buckets on one usage bucket must share a unit type (data + count refused)."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-DATA").update({"base_buckets": ["BB-DATA", "BB-SMS"]}),
            "usage_bucket",
            "UB-DATA",
            "base_buckets",
            "base buckets must share one unit type, found count, data (R5/R48)",
        ),
    )


def test_base_buckets_of_different_unit_types_on_share_plan_bucket_are_refused(tmp_path: Path) -> None:
    """R5/R48 apply to share plan buckets too (built like usage buckets, §1.12)."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _share_bucket(d, 0).update({"base_buckets": ["BB-DATA", "BB-VOICE"]}),
            "share_plan",
            "SP-1",
            "buckets[0].base_buckets",
            "base buckets must share one unit type, found data, time (R5/R48)",
        ),
    )


def test_detail_class_of_other_unit_type_is_refused(tmp_path: Path) -> None:
    """R5: a count base bucket's detail cannot name a data class."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: entity(d, "base_buckets", "BB-SPARE")["details"][0].update({"class": "DATA"}),
            "base_bucket",
            "BB-SPARE",
            "details[0].class",
            "class 'DATA' is data, the base bucket is count (R5)",
        ),
    )


def test_money_base_bucket_may_name_classes_of_any_unit_type(tmp_path: Path) -> None:
    """R8/R45: a money base bucket's details may name time, data and count classes together."""
    write_catalog(
        tmp_path, lambda d: entity(d, "base_buckets", "BB-MONEY")["details"].append({"class": "SMS", "exclude": True})
    )
    assert check_catalog(tmp_path)[1] == []


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-SPARE").update({"base_buckets": ["BB-MONEY"]}),
                "usage_bucket",
                "UB-SPARE",
                "money",
                "money base buckets need 'money: true' on the bucket",
            ),
            id="money-base-bucket-without-money-flag",
        ),
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-SPARE").update({"money": True}),
                "usage_bucket",
                "UB-SPARE",
                "money",
                "a money bucket needs money base buckets, these are count",
            ),
            id="money-flag-on-count-base-bucket",
        ),
    ],
)
def test_money_flag_matches_base_buckets(tmp_path: Path, case: Broken) -> None:
    """R45/§1.9: a money bucket (money: true) is built on money base buckets, and only it."""
    _assert_only(tmp_path, case)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _rate(d, 0).update({"location": "CANADA"}),
                "rate_plan",
                "RP-1",
                "rate_groups[0].rates[0].location",
                "class 'VOICE' is Class-rated: locations apply only to GeoTree-rated classes",
            ),
            id="location-on-rate",
        ),
        pytest.param(
            Broken(
                lambda d: _rate(d, 0).update({"location_group": "NA"}),
                "rate_plan",
                "RP-1",
                "rate_groups[0].rates[0].location_group",
                "class 'VOICE' is Class-rated: locations apply only to GeoTree-rated classes",
            ),
            id="location-group-on-rate",
        ),
        pytest.param(
            Broken(
                lambda d: entity(d, "base_buckets", "BB-DATA")["details"][0].update({"location": "CANADA"}),
                "base_bucket",
                "BB-DATA",
                "details[0].location",
                "class 'DATA' is Class-rated: locations apply only to GeoTree-rated classes",
            ),
            id="location-on-base-bucket-detail",
        ),
    ],
)
def test_location_on_class_rated_class_is_refused(tmp_path: Path, case: Broken) -> None:
    """§1.8/§1.16 (R3, R4): a location or location group is offered only for GeoTree-rated classes."""
    _assert_only(tmp_path, case)


def test_geotree_rate_without_location_is_refused(tmp_path: Path) -> None:
    """§1.16: a rate for a GeoTree-rated class needs a location or a location group."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _rate(d, 2).pop("location"),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[2].location",
            "class 'LD' is GeoTree-rated: a location or location group is required",
        ),
    )


def test_geotree_rate_with_location_and_group_is_refused(tmp_path: Path) -> None:
    """§1.16: a GeoTree rate gives a location or a location group, not both."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _rate(d, 2).update({"location_group": "NA"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[2].location_group",
            "give a location or a location group, not both",
        ),
    )


def test_geotree_base_bucket_detail_may_omit_location(tmp_path: Path) -> None:
    """§1.8: on a base bucket detail the location is optional, even for a GeoTree-rated class."""
    write_catalog(tmp_path, lambda d: entity(d, "base_buckets", "BB-VOICE")["details"][1].pop("location"))
    assert check_catalog(tmp_path)[1] == []


def test_rate_unit_of_other_unit_type_is_refused(tmp_path: Path) -> None:
    """§1.16/Q7: the rate's 'per' unit must be a unit of the class's unit type."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _rate(d, 0).update({"per": "GB"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[0].per",
            "unit 'GB' is not a time unit",
        ),
    )


def test_rounding_rule_of_other_unit_type_is_refused(tmp_path: Path) -> None:
    """§1.16/§1.17: a rate's rounding rule must be for the class's unit type (time rule on a data rate)."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _rate(d, 1).update({"rounding_rule": "RR-60-6"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].rates[1].rounding_rule",
            "rounding rule 'RR-60-6' is for time, class 'DATA' is data",
        ),
    )


# --- rounding rules, time periods, dates ---------------------------------------------------------------


def test_rounding_minimum_not_whole_base_units_is_refused(tmp_path: Path) -> None:
    """R29/§1.17 (validate.check_rounding): Minimum 0.0005 s is half a millisecond, not a whole number of
    base units."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: entity(d, "rounding_rules", "RR-60-6").update({"minimum": "0.0005"}),
            "rounding_rule",
            "RR-60-6",
            "minimum",
            "must be a whole number of base units (0.5000 found)",
        ),
    )


def test_rounding_increment_not_whole_base_units_is_refused(tmp_path: Path) -> None:
    """R29/§1.17: the Increment too must be a whole number of base units (0.5 B is not)."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: d["rounding_rules"].append(
                {"id": "RR-DATA", "unit_type": "data", "unit": "KB", "minimum": 1, "increment": "0.0005"}
            ),
            "rounding_rule",
            "RR-DATA",
            "increment",
            "must be a whole number of base units (0.5000 found)",
        ),
    )


def test_fractional_rounding_rule_in_whole_base_units_is_accepted(tmp_path: Path) -> None:
    """R29/§1.17: Minimum 0.5 min (30,000 ms) and Increment 0.1 min (6,000 ms) are whole base units."""
    write_catalog(
        tmp_path,
        lambda d: entity(d, "rounding_rules", "RR-60-6").update({"unit": "min", "minimum": "0.5", "increment": "0.1"}),
    )
    assert check_catalog(tmp_path)[1] == []


def test_rounding_rule_unit_of_other_unit_type_is_refused(tmp_path: Path) -> None:
    """§1.17: the rule's unit belongs to its unit type."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: entity(d, "rounding_rules", "RR-60-6").update({"unit": "GB"}),
            "rounding_rule",
            "RR-60-6",
            "unit",
            "unit 'GB' is not a time unit",
        ),
    )


def test_time_period_window_ending_before_start_is_refused(tmp_path: Path) -> None:
    """§1.18: 'from' inclusive, 'to' exclusive: 'to' must be later than 'from'."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _period_detail(d).update({"to": "17:00"}),
            "time_period",
            "EVENINGS",
            "details[0].to",
            "must be later than 'from'",
        ),
    )


def test_time_period_may_end_at_midnight_but_not_start_there(tmp_path: Path) -> None:
    """§1.18: "24:00" ends a day window; it cannot start one."""
    write_catalog(tmp_path, lambda d: _period_detail(d).update({"to": "24:00"}))
    assert check_catalog(tmp_path)[1] == []
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _period_detail(d).update({"from": "24:00", "to": "24:00"}),
            "time_period",
            "EVENINGS",
            "details[0].from",
            "'24:00' can only end a window",
        ),
    )


def test_rate_group_retired_before_start_is_refused(tmp_path: Path) -> None:
    """§1.15/R27: a rate group's retired date (exclusive end of use) is later than its start."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _plan(d)["rate_groups"][0].update({"start": "2026-02-01", "retired": "2026-02-01"}),
            "rate_plan",
            "RP-1",
            "rate_groups[0].retired",
            "must be later than start",
        ),
    )


def test_base_bucket_retired_before_start_is_refused(tmp_path: Path) -> None:
    """§1.8: a base bucket's retired date is later than its start."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: entity(d, "base_buckets", "BB-SPARE").update({"start": "2026-02-01", "retired": "2026-01-31"}),
            "base_bucket",
            "BB-SPARE",
            "retired",
            "must be later than start",
        ),
    )


def test_invalid_time_zone_is_refused(tmp_path: Path) -> None:
    """Q8 settings.time_zone: the zone must be a known IANA zone."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: d["settings"].update({"time_zone": "Mars/Olympus_Mons"}),
            "settings",
            "",
            "time_zone",
            "unknown time zone 'Mars/Olympus_Mons'",
        ),
    )


def test_an_overlong_time_zone_is_refused_by_its_shape(tmp_path: Path) -> None:
    """Q8 settings.time_zone: at most 64 characters; 300 made the zone lookup fail with "File name too
    long" (an OSError the check did not catch) instead of an error naming the field."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: d["settings"].update({"time_zone": "x" * 300}),
            "settings",
            "",
            "time_zone",
            "String should have at most 64 characters",
        ),
    )


def test_valid_time_zone_is_used(tmp_path: Path) -> None:
    """Q8 settings.time_zone: a known zone is accepted and becomes the catalog's zone."""
    write_catalog(tmp_path, lambda d: d["settings"].update({"time_zone": "America/Toronto"}))
    catalog = load_catalog(tmp_path)
    assert catalog.zone.key == "America/Toronto"


# --- duplicates inside an entity -----------------------------------------------------------------------

DUPLICATES_INSIDE = [
    pytest.param(
        lambda d: _plan(d)["rate_groups"].append({"id": "STD", "currency": "EUR"}),
        "rate_plan",
        "RP-1",
        ["rate_groups[0].id", "rate_groups[1].id"],
        "duplicate rate group id 'STD'",
        id="rate-group-id",
    ),
    pytest.param(
        lambda d: (_rate(d, 0).update({"id": "R1"}), _rate(d, 1).update({"id": "R1"})),
        "rate_plan",
        "RP-1",
        ["rate_groups[0].rates[0].id", "rate_groups[0].rates[1].id"],
        "duplicate rate id 'R1'",
        id="rate-id",
    ),
    pytest.param(
        lambda d: entity(d, "packages", "PKG-1")["frequencies"].append({"id": "MONTHLY", "every": "1 year"}),
        "package",
        "PKG-1",
        ["frequencies[0].id", "frequencies[1].id"],
        "duplicate frequency id 'MONTHLY'",
        id="package-frequency-id",
    ),
    pytest.param(
        lambda d: _share_bucket(d, 1).update({"id": "SPB-FIXED"}),
        "share_plan",
        "SP-1",
        ["buckets[0].id", "buckets[1].id"],
        "duplicate bucket id 'SPB-FIXED'",
        id="share-plan-bucket-id",
    ),
    pytest.param(
        lambda d: entity(d, "services", "SVC-PHONE")["usage_buckets"].append("UB-DATA"),
        "service",
        "SVC-PHONE",
        ["usage_buckets"],
        "usage bucket 'UB-DATA' is attached twice",
        id="bucket-attached-twice",
    ),
    pytest.param(
        lambda d: entity(d, "packages", "PKG-1")["services"].append("SVC-PHONE"),
        "package",
        "PKG-1",
        ["services[3].service"],
        "service 'SVC-PHONE' listed twice",
        id="package-service-twice",
    ),
    pytest.param(
        lambda d: _share_bucket(d, 0)["participants"].append({"participant": "SVC-PHONE"}),
        "share_plan",
        "SP-1",
        ["buckets[0].participants[1].participant"],
        "'SVC-PHONE' listed twice",
        id="bucket-participant-twice",
    ),
    pytest.param(
        lambda d: d["geotree"]["nodes"][0]["children"].append({"id": "CANADA"}),
        "geotree",
        "CANADA",
        ["nodes[0].children[2].id"],
        "duplicate node id",
        id="geotree-node-id",
    ),
    pytest.param(
        lambda d: d["geotree"]["nodes"][0]["children"][1].update({"patterns": ["1212", "1519"]}),
        "geotree",
        "US",
        ["nodes[0].children[1].patterns"],
        "pattern '1519' also on node 'CANADA'",
        id="geotree-pattern",
    ),
]


@pytest.mark.parametrize(("change", "kind", "entity_id", "fields", "message"), DUPLICATES_INSIDE)
def test_duplicate_inside_an_entity_is_refused(
    tmp_path: Path, change: Change, kind: str, entity_id: str, fields: list[str], message: str
) -> None:
    """validate/: ids inside an entity (rate groups, rates, frequencies, share plan buckets, GeoTree nodes
    and patterns) are unique, and a bucket, service or participant is listed once."""
    file, issues = _refused(tmp_path, change)
    assert [(i.file, i.kind, i.entity, i.field, i.message) for i in issues] == [
        (file, kind, entity_id, field, message) for field in fields
    ]


# --- tiers and quantities (R15, R22, R23) --------------------------------------------------------------


def test_tier_threshold_with_unit_of_other_type_is_refused(tmp_path: Path) -> None:
    """R15/§1.10 (validate: thresholds are quantities of the bucket's unit type): "10 GB" on a time
    bucket is refused."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-VOICE")["tiers"][0].update({"threshold": "10 GB"}),
            "usage_bucket",
            "UB-VOICE",
            "tiers[0].threshold",
            "unit 'GB' is not a time unit (known: ms, s, sec, second, seconds, min, minute, minutes, h, hour, hours)",
        ),
    )


def test_tier_threshold_with_bad_syntax_is_refused(tmp_path: Path) -> None:
    """§1.10 (model/fields.py Quantity): a threshold that is not '<number> <unit>' is refused where it is."""
    _assert_first(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-VOICE")["tiers"][0].update({"threshold": "10GB of voice"}),
            "usage_bucket",
            "UB-VOICE",
            "tiers[0].threshold",
            "'10GB of voice' is not a quantity such as '10 GB' or '60 s'",
        ),
    )


def test_time_threshold_without_unit_is_refused(tmp_path: Path) -> None:
    """R15/Q7: a time or data quantity must name its unit; a bare 300 is ambiguous."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-VOICE")["tiers"][0].update({"threshold": 300}),
            "usage_bucket",
            "UB-VOICE",
            "tiers[0].threshold",
            "a time quantity needs a unit",
        ),
    )


def test_fractional_binary_tier_is_accepted_and_rounds_half_up(tmp_path: Path) -> None:
    """R22/R23/E26: 0.1 MiB (binary) = 104,857.6 B is accepted and is 104,858 whole bytes (half up)."""
    write_catalog(
        tmp_path,
        lambda d: _bucket(d, "UB-DATA").update(
            {"binary_data_units": True, "tiers": [{"threshold": "0.1 MiB"}, {"threshold": "1 MB"}]}
        ),
    )
    catalog, issues = check_catalog(tmp_path)
    assert issues == []
    assert catalog is not None
    bucket: UsageBucket = catalog.usage_buckets["UB-DATA"]
    assert bucket.tiers[0].threshold == "0.1 MiB"
    assert parse_quantity(bucket.tiers[0].threshold, UnitType.DATA, binary=bucket.binary_data_units) == 104_858
    # R23: with Convert Data to Binary on, MB is binary too.
    assert parse_quantity(bucket.tiers[1].threshold, UnitType.DATA, binary=bucket.binary_data_units) == 1_048_576


def test_tier_rounding_to_zero_base_units_is_refused(tmp_path: Path) -> None:
    """R15/R22: a tier must be at least one base unit; 0.4 B rounds half up to 0 B."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-DATA")["tiers"][0].update({"threshold": "0.4 B"}),
            "usage_bucket",
            "UB-DATA",
            "tiers[0].threshold",
            "a tier must be at least one base unit",
        ),
    )


def test_negative_tier_is_refused(tmp_path: Path) -> None:
    """R15: tier sizes are positive; a negative threshold is refused."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-SPARE")["tiers"][0].update({"threshold": "-5"}),
            "usage_bucket",
            "UB-SPARE",
            "tiers[0].threshold",
            "'-5' is negative",
        ),
    )


def test_usage_bucket_tier_needs_threshold(tmp_path: Path) -> None:
    """§1.10/R15: every usage-bucket tier has a size."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-SPARE")["tiers"][0].pop("threshold"),
            "usage_bucket",
            "UB-SPARE",
            "tiers[0].threshold",
            "required",
        ),
    )


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-SPARE")["tiers"][0].update({"tier_growth": 5}),
                "usage_bucket",
                "UB-SPARE",
                "tiers[0].tier_growth",
                "only on Variable Multiple Tier share plan buckets",
            ),
            id="tier-growth",
        ),
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-SPARE")["tiers"][0].update({"repeat": True}),
                "usage_bucket",
                "UB-SPARE",
                "tiers[0].repeat",
                "usage buckets repeat with last_tier_repeats",
            ),
            id="repeat",
        ),
    ],
)
def test_share_plan_tier_fields_on_usage_bucket_are_refused(tmp_path: Path, case: Broken) -> None:
    """§1.10/R19: Tier Growth and Repeat are share-plan tier fields; usage buckets use Last Tier Repeats."""
    _assert_only(tmp_path, case)


def test_binary_units_on_non_data_bucket_are_refused(tmp_path: Path) -> None:
    """R23/§1.9: Convert Data to Binary is for data buckets only."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"binary_data_units": True}),
            "usage_bucket",
            "UB-SPARE",
            "binary_data_units",
            "only for data buckets (R23)",
        ),
    )


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-ACT")["billing_activation"].update({"usage_threshold": "1 min"}),
                "usage_bucket",
                "UB-ACT",
                "billing_activation.usage_threshold",
                "unit 'min' is not a data unit",
            ),
            id="R49-activation-threshold",
        ),
        pytest.param(
            Broken(
                lambda d: _share_bucket(d, 1)["participants"][0].update({"contribution": "10 min"}),
                "share_plan",
                "SP-1",
                "buckets[1].participants[0].contribution",
                "unit 'min' is not a data unit",
            ),
            id="R60-contribution",
        ),
        pytest.param(
            Broken(
                lambda d: _share_bucket(d, 0)["participants"][0].update({"participation_limit": "10 min"}),
                "share_plan",
                "SP-1",
                "buckets[0].participants[0].participation_limit",
                "unit 'min' is not a data unit",
            ),
            id="R61-participation-limit",
        ),
        pytest.param(
            Broken(
                lambda d: _add_on(d)["allotments"][0].update({"amount": "10 min"}),
                "package",
                "PKG-ADDON",
                "share_plan_add_on.allotments[0].amount",
                "unit 'min' is not a data unit",
            ),
            id="R64-add-on-allotment",
        ),
        pytest.param(
            Broken(
                lambda d: _share_bucket(d, 2)["tiers"][0].update({"tier_growth": "5 min"}),
                "share_plan",
                "SP-1",
                "buckets[2].tiers[0].tier_growth",
                "unit 'min' is not a data unit",
            ),
            id="R59-tier-growth",
        ),
    ],
)
def test_quantities_use_the_bucket_unit_type(tmp_path: Path, case: Broken) -> None:
    """R22/R23 (validate: contributions, limits, activation thresholds, add-on allotments and tier growth
    are quantities of the bucket's unit type): a time unit on a data bucket is refused."""
    _assert_only(tmp_path, case)


# --- R20, R35-R38: recurrence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-VOICE").update({"prorate": True}),
                "usage_bucket",
                "UB-VOICE",
                "prorate",
                "not offered on nonrecurring buckets (R20)",
            ),
            id="prorate",
        ),
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-VOICE").update({"last_tier_repeats": True}),
                "usage_bucket",
                "UB-VOICE",
                "last_tier_repeats",
                "not offered on nonrecurring buckets (R20)",
            ),
            id="last-tier-repeats",
        ),
        pytest.param(
            Broken(
                lambda d: _share_bucket(d, 0).update(
                    {"recur_type": "nonrecurring", "prorate": True, "tiers": [{"threshold": "1 GB"}]}
                ),
                "share_plan",
                "SP-1",
                "buckets[0].prorate",
                "not offered on nonrecurring buckets (R20)",
            ),
            id="prorate-on-share-plan-bucket",
        ),
        pytest.param(
            Broken(
                lambda d: _share_bucket(d, 0).update({"recur_type": "nonrecurring"}),
                "share_plan",
                "SP-1",
                "buckets[0].tiers[1].repeat",
                "not offered on nonrecurring buckets (R20)",
            ),
            id="repeat-on-share-plan-bucket",
        ),
    ],
)
def test_nonrecurring_bucket_cannot_prorate_or_repeat(tmp_path: Path, case: Broken) -> None:
    """R20: Prorate, Last Tier Repeats and Repeat are not offered on nonrecurring buckets."""
    _assert_only(tmp_path, case)


def test_recurring_bucket_needs_recur_frequency(tmp_path: Path) -> None:
    """R35/§1.9: a recurring (or rollover) usage bucket names its Recur Frequency."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-DATA").pop("recur_frequency"),
            "usage_bucket",
            "UB-DATA",
            "recur_frequency",
            "required for recurring buckets",
        ),
    )


def test_rollover_bucket_needs_recur_frequency(tmp_path: Path) -> None:
    """R36/§1.9: a recurring-with-rollover bucket names its Recur Frequency too."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-SPARE").update({"recur_type": "recurring_rollover", "recur_frequency": None}),
            "usage_bucket",
            "UB-SPARE",
            "recur_frequency",
            "required for recurring_rollover buckets",
        ),
    )


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-VOICE").update({"recur_frequency": "1 month"}),
                "usage_bucket",
                "UB-VOICE",
                "recur_frequency",
                "nonrecurring buckets do not recur",
            ),
            id="recur-frequency-on-nonrecurring",
        ),
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-VOICE").update({"expire_after_recurrence": 2}),
                "usage_bucket",
                "UB-VOICE",
                "expire_after_recurrence",
                "only for recurring buckets (R38)",
            ),
            id="expire-after-recurrence-on-nonrecurring",
        ),
        pytest.param(
            Broken(
                lambda d: _bucket(d, "UB-DATA").update({"expire_after": "1 month"}),
                "usage_bucket",
                "UB-DATA",
                "expire_after",
                "only for nonrecurring buckets (R37)",
            ),
            id="expire-after-on-recurring",
        ),
        pytest.param(
            Broken(
                lambda d: _share_bucket(d, 0).update({"expire_after": "1 month"}),
                "share_plan",
                "SP-1",
                "buckets[0].expire_after",
                "only for nonrecurring buckets (R37)",
            ),
            id="expire-after-on-recurring-share-plan-bucket",
        ),
    ],
)
def test_recurrence_fields_fit_the_recur_type(tmp_path: Path, case: Broken) -> None:
    """R20/R37/R38: Expire After only on nonrecurring buckets; Recur Frequency and Expire After Recurrence
    only on recurring types."""
    _assert_only(tmp_path, case)


# --- R49, Q16: billing activation ----------------------------------------------------------------------


def test_billing_activation_bucket_on_non_activation_service_is_refused(tmp_path: Path) -> None:
    """R49: a billing-activation bucket goes only on a billing activation service."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: entity(d, "services", "SVC-PHONE")["usage_buckets"].append("UB-ACT"),
            "service",
            "SVC-PHONE",
            "usage_buckets[4]",
            "billing-activation bucket 'UB-ACT' can only go on a billing activation service (R49)",
        ),
    )


def test_billing_activation_on_money_bucket_is_refused(tmp_path: Path) -> None:
    """Q16: billing activation is not offered on money buckets (the bucket sits on an activation service
    here, so R49 is satisfied and only Q16 fires)."""

    def change(doc: Doc) -> None:
        entity(doc, "services", "SVC-PHONE")["usage_buckets"].remove("UB-MONEY")
        entity(doc, "services", "SVC-ACT")["usage_buckets"].append("UB-MONEY")
        _bucket(doc, "UB-MONEY").update({"billing_activation": {"usage_threshold": 1, "time_expiry": "7 days"}})

    _assert_only(
        tmp_path,
        Broken(change, "usage_bucket", "UB-MONEY", "billing_activation", "not offered on money buckets (Q16)"),
    )


# --- share plans: R19, R54-R56, R59 --------------------------------------------------------------------


def test_active_share_plan_without_buckets_is_refused(tmp_path: Path) -> None:
    """R54: a share plan cannot be active without at least one bucket."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _share(d, "SP-SPARE").update({"active": True}),
            "share_plan",
            "SP-SPARE",
            "buckets",
            "an active share plan needs at least one bucket (R54)",
        ),
    )


def test_inactive_share_plan_without_buckets_is_accepted(tmp_path: Path) -> None:
    """R54: an inactive plan (not yet offered) may have no bucket (SP-SPARE in the base catalog)."""
    write_catalog(tmp_path)
    catalog = load_catalog(tmp_path)
    assert (catalog.share_plans["SP-SPARE"].active, catalog.share_plans["SP-SPARE"].buckets) == (False, ())


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Broken(
                lambda d: _share(d, "SP-1").update({"participants": ["SVC-PHONE", "PKG-1"]}),
                "share_plan",
                "SP-1",
                "participants[1]",
                "'PKG-1' is a package; this plan's participating type is service (R55)",
            ),
            id="package-in-service-plan",
        ),
        pytest.param(
            Broken(
                lambda d: _share(d, "SP-PKG").update({"participants": ["SVC-PHONE"]}),
                "share_plan",
                "SP-PKG",
                "participants[0]",
                "'SVC-PHONE' is a service; this plan's participating type is package (R55)",
            ),
            id="service-in-package-plan",
        ),
    ],
)
def test_participant_of_wrong_participating_type_is_refused(tmp_path: Path, case: Broken) -> None:
    """R55: only the chosen participating type (Service or Package) can take part."""
    _assert_only(tmp_path, case)


def test_bucket_participant_not_in_plan_is_refused(tmp_path: Path) -> None:
    """§1.12a: a bucket-level participant entry must be one of the plan's participants."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _share_bucket(d, 0)["participants"].append({"participant": "SVC-SELL"}),
            "share_plan",
            "SP-1",
            "buckets[0].participants[1].participant",
            "'SVC-SELL' is not a participant of the plan",
        ),
    )


def test_contribution_on_fixed_bucket_is_a_warning(tmp_path: Path) -> None:
    """R59 Fixed: contributions are ignored; giving one is a warning, and the catalog still loads."""
    write_catalog(tmp_path, lambda d: _share_bucket(d, 0)["participants"][0].update({"contribution": "1 GB"}))
    catalog, issues = check_catalog(tmp_path)
    assert catalog is not None
    assert [(i.kind, i.entity, i.field, i.message, i.severity) for i in issues] == [
        (
            "share_plan",
            "SP-1",
            "buckets[0].participants[0].contribution",
            "contributions are ignored on Fixed buckets (R59)",
            "warning",
        )
    ]


SHARE_BUCKET_TYPES = [
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 0)["tiers"][0].pop("threshold"),
            "share_plan",
            "SP-1",
            "buckets[0].tiers[0].threshold",
            "required on Fixed buckets",
        ),
        id="fixed-needs-threshold",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 0)["tiers"][0].update({"tier_growth": "1 GB"}),
            "share_plan",
            "SP-1",
            "buckets[0].tiers[0].tier_growth",
            "only on Variable Multiple Tier buckets",
        ),
        id="fixed-no-tier-growth",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 1)["tiers"][0].update({"threshold": "1 GB"}),
            "share_plan",
            "SP-1",
            "buckets[1].tiers[0]",
            "a Variable Single Tier bucket's size is the sum of contributions (R59)",
        ),
        id="vst-no-threshold",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 1)["tiers"][0].update({"tier_growth": "1 GB"}),
            "share_plan",
            "SP-1",
            "buckets[1].tiers[0]",
            "a Variable Single Tier bucket's size is the sum of contributions (R59)",
        ),
        id="vst-no-tier-growth",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 1)["tiers"].append({"flat_charge": "5"}),
            "share_plan",
            "SP-1",
            "buckets[1].tiers",
            "a Variable Single Tier bucket has exactly one tier (R59)",
        ),
        id="vst-one-tier",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 2)["tiers"][1].pop("tier_growth"),
            "share_plan",
            "SP-1",
            "buckets[2].tiers[1].tier_growth",
            "required on Variable Multiple Tier buckets (R59)",
        ),
        id="vmt-needs-tier-growth",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 2)["tiers"][0].update({"threshold": "1 GB"}),
            "share_plan",
            "SP-1",
            "buckets[2].tiers[0].threshold",
            "Variable Multiple Tier sizes come from tier_growth (R59)",
        ),
        id="vmt-no-threshold",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 0)["tiers"][0].update({"repeat": True}),
            "share_plan",
            "SP-1",
            "buckets[0].tiers[0].repeat",
            "only the last tier can repeat (R19)",
        ),
        id="repeat-only-on-last-tier",
    ),
    pytest.param(
        Broken(
            lambda d: _share_bucket(d, 0).update({"last_tier_repeats": True}),
            "share_plan",
            "SP-1",
            "buckets[0].last_tier_repeats",
            "share plan buckets repeat with 'repeat' on the last tier",
        ),
        id="no-last-tier-repeats-on-share-bucket",
    ),
]


@pytest.mark.parametrize("case", SHARE_BUCKET_TYPES)
def test_share_plan_bucket_tiers_fit_the_type(tmp_path: Path, case: Broken) -> None:
    """R59/R19 (§1.12): Fixed tiers have thresholds, Variable Single Tier has one tier sized by
    contributions, Variable Multiple Tier tiers have tier_growth; Repeat only on the last tier."""
    _assert_only(tmp_path, case)


def test_overlapping_share_plans_refused_when_setting_is_off(tmp_path: Path) -> None:
    """R56/Q13: with settings.overlapping_share_plans false, a service takes part in at most one plan."""

    def change(doc: Doc) -> None:
        doc["settings"]["overlapping_share_plans"] = False
        _share(doc, "SP-PKG").update({"participating_type": "service", "participants": ["SVC-PHONE"]})

    _assert_only(
        tmp_path,
        Broken(
            change,
            "share_plan",
            "SP-PKG",
            "participants[0]",
            "'SVC-PHONE' already takes part in share plan 'SP-1'; set settings.overlapping_share_plans to "
            "allow it (R56)",
        ),
    )


def test_overlapping_share_plans_allowed_by_default(tmp_path: Path) -> None:
    """R56/Q13 (10.5+): overlapping plans are allowed when settings.overlapping_share_plans is true (the
    default, and explicitly)."""
    both = {"participating_type": "service", "participants": ["SVC-PHONE"]}
    write_catalog(tmp_path, lambda d: _share(d, "SP-PKG").update(both))
    assert check_catalog(tmp_path)[1] == []
    write_catalog(
        tmp_path,
        lambda d: (d["settings"].update({"overlapping_share_plans": True}), _share(d, "SP-PKG").update(both)),
    )
    catalog, issues = check_catalog(tmp_path)
    assert issues == []
    assert catalog is not None
    assert catalog.settings.overlapping_share_plans is True


def test_one_plan_rule_tells_services_from_packages(tmp_path: Path) -> None:
    """R56 with overlapping_share_plans false: service 'X' in a service plan and package 'X' in a package
    plan are two different participants, each in one plan."""

    def change(doc: Doc) -> None:
        doc["settings"]["overlapping_share_plans"] = False
        doc["packages"].append({"id": "SVC-PHONE", "services": ["SVC-SPARE"]})
        _share(doc, "SP-PKG").update({"participants": ["SVC-PHONE"]})  # the package SVC-PHONE

    write_catalog(tmp_path, change)
    assert check_catalog(tmp_path)[1] == []


# --- review fixes: warnings and exact text ---------------------------------------------------------------


def _warnings(folder: Path, change: Change) -> tuple[str, list[tuple[str, str, str, str]]]:
    """Write the changed catalog; it must load; return (kind, entity, field, message) of each warning."""
    file = write_catalog(folder, change)
    catalog, issues = check_catalog(folder)
    assert catalog is not None
    return str(file), [(i.kind, i.entity, i.field, i.message) for i in issues if i.severity == "warning"]


def test_inactive_rounding_rule_on_a_rate_is_a_warning(tmp_path: Path) -> None:
    """§1.17 Active: a rate may still name a deactivated rounding rule (it applies), but the operator is told."""
    _, warnings = _warnings(tmp_path, lambda d: entity(d, "rounding_rules", "RR-60-6").update({"active": False}))
    assert warnings == [
        ("rate_plan", "RP-1", "rate_groups[0].rates[0].rounding_rule", "rounding rule 'RR-60-6' is not active")
    ]


def test_variable_pool_without_contributor_is_a_warning(tmp_path: Path) -> None:
    """R59: a Variable Single Tier pool is the sum of contributions; with none above zero it is always empty."""

    def change(d: Doc) -> None:
        _share(d, "SP-1")["buckets"][1]["participants"] = [{"participant": "SVC-PHONE", "contribution": "0 MB"}]

    _, warnings = _warnings(tmp_path, change)
    assert warnings == [
        ("share_plan", "SP-1", "buckets[1].participants", "no participant contributes: the pool stays empty (R59)")
    ]


def test_different_contributions_on_a_variable_multiple_tier_bucket_are_a_warning(tmp_path: Path) -> None:
    """R59/Q1: a Variable Multiple Tier tier is tier_growth x the number of contributors; a contribution
    only marks a contributor (> 0).  Contributions of 1 GB and 2 GB on SPB-VMT suggest the amounts count:
    a warning says what the values mean.  Equal amounts (1 GB and 1 GB) give no warning."""

    def change(amount: str) -> Callable[[Doc], None]:
        def apply(d: Doc) -> None:
            _share(d, "SP-1")["participants"] = ["SVC-PHONE", "SVC-SPARE"]
            _share_bucket(d, 2)["participants"] = [
                {"participant": "SVC-PHONE", "contribution": "1 GB"},
                {"participant": "SVC-SPARE", "contribution": amount},
            ]

        return apply

    _, warnings = _warnings(tmp_path, change("2 GB"))
    assert warnings == [
        (
            "share_plan",
            "SP-1",
            "buckets[2].participants",
            "on a Variable Multiple Tier bucket a contribution only marks a contributor (0 or none: not one; any "
            "amount above 0: one); the different amounts given are not added to the pool, whose tier j is "
            "tier_growth_j x the number of contributors (R59, Q1)",
        )
    ]
    write_catalog(tmp_path, change("1 GB"))
    assert check_catalog(tmp_path)[1] == []


def test_repeated_notification_percentage_is_refused(tmp_path: Path) -> None:
    """R66: each configured percentage fires once per tier; listing one twice is a mistake."""
    _assert_only(
        tmp_path,
        Broken(
            lambda d: _bucket(d, "UB-SMS").update({"notify_at_percent": [80, 80]}),
            "usage_bucket",
            "UB-SMS",
            "notify_at_percent",
            "each percentage once (R66)",
        ),
    )


def test_leading_zero_pattern_is_kept_as_text(tmp_path: Path) -> None:
    """R4: an unquoted GeoTree pattern 0044 stays the text "0044" (YAML 1.1 would read octal 36) and
    0x1F stays "0x1F"; only plain decimal integers are numbers."""

    def change(d: Doc) -> None:
        d["geotree"]["nodes"][0]["children"][0]["patterns"] = ["1519", "0044"]

    file = write_catalog(tmp_path, change)
    file.write_text(file.read_text().replace("'0044'", "0044"))
    catalog, issues = check_catalog(tmp_path)
    assert catalog is not None
    assert issues == []
    assert catalog.geo.patterns["0044"] == "CANADA"
    assert "36" not in catalog.geo.patterns
