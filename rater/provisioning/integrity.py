"""The rules every result of a provisioning operation is held to besides the validators: a changed account
is read back through its model; an entity in use by an account is not removed from the catalog, whichever
operation removes it (seed pages); an account share plan added by the operation names an active plan
that has a bucket (§1.12 Active, R54).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from rater.catalog import Catalog
from rater.catalog.integrity import EntityInUse, references
from rater.issues import Issue, pydantic_field
from rater.provisioning.documents import Config, account_json
from rater.provisioning.errors import ProvisioningError
from rater.provisioning.operations import SECTION_OF_KIND
from rater.subscriptions import Account


def revalidate(before: Config, accounts: dict[str, Account]) -> None:
    """Changed accounts are built with ``model_copy``, which does not validate: read each one back through
    the model so that a ``null`` where a value is required, or a bad value, is refused like in a file."""
    for account_id, account in accounts.items():
        if before.accounts.get(account_id) is account:
            continue
        try:
            accounts[account_id] = Account.model_validate(account_json(account))
        except ValidationError as exc:
            issues = [
                Issue("accounts", "account", account_id, pydantic_field(error["loc"]), error["msg"])
                for error in exc.errors(include_url=False)
            ]
            raise ProvisioningError(
                "invalid_configuration", f"account {account_id!r} would not be valid", issues
            ) from exc


def check_removed_in_use(before: Config, catalog: Catalog) -> None:
    """Seed pages: an entity in use cannot be deleted, whichever operation removes it (a replaced catalog
    too).  A catalog entity that still references a removed one fails catalog validation; what is left is
    the accounts: share plans added to accounts, usage buckets attached to account-services or accounts,
    packages, services and rate plans sold on accounts."""
    with_accounts = references(before.catalog, before.subscriptions)
    catalog_only = references(before.catalog, None)
    for kind, section in SECTION_OF_KIND.items():
        gone = set(getattr(before.catalog, section)) - set(getattr(catalog, section))
        for entity in sorted(gone):
            key = (kind, entity)
            by_accounts = with_accounts.get(key, [])[len(catalog_only.get(key, [])) :]
            if by_accounts:
                raise ProvisioningError("entity_in_use", str(EntityInUse(kind, entity, sorted(set(by_accounts)))))


def check_new_share_plans(before: Config, accounts: Mapping[str, Account]) -> None:
    """§1.12 Active and R54: an account share plan added by this operation names an active plan that has a
    bucket.  Account share plans that were already there are left alone (deactivating a plan does not
    affect the accounts that have it)."""
    for account in accounts.values():
        old = before.accounts.get(account.id)
        existing = {(share.share_plan, share.effective) for share in old.share_plans} if old else set()
        for share in account.share_plans:
            if (share.share_plan, share.effective) in existing:
                continue
            plan = before.catalog.share_plans.get(share.share_plan)
            if plan is None:
                continue  # an unknown plan: the accounts' validation names it
            if not plan.buckets:
                raise ProvisioningError(
                    "share_plan_without_buckets",
                    f"share plan {plan.id!r} has no bucket and cannot be activated on account {account.id!r} (R54)",
                )
            if not plan.active:
                raise ProvisioningError(
                    "share_plan_inactive",
                    f"share plan {plan.id!r} is not active and cannot be added to account {account.id!r} "
                    "(Share Plans screen: Active)",
                )
