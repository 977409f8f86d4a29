"""The pure provisioning function (rater/provisioning/apply.py): every operation kind, and every integrity rule
of the seed pages refused with its code and no change to the configuration passed in."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from rater.provisioning import Config, ProvisioningError, apply, parse_operation
from tests.unit.provisioning_builders import config


def run(body: dict[str, Any], current: Config | None = None) -> Config:
    return apply(parse_operation(body), current or config())


def activate_on_team(share_plan: str, effective: str, *, tie_break: int) -> dict[str, Any]:
    """The operation adding ``share_plan`` to account TEAM (which holds SP-TEAM, tie break 1)."""
    return {
        "op": "activate_share_plan",
        "account": "TEAM",
        "share_plan": {"share_plan": share_plan, "effective": effective, "tie_break": tie_break},
    }


def refused(body: dict[str, Any], code: str, current: Config | None = None) -> ProvisioningError:
    """Apply ``body`` expecting the refusal ``code``, and check the configuration passed in is untouched."""
    before = current or config()
    snapshot = (copy.deepcopy(dict(before.catalog_document)), dict(before.accounts))
    with pytest.raises(ProvisioningError) as caught:
        apply(parse_operation(body), before)
    assert caught.value.code == code, caught.value
    assert (dict(before.catalog_document), dict(before.accounts)) == snapshot
    return caught.value


# --- the integrity rules of the seeds ----------------------------------------------------------------------


def test_a_share_plan_in_use_cannot_be_deleted() -> None:
    """Share Plans screen: "Share plans that have been added to accounts are in use and cannot be deleted"."""
    error = refused({"op": "delete_catalog_entity", "kind": "share_plan", "entity": "SP-TEAM"}, "entity_in_use")
    assert "account 'TEAM'" in error.message


def test_a_usage_bucket_in_use_cannot_be_deleted() -> None:
    """Usage Buckets screen: a bucket attached to a service (or an account-service) is in use."""
    error = refused({"op": "delete_catalog_entity", "kind": "usage_bucket", "entity": "SMS200"}, "entity_in_use")
    assert "service 'SVC-PHONE'" in error.message


def test_a_usage_bucket_attached_only_on_an_account_cannot_be_deleted() -> None:
    with_spare = run(
        {"op": "attach_bucket", "account_service": "TEAM-PHONE1", "bucket": {"id": "B-1", "usage_bucket": "UB-SPARE"}}
    )
    error = refused(
        {"op": "delete_catalog_entity", "kind": "usage_bucket", "entity": "UB-SPARE"}, "entity_in_use", with_spare
    )
    assert "account-service 'TEAM-PHONE1'" in error.message


def test_a_base_bucket_in_use_cannot_be_deleted() -> None:
    """Base Buckets screen: configured on usage buckets or share plan buckets, it is in use."""
    error = refused({"op": "delete_catalog_entity", "kind": "base_bucket", "entity": "BB-DATA"}, "entity_in_use")
    assert "share_plan 'SP-TEAM' bucket 'SPB-TEAM-DATA'" in error.message


def test_unused_entities_can_be_deleted() -> None:
    after = run({"op": "delete_catalog_entity", "kind": "usage_bucket", "entity": "UB-SPARE"})
    after = run({"op": "delete_catalog_entity", "kind": "base_bucket", "entity": "BB-SPARE"}, after)
    after = run({"op": "delete_catalog_entity", "kind": "share_plan", "entity": "SP-OFF"}, after)
    assert "UB-SPARE" not in after.catalog.usage_buckets
    assert "BB-SPARE" not in after.catalog.base_buckets
    assert "SP-OFF" not in after.catalog.share_plans


def test_replacing_the_catalog_cannot_drop_a_share_plan_in_use() -> None:
    document = copy.deepcopy(dict(config().catalog_document))
    document["share_plans"] = [p for p in document["share_plans"] if p["id"] != "SP-TEAM"]
    refused({"op": "replace_catalog", "catalog": document}, "entity_in_use")


def test_an_inactive_share_plan_cannot_be_added_to_an_account() -> None:
    """Share Plans screen, Active: "if disabled this plan won't be available when adding a share plan"."""
    refused(activate_on_team("SP-OFF", "2026-03-05", tie_break=2), "share_plan_inactive")


def test_an_inactive_share_plan_cannot_come_in_with_a_new_account() -> None:
    account = {
        "id": "NEW",
        "packages": [
            {"id": "NEW-PKG", "package": "PKG-TEAM", "effective": "2026-03-01", "services": []},
        ],
        "share_plans": [{"share_plan": "SP-OFF", "effective": "2026-03-01"}],
    }
    refused({"op": "create_account", "account": account}, "share_plan_inactive")


def test_deactivating_a_share_plan_leaves_the_accounts_that_have_it() -> None:
    """Share Plans screen: "Deactivating a plan here will not affect accounts which are already setup"."""
    after = run({"op": "set_share_plan_active", "share_plan": "SP-TEAM", "active": False})
    assert after.catalog.share_plans["SP-TEAM"].active is False
    assert after.accounts["TEAM"] == config().accounts["TEAM"]
    assert [s.share_plan for s in after.accounts["TEAM"].share_plans] == ["SP-TEAM"]
    # ... and other changes on that account still go through.
    run({"op": "update_account", "account": "TEAM", "set": {"name": "Team"}}, after)
    # ... but it cannot be added again.
    refused(activate_on_team("SP-TEAM", "2026-04-01", tie_break=3), "share_plan_inactive", after)


def test_a_share_plan_without_buckets_cannot_be_activated() -> None:
    """R54 and the Share Plans screen: a plan needs at least one bucket before it can be activated, in the
    catalog or on an account."""
    refused({"op": "set_share_plan_active", "share_plan": "SP-EMPTY", "active": True}, "share_plan_without_buckets")
    refused(activate_on_team("SP-EMPTY", "2026-03-05", tie_break=2), "share_plan_without_buckets")


def test_a_share_plan_activates_once_active() -> None:
    on = run({"op": "set_share_plan_active", "share_plan": "SP-OFF", "active": True})
    after = run(activate_on_team("SP-OFF", "2026-03-05", tie_break=2), on)
    assert [s.share_plan for s in after.accounts["TEAM"].share_plans] == ["SP-TEAM", "SP-OFF"]


# --- invalid requests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"op": "cancel_account_service", "account_service": "NOPE", "cancel": "2026-04-01"}, "not_found"),
        ({"op": "update_account", "account": "NOPE", "set": {"name": "x"}}, "not_found"),
        ({"op": "delete_catalog_entity", "kind": "share_plan", "entity": "NOPE"}, "not_found"),
        ({"op": "add_rate", "rate_plan": "RP-SMS", "rate_group": "NOPE", "rate": {}}, "not_found"),
        (
            {"op": "cancel_account_service", "account_service": "TEAM-PHONE1", "cancel": "2026-13-01"},
            "invalid_operation",
        ),
        ({"op": "cancel_account_service", "account_service": "TEAM-PHONE1"}, "invalid_operation"),
        (
            {"op": "cancel_account_service", "account_service": "TEAM-PHONE1", "cancel": "2026-04-01", "x": 1},
            "invalid_operation",
        ),
        ({"op": "launch_rockets"}, "invalid_operation"),
        ({"op": "delete_catalog_entity", "kind": "widget", "entity": "W"}, "invalid_operation"),
        # a cancel before the start (start inclusive, cancel exclusive, §1.3)
        (
            {"op": "cancel_account_service", "account_service": "TEAM-PHONE1", "cancel": "2026-02-01"},
            "invalid_configuration",
        ),
        # an unknown catalog reference
        ({"op": "update_account", "account": "TEAM", "set": {"rate_plan": "RP-NOPE"}}, "invalid_configuration"),
        # the same UID on two services at once (R2)
        (
            {
                "op": "add_usage_identifier",
                "account_service": "TEAM-SELL",
                "usage_identifier": {"uid": "+15550001", "start": "2026-03-10"},
            },
            "invalid_configuration",
        ),
        ({"op": "create_account", "account": {"id": "TEAM"}}, "already_exists"),
        # a null where the account needs a value
        ({"op": "update_account", "account": "TEAM", "set": {"currency": None}}, "invalid_configuration"),
        ({"op": "update_account", "account": "TEAM", "set": {"bill_day": None}}, "invalid_configuration"),
    ],
)
def test_invalid_requests_are_refused_and_change_nothing(body: dict[str, Any], code: str) -> None:
    if code == "invalid_operation":
        with pytest.raises(ProvisioningError) as caught:
            apply(parse_operation(body), config())
        assert caught.value.code == code
        return
    refused(body, code)


def test_a_refusal_names_the_field() -> None:
    with pytest.raises(ProvisioningError) as caught:
        parse_operation({"op": "cancel_account_service", "account_service": "TEAM-PHONE1", "cancel": "2026-13-01"})
    assert any(issue.field == "cancel" for issue in caught.value.issues)


# --- each operation ---------------------------------------------------------------------------------------


def test_create_an_account_with_a_line_and_its_uid() -> None:
    after = run(
        {
            "op": "create_account",
            "account": {
                "id": "SOLO",
                "rate_plan": "RP-SMS",
                "packages": [
                    {
                        "id": "SOLO-PKG",
                        "package": "PKG-TEAM",
                        "effective": "2026-03-01",
                        "services": [
                            {
                                "id": "SOLO-PHONE",
                                "service": "SVC-PHONE",
                                "usage_identifiers": [{"uid": "+15559999", "start": "2026-03-01"}],
                            }
                        ],
                    }
                ],
            },
        }
    )
    assert after.subscriptions.uids["+15559999"][0].owner.service.id == "SOLO-PHONE"


def test_packages_services_uids_and_buckets() -> None:
    after = run(
        {
            "op": "add_account_package",
            "account": "TEAM",
            "account_package": {"id": "TEAM-PKG2", "package": "PKG-TEAM", "effective": "2026-04-01"},
        }
    )
    after = run(
        {
            "op": "add_account_service",
            "account_package": "TEAM-PKG2",
            "account_service": {"id": "TEAM-PHONE2", "service": "SVC-PHONE"},
        },
        after,
    )
    after = run(
        {
            "op": "add_usage_identifier",
            "account_service": "TEAM-PHONE2",
            "usage_identifier": {"uid": "+15550002", "start": "2026-04-01"},
        },
        after,
    )
    after = run(
        {
            "op": "attach_bucket",
            "account": "TEAM",
            "bucket": {"id": "TEAM-SPARE", "usage_bucket": "UB-SPARE", "effective": "2026-04-01"},
        },
        after,
    )
    after = run(
        {"op": "update_account_service", "account_service": "TEAM-PHONE2", "set": {"rate_plan": "RP-SMS"}}, after
    )
    after = run({"op": "update_account_package", "account_package": "TEAM-PKG2", "set": {"rate_plan": "RP-SMS"}}, after)
    assert after.subscriptions.services["TEAM-PHONE2"].service.rate_plan == "RP-SMS"
    assert after.subscriptions.services["TEAM-PHONE2"].package.rate_plan == "RP-SMS"
    assert after.subscriptions.uids["+15550002"][0].owner.service.id == "TEAM-PHONE2"
    after = run(
        {"op": "end_usage_identifier", "account_service": "TEAM-PHONE2", "uid": "+15550002", "end": "2026-05-01"}, after
    )
    assert after.subscriptions.uids["+15550002"][0].end == dt.date(2026, 5, 1)
    after = run({"op": "cancel_bucket", "bucket_instance": "TEAM-SPARE", "cancel": "2026-05-01"}, after)
    assert after.accounts["TEAM"].buckets[0].cancel == dt.date(2026, 5, 1)
    after = run({"op": "cancel_account_service", "account_service": "TEAM-PHONE2", "cancel": "2026-05-01"}, after)
    assert after.subscriptions.services["TEAM-PHONE2"].cancel == dt.date(2026, 5, 1)
    after = run({"op": "cancel_account_package", "account_package": "TEAM-PKG2", "cancel": "2026-04-15"}, after)
    # the service is cut to its package's cancel (§1.3)
    assert after.subscriptions.services["TEAM-PHONE2"].cancel == dt.date(2026, 4, 15)


def test_cancel_account_and_share_plan() -> None:
    after = run({"op": "cancel_share_plan", "account": "TEAM", "share_plan": "SP-TEAM", "cancel": "2026-06-01"})
    assert after.accounts["TEAM"].share_plans[0].cancel == dt.date(2026, 6, 1)
    after = run({"op": "cancel_account", "account": "TEAM", "cancel": "2026-05-01"}, after)
    team = after.accounts["TEAM"]
    assert team.packages[0].cancel == dt.date(2026, 5, 1)
    assert team.share_plans[0].cancel == dt.date(2026, 5, 1)
    assert after.subscriptions.services["TEAM-PHONE1"].cancel == dt.date(2026, 5, 1)


def test_a_rate_added_at_run_time() -> None:
    """The fix for ``rate_not_found`` (R31): the SMS rate appears in RP-SMS's group, the rest is kept."""
    after = run(
        {
            "op": "add_rate",
            "rate_plan": "RP-SMS",
            "rate_group": "STANDARD",
            "rate": {"class": "SMS", "amount": "0.10", "per": "message"},
        }
    )
    rates = after.catalog.rate_plans["RP-SMS"].rate_groups[0].rates
    assert [(r.class_, str(r.amount)) for r in rates] == [("DATA", "0.01"), ("SMS", "0.10")]
    refused(
        {
            "op": "add_rate",
            "rate_plan": "RP-SMS",
            "rate_group": "STANDARD",
            "rate": {"class": "SMS", "amount": 0.1, "per": "message"},
        },
        "invalid_configuration",
    )


def test_put_catalog_entity_adds_and_replaces() -> None:
    plan = {"id": "RP-NEW", "precision": 2, "rate_groups": [{"id": "G", "currency": "USD", "rates": []}]}
    after = run({"op": "put_catalog_entity", "kind": "rate_plan", "entity": plan})
    assert "RP-NEW" in after.catalog.rate_plans
    plan2 = {**plan, "precision": 4}
    after = run({"op": "put_catalog_entity", "kind": "rate_plan", "entity": plan2}, after)
    assert after.catalog.rate_plans["RP-NEW"].precision == 4
    refused({"op": "put_catalog_entity", "kind": "rate_plan", "entity": {"id": "RP-BAD"}}, "invalid_configuration")


def test_the_input_configuration_is_never_modified() -> None:
    before = config()
    document = copy.deepcopy(dict(before.catalog_document))
    run(
        {
            "op": "add_rate",
            "rate_plan": "RP-SMS",
            "rate_group": "STANDARD",
            "rate": {"class": "SMS", "amount": "0.10", "per": "message"},
        },
        before,
    )
    run({"op": "set_share_plan_active", "share_plan": "SP-OFF", "active": True}, before)
    assert dict(before.catalog_document) == document
