"""Referential integrity: an entity in use cannot be deleted (seeds 000, 003, 004: the Share Plans, Usage
Buckets and Base Buckets screens; ``rater.catalog.integrity``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rater.catalog import Catalog, load_catalog
from rater.catalog.integrity import EntityInUse, check_delete
from rater.subscriptions import Subscriptions, load_subscriptions
from tests.unit.catalog_builders import Doc, account, entity, write_catalog, write_subscriptions


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rating")
    write_catalog(path)
    write_subscriptions(path)
    return path


@pytest.fixture(scope="module")
def catalog(folder: Path) -> Catalog:
    return load_catalog(folder)


@pytest.fixture(scope="module")
def subscriptions(folder: Path, catalog: Catalog) -> Subscriptions:
    return load_subscriptions(folder, catalog)


def _refused(catalog: Catalog, subscriptions: Subscriptions | None, kind: str, entity_id: str) -> EntityInUse:
    with pytest.raises(EntityInUse) as caught:
        check_delete(catalog, subscriptions, kind, entity_id)
    assert (caught.value.kind, caught.value.entity) == (kind, entity_id)
    return caught.value


# --- base buckets (seed 004) ---------------------------------------------------------------------------


def test_base_bucket_on_a_usage_bucket_cannot_be_deleted(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """Seed 004: a base bucket configured on a usage bucket is in use and cannot be deleted; the refusal
    names the referrer (BB-DATA2 is on UB-DATA only)."""
    refusal = _refused(catalog, subscriptions, "base_bucket", "BB-DATA2")
    assert refusal.referrers == ["usage_bucket 'UB-DATA' base_buckets"]
    assert str(refusal) == (
        "base_bucket 'BB-DATA2' is in use and cannot be deleted: referenced by usage_bucket 'UB-DATA' base_buckets"
    )


def test_base_bucket_on_usage_and_share_plan_buckets_lists_every_referrer(
    catalog: Catalog, subscriptions: Subscriptions
) -> None:
    """Seed 004: usage buckets and share plan buckets both make a base bucket in use; the message lists
    every referrer, sorted."""
    refusal = _refused(catalog, subscriptions, "base_bucket", "BB-SMS")
    assert refusal.referrers == [
        "share_plan 'SP-PKG' bucket 'SPB-PKG' base_buckets",
        "usage_bucket 'UB-SMS' base_buckets",
        "usage_bucket 'UB-SPARE' base_buckets",
    ]
    assert str(refusal).endswith(
        "referenced by share_plan 'SP-PKG' bucket 'SPB-PKG' base_buckets, usage_bucket 'UB-SMS' base_buckets, "
        "usage_bucket 'UB-SPARE' base_buckets"
    )


def test_base_bucket_only_on_a_share_plan_bucket_cannot_be_deleted(tmp_path: Path) -> None:
    """Seed 004: "configured on usage buckets or share plans": a share plan bucket alone makes it in use."""

    def change(doc: Doc) -> None:
        entity(doc, "share_plans", "SP-PKG")["buckets"][0]["base_buckets"] = ["BB-SPARE"]

    write_catalog(tmp_path, change)
    refusal = _refused(load_catalog(tmp_path), None, "base_bucket", "BB-SPARE")
    assert refusal.referrers == ["share_plan 'SP-PKG' bucket 'SPB-PKG' base_buckets"]


def test_unused_base_bucket_may_be_deleted(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """Seed 004: a base bucket on no usage bucket or share plan bucket may be deleted."""
    check_delete(catalog, subscriptions, "base_bucket", "BB-SPARE")  # returns quietly: may be deleted


# --- usage buckets (seed 003) --------------------------------------------------------------------------


def test_usage_bucket_on_a_catalog_service_cannot_be_deleted(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """Seed 003: a usage bucket attached to a service is in use."""
    refusal = _refused(catalog, subscriptions, "usage_bucket", "UB-DATA")
    assert refusal.referrers == ["service 'SVC-PHONE'"]
    assert str(refusal) == "usage_bucket 'UB-DATA' is in use and cannot be deleted: referenced by service 'SVC-PHONE'"


def test_usage_bucket_on_an_account_service_cannot_be_deleted(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """Seed 003 ("configured on services and other entities") and §1.3: UB-SPARE is on no catalog service
    but on account-service AS-P-PHONE, so with the subscriptions it is in use."""
    refusal = _refused(catalog, subscriptions, "usage_bucket", "UB-SPARE")
    assert refusal.referrers == ["account-service 'AS-P-PHONE'"]


def test_usage_bucket_on_an_account_cannot_be_deleted(tmp_path: Path, catalog: Catalog) -> None:
    """Seed 003 and §1.11: a usage bucket attached to an account (account-level bucket) is in use."""
    write_subscriptions(tmp_path, lambda d: account(d, "ACC-C").update({"buckets": [{"usage_bucket": "UB-SPARE"}]}))
    refusal = _refused(catalog, load_subscriptions(tmp_path, catalog), "usage_bucket", "UB-SPARE")
    assert refusal.referrers == ["account 'ACC-C'", "account-service 'AS-P-PHONE'"]


def test_usage_bucket_only_on_accounts_is_free_without_subscriptions(catalog: Catalog) -> None:
    """integrity.check_delete: with no subscriptions given, only catalog references count, so UB-SPARE
    (attached only to an account-service) may be deleted from the catalog's point of view."""
    check_delete(catalog, None, "usage_bucket", "UB-SPARE")  # returns quietly: may be deleted


# --- share plans (seed 000) ----------------------------------------------------------------------------


def test_share_plan_added_to_an_account_cannot_be_deleted(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """Seed 000: "Share plans that have been added to accounts are in use and cannot be deleted"."""
    refusal = _refused(catalog, subscriptions, "share_plan", "SP-PKG")
    assert refusal.referrers == ["account 'ACC-P'"]
    assert str(refusal) == "share_plan 'SP-PKG' is in use and cannot be deleted: referenced by account 'ACC-P'"


def test_share_plan_named_by_an_add_on_package_cannot_be_deleted(catalog: Catalog) -> None:
    """R64 (integrity docstring): a share plan named by a Share Plan Add-On package is in use."""
    refusal = _refused(catalog, None, "share_plan", "SP-1")
    assert refusal.referrers == ["package 'PKG-ADDON' share_plan_add_on"]


def test_unused_share_plan_may_be_deleted(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """Seed 000: a share plan on no account (and no add-on package) may be deleted."""
    check_delete(catalog, subscriptions, "share_plan", "SP-SPARE")  # returns quietly: may be deleted


def test_share_plan_not_on_an_account_may_be_deleted(catalog: Catalog) -> None:
    """Seed 000: SP-PKG is in use only through an account; without subscriptions it is free."""
    check_delete(catalog, None, "share_plan", "SP-PKG")  # returns quietly: may be deleted


# --- the same rule for the other kinds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "entity_id", "referrers"),
    [
        pytest.param(
            "rate_plan",
            "RP-1",
            [
                "account 'ACC-P'",
                "owner 'OWNER'",
                "package 'PKG-1' frequency 'MONTHLY'",
                "package 'PKG-1' services",
                "share_plan 'SP-1' bucket 'SPB-VMT' tiers[1].rate_plan",
                "share_plan 'SP-1' bucket 'SPB-VST' tiers[0].rate_plan",
                "usage_bucket 'UB-DATA' overage_rate_plan",
                "usage_bucket 'UB-DATA' tiers[1].rate_plan",
            ],
            id="rate-plan",
        ),
        pytest.param(
            "usage_class",
            "LD",
            ["base_bucket 'BB-VOICE'", "rate_plan 'RP-1' group 'STD'"],
            id="usage-class",
        ),
        pytest.param("rounding_rule", "RR-60-6", ["rate_plan 'RP-1' group 'STD'"], id="rounding-rule"),
        pytest.param("time_period", "EVENINGS", ["rate_plan 'RP-1' group 'STD'"], id="time-period"),
        pytest.param(
            "service",
            "SVC-SELL",
            [
                "account-service 'AS-P-SELL'",
                "package 'PKG-1'",
                "share_plan 'SP-1' selling_service",
                "share_plan 'SP-PKG' selling_service",
                "share_plan 'SP-SPARE' selling_service",
            ],
            id="service",
        ),
        pytest.param(
            "package",
            "PKG-1",
            ["account-package 'AP-C'", "account-package 'AP-P'", "share_plan 'SP-PKG' participants"],
            id="package",
        ),
        pytest.param("location", "US", ["base_bucket 'BB-VOICE'", "location_group 'NA'"], id="location"),
        pytest.param("location_group", "NA", ["rate_plan 'RP-1' group 'STD'"], id="location-group"),
    ],
)
def test_other_kinds_in_use_cannot_be_deleted(
    catalog: Catalog, subscriptions: Subscriptions, kind: str, entity_id: str, referrers: list[str]
) -> None:
    """integrity.py docstring: by the same rule, rate plans, usage classes, rounding rules, time periods,
    services, packages and GeoTree locations that others reference are in use; referrers are listed once,
    sorted."""
    assert _refused(catalog, subscriptions, kind, entity_id).referrers == referrers


@pytest.mark.parametrize(
    ("kind", "entity_id"),
    [
        pytest.param("rate_plan", "RP-EUR", id="rate-plan"),
        pytest.param("package", "PKG-SPARE", id="package"),
        pytest.param("location", "EVERYWHERE", id="location"),
    ],
)
def test_other_unused_entities_may_be_deleted(
    catalog: Catalog, subscriptions: Subscriptions, kind: str, entity_id: str
) -> None:
    """integrity.py: an entity nothing references may be deleted (check_delete returns quietly)."""
    check_delete(catalog, subscriptions, kind, entity_id)  # returns quietly: may be deleted


# --- unknown kind or id --------------------------------------------------------------------------------


def test_unknown_kind_raises_key_error(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """integrity.check_delete: an unknown kind is a KeyError listing the kinds."""
    with pytest.raises(KeyError) as caught:
        check_delete(catalog, subscriptions, "tier", "T1")
    assert caught.value.args[0] == (
        "unknown kind 'tier' (one of base_bucket, usage_bucket, share_plan, rate_plan, usage_class, "
        "rounding_rule, time_period, service, package, location, location_group)"
    )


@pytest.mark.parametrize("kind", ["base_bucket", "usage_bucket", "share_plan", "location"])
def test_unknown_id_raises_key_error(catalog: Catalog, subscriptions: Subscriptions, kind: str) -> None:
    """integrity.check_delete: deleting an entity that does not exist is a KeyError, not a silent yes."""
    with pytest.raises(KeyError) as caught:
        check_delete(catalog, subscriptions, kind, "NOPE")
    assert caught.value.args[0] == f"no {kind} 'NOPE' in the catalog"


def test_share_plan_bucket_id_is_not_a_usage_bucket(catalog: Catalog, subscriptions: Subscriptions) -> None:
    """integrity.check_delete: share plan buckets live inside their plan; their ids are not usage buckets."""
    with pytest.raises(KeyError):
        check_delete(catalog, subscriptions, "usage_bucket", "SPB-FIXED")
