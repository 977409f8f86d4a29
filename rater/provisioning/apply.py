"""Provisioning applied: one pure function from an operation and the configuration in force to the next.

:func:`apply` takes one :data:`~rater.provisioning.operations.Operation` and the current
:class:`~rater.provisioning.documents.Config` and returns the next :class:`~rater.provisioning.documents.Config`,
or raises :class:`~rater.provisioning.errors.ProvisioningError` with a ``code``; it does no I/O and reads no
clock, so the store (``streams/configuration/store.py``) can run it inside a compare-and-set and every refusal
changes nothing.

Every result is validated whole before it is returned: the catalog with the catalog validator, the accounts
with :func:`~rater.subscriptions.compile_accounts`, so an operation can never store a configuration that
``rater catalog check`` would refuse.  On top of that, the integrity rules of the seed pages hold:

* *an entity in use cannot be deleted* (Base Buckets, Usage Buckets and Share Plans screens): deleting a
  base bucket configured on a usage or share plan bucket, a usage bucket attached to a service or an
  account, a share plan added to an account, is refused with the referrers named
  (:func:`rater.catalog.integrity.check_delete`; code ``entity_in_use``);
* *an inactive share plan cannot be added to an account* (Share Plans screen, Active; §1.12): code
  ``share_plan_inactive``, for any operation that adds an account share plan;
* *deactivating a share plan leaves the accounts that have it unchanged* (same field): ``set_share_plan_active``
  changes the catalog only, and existing account share plans stay valid;
* *a share plan cannot be activated without a bucket* (R54): neither marked active in the catalog nor added
  to an account; code ``share_plan_without_buckets``.

:func:`cancelled_services` tells which account-services a change cancels, for the settlement of R41.
"""

from __future__ import annotations

import datetime as dt

from rater.provisioning.account_changes import account_change
from rater.provisioning.catalog_changes import catalog_change
from rater.provisioning.documents import Config, compile_catalog, compile_config
from rater.provisioning.integrity import check_new_share_plans, check_removed_in_use, revalidate
from rater.provisioning.operations import (
    AddRate,
    DeleteCatalogEntity,
    Operation,
    PutCatalogEntity,
    ReplaceCatalog,
    SetSharePlanActive,
)


def apply(operation: Operation, config: Config) -> Config:
    """The configuration after ``operation``, validated whole; raise :class:`ProvisioningError` and change
    nothing when it is refused (pure: ``config`` is never modified)."""
    if isinstance(operation, (ReplaceCatalog, PutCatalogEntity, DeleteCatalogEntity, SetSharePlanActive, AddRate)):
        document = catalog_change(operation, config)
        catalog = compile_catalog(document)
        check_removed_in_use(config, catalog)
        result = compile_config(document, config.accounts, catalog)
    else:
        accounts = dict(config.accounts)
        account_change(operation, config, accounts)
        revalidate(config, accounts)
        check_new_share_plans(config, accounts)
        result = compile_config(config.catalog_document, accounts, config.catalog)
    return result


def cancelled_services(before: Config, after: Config) -> list[tuple[str, dt.date]]:
    """Account-services a change cancels or cancels earlier, with their cancel date (exclusive) after it, in
    id order: what R41 settles.  A service's cancel date is its own or its package's (§1.3), so a cancelled
    account or account-package cancels its services too.  A service that disappears is not listed."""
    cut: list[tuple[str, dt.date]] = []
    for service_id, old in sorted(before.subscriptions.services.items()):
        new = after.subscriptions.services.get(service_id)
        if new is None or new.cancel is None:
            continue
        if old.cancel is None or new.cancel < old.cancel:
            cut.append((service_id, new.cancel))
    return cut
