"""The account side of provisioning: every operation but the catalog ones, applied to a copy of the
accounts.  Accounts, packages, services, UID windows, bucket instances and account share plans are edited
with ``model_copy``; a cancel date cuts what runs past it (§1.3: cancel exclusive, a service never outlives
its package).  The changed accounts are read back through their model afterwards
(:func:`rater.provisioning.integrity.revalidate`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from rater.provisioning.documents import Config
from rater.provisioning.errors import ProvisioningError
from rater.provisioning.operations import (
    ActivateSharePlan,
    AddAccountPackage,
    AddAccountService,
    AddUsageIdentifier,
    AttachBucket,
    CancelAccount,
    CancelAccountPackage,
    CancelAccountService,
    CancelBucket,
    CancelSharePlan,
    CreateAccount,
    EndUsageIdentifier,
    Operation,
    UpdateAccount,
    UpdateAccountPackage,
    UpdateAccountService,
)
from rater.subscriptions import Account, AccountPackage, AccountService, AccountSharePlan, BucketInstance


def account_change(operation: Operation, config: Config, accounts: dict[str, Account]) -> None:
    """Apply an account-side operation to ``accounts`` (a copy of the current ones)."""
    if isinstance(operation, CreateAccount):
        if operation.account.id in accounts:
            raise ProvisioningError("already_exists", f"account {operation.account.id!r} exists")
        accounts[operation.account.id] = operation.account
    elif isinstance(operation, UpdateAccount):
        account = _account(accounts, operation.account)
        changes = _named_fields(operation.set)
        accounts[account.id] = account.model_copy(update=changes)
    elif isinstance(operation, CancelAccount):
        account = _account(accounts, operation.account)
        day = operation.cancel
        accounts[account.id] = account.model_copy(
            update={
                "packages": tuple(_cancel_package(package, day) for package in account.packages),
                "buckets": tuple(_cut(bucket, day) for bucket in account.buckets),
                "share_plans": tuple(_cut(share, day) for share in account.share_plans),
            }
        )
    elif isinstance(operation, AddAccountPackage):
        account = _account(accounts, operation.account)
        _unused_package_id(accounts, operation.account_package.id)
        _unused_service_ids(accounts, operation.account_package.services)
        accounts[account.id] = account.model_copy(update={"packages": (*account.packages, operation.account_package)})
    elif isinstance(operation, UpdateAccountPackage):
        changes = _named_fields(operation.set)
        _edit_package(accounts, operation.account_package, lambda package: package.model_copy(update=changes))
    elif isinstance(operation, CancelAccountPackage):
        day = operation.cancel
        _edit_package(accounts, operation.account_package, lambda package: _cancel_package(package, day))
    elif isinstance(operation, AddAccountService):
        _unused_service_ids(accounts, [operation.account_service])
        new = operation.account_service
        _edit_package(
            accounts,
            operation.account_package,
            lambda package: package.model_copy(update={"services": (*package.services, new)}),
        )
    elif isinstance(operation, UpdateAccountService):
        changes = _named_fields(operation.set)
        _edit_service(accounts, operation.account_service, lambda service: service.model_copy(update=changes))
    elif isinstance(operation, CancelAccountService):
        cancel = operation.cancel
        _edit_service(
            accounts, operation.account_service, lambda service: service.model_copy(update={"cancel": cancel})
        )
    elif isinstance(operation, AddUsageIdentifier):
        uid = operation.usage_identifier
        _edit_service(
            accounts,
            operation.account_service,
            lambda service: service.model_copy(update={"usage_identifiers": (*service.usage_identifiers, uid)}),
        )
    elif isinstance(operation, EndUsageIdentifier):
        _edit_service(accounts, operation.account_service, lambda service: _end_uid(service, operation))
    elif isinstance(operation, AttachBucket):
        _attach(accounts, operation)
    elif isinstance(operation, CancelBucket):
        _cancel_bucket(accounts, operation.bucket_instance, operation.cancel)
    elif isinstance(operation, ActivateSharePlan):
        account = _account(accounts, operation.account)
        accounts[account.id] = account.model_copy(update={"share_plans": (*account.share_plans, operation.share_plan)})
    elif isinstance(operation, CancelSharePlan):
        account = _account(accounts, operation.account)
        day = operation.cancel
        open_ones = [
            i
            for i, share in enumerate(account.share_plans)
            if share.share_plan == operation.share_plan and (share.cancel is None or share.cancel > day)
        ]
        if not open_ones:
            raise ProvisioningError(
                "not_found", f"account {account.id!r} has no share plan {operation.share_plan!r} active on {day}"
            )
        shares = list(account.share_plans)
        shares[open_ones[-1]] = shares[open_ones[-1]].model_copy(update={"cancel": day})
        accounts[account.id] = account.model_copy(update={"share_plans": tuple(shares)})
    else:  # pragma: no cover - every operation is handled above
        raise ProvisioningError("invalid_operation", f"unsupported operation {operation!r}")


def _named_fields(changes: BaseModel) -> dict[str, Any]:
    """The fields an update operation's ``set`` names: an omitted field keeps its value, a named one (even
    ``null``) replaces it."""
    return {name: getattr(changes, name) for name in changes.model_fields_set}


def _account(accounts: Mapping[str, Account], account_id: str) -> Account:
    account = accounts.get(account_id)
    if account is None:
        raise ProvisioningError("not_found", f"no account {account_id!r}")
    return account


def _unused_package_id(accounts: Mapping[str, Account], package_id: str) -> None:
    if any(package.id == package_id for account in accounts.values() for package in account.packages):
        raise ProvisioningError("already_exists", f"account-package {package_id!r} exists")


def _unused_service_ids(accounts: Mapping[str, Account], services: Iterable[AccountService]) -> None:
    existing = {s.id for account in accounts.values() for package in account.packages for s in package.services}
    for service in services:
        if service.id in existing:
            raise ProvisioningError("already_exists", f"account-service {service.id!r} exists")


def _edit_package(
    accounts: dict[str, Account], package_id: str, change: Callable[[AccountPackage], AccountPackage]
) -> None:
    for account in accounts.values():
        for index, package in enumerate(account.packages):
            if package.id == package_id:
                packages = list(account.packages)
                packages[index] = change(package)
                accounts[account.id] = account.model_copy(update={"packages": tuple(packages)})
                return
    raise ProvisioningError("not_found", f"no account-package {package_id!r}")


def _edit_service(
    accounts: dict[str, Account], service_id: str, change: Callable[[AccountService], AccountService]
) -> None:
    for account in accounts.values():
        for package in account.packages:
            for index, service in enumerate(package.services):
                if service.id == service_id:
                    services = list(package.services)
                    services[index] = change(service)
                    packages = list(account.packages)
                    packages[packages.index(package)] = package.model_copy(update={"services": tuple(services)})
                    accounts[account.id] = account.model_copy(update={"packages": tuple(packages)})
                    return
    raise ProvisioningError("not_found", f"no account-service {service_id!r}")


_Dated = TypeVar("_Dated", AccountSharePlan, BucketInstance, AccountService)


def _cut(item: _Dated, day: dt.date) -> _Dated:
    """``item`` ending on ``day`` at the latest (cancel/end exclusive)."""
    if item.cancel is not None and item.cancel <= day:
        return item
    return item.model_copy(update={"cancel": day})


def _cancel_package(package: AccountPackage, day: dt.date) -> AccountPackage:
    """The account-package cancelled from ``day``; services cancelled later than it are cut to it (§1.3: a
    service never outlives its package)."""
    if package.cancel is not None and package.cancel <= day:
        return package
    services = tuple(s if s.cancel is None else _cut(s, day) for s in package.services)
    return package.model_copy(update={"cancel": day, "services": services})


def _end_uid(service: AccountService, operation: EndUsageIdentifier) -> AccountService:
    day = operation.end
    candidates = [
        i
        for i, uid in enumerate(service.usage_identifiers)
        if uid.uid == operation.uid and uid.start < day and (uid.end is None or uid.end > day)
    ]
    if not candidates:
        raise ProvisioningError(
            "not_found", f"account-service {service.id!r} has no window of {operation.uid!r} open on {day}"
        )
    uids = list(service.usage_identifiers)
    uids[candidates[-1]] = uids[candidates[-1]].model_copy(update={"end": day})
    return service.model_copy(update={"usage_identifiers": tuple(uids)})


def _attach(accounts: dict[str, Account], operation: AttachBucket) -> None:
    if (operation.account is None) == (operation.account_service is None):
        raise ProvisioningError("invalid_operation", "attach_bucket takes exactly one of account, account_service")
    bucket = operation.bucket
    if bucket.id is not None and _find_bucket(accounts, bucket.id):
        raise ProvisioningError("already_exists", f"bucket instance {bucket.id!r} exists")
    if operation.account is not None:
        account = _account(accounts, operation.account)
        accounts[account.id] = account.model_copy(update={"buckets": (*account.buckets, bucket)})
    else:
        assert operation.account_service is not None
        _edit_service(
            accounts,
            operation.account_service,
            lambda service: service.model_copy(update={"buckets": (*service.buckets, bucket)}),
        )


def _find_bucket(accounts: Mapping[str, Account], instance: str) -> bool:
    for account in accounts.values():
        if any(b.id == instance for b in account.buckets):
            return True
        for package in account.packages:
            for service in package.services:
                if any(b.id == instance for b in service.buckets):
                    return True
    return False


def _cancel_bucket(accounts: dict[str, Account], instance: str, day: dt.date) -> None:
    def cut(buckets: tuple[BucketInstance, ...]) -> tuple[BucketInstance, ...]:
        return tuple(_cut(b, day) if b.id == instance else b for b in buckets)

    for account in accounts.values():
        if any(b.id == instance for b in account.buckets):
            accounts[account.id] = account.model_copy(update={"buckets": cut(account.buckets)})
            return
        for package in account.packages:
            for service in package.services:
                if any(b.id == instance for b in service.buckets):
                    _edit_service(accounts, service.id, lambda s: s.model_copy(update={"buckets": cut(s.buckets)}))
                    return
    raise ProvisioningError("not_found", f"no bucket instance {instance!r}")
