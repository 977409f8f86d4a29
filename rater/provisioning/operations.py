"""Provisioning: typed operations on the configuration in force, applied by one pure function.

The configuration in force is two documents: the **catalog document** (the catalog files as one mapping of
sections, :func:`rater.catalog.catalog_document`) and the **accounts** (``subscriptions.yaml``'s accounts,
as :class:`~rater.subscriptions.Account` models by id).  :func:`apply` takes one :data:`Operation` and the
current :class:`Config` and returns the next :class:`Config`, or raises :class:`ProvisioningError` with a
``code``; it does no I/O and reads no clock, so the store (``streams/config_store.py``) can run it inside a
compare-and-set and every refusal changes nothing.

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

The operation format is documented in ``docs/provisioning.md``.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from rater.catalog import Catalog, check_catalog_document
from rater.catalog.integrity import EntityInUse, check_delete, references
from rater.catalog.load import KIND
from rater.catalog.model import Id, Text, ZoneName
from rater.errors import RaterError
from rater.issues import Issue, ValidationFailed, pydantic_field
from rater.subscriptions import (
    Account,
    AccountPackage,
    AccountService,
    AccountSharePlan,
    BucketInstance,
    Subscriptions,
    Uid,
    UsageIdentifier,
    compile_accounts,
)

#: Catalog list sections by the singular kind operations name (``rate_plan`` -> ``rate_plans``).
SECTION_OF_KIND = {kind: section for section, kind in KIND.items() if section not in ("settings", "owner", "geotree")}


class ProvisioningError(RaterError):
    """A refused operation.  ``code`` is stable (documented in docs/provisioning.md); ``issues`` lists the
    validation findings when the result would be an invalid configuration."""

    def __init__(self, code: str, message: str, issues: Iterable[Issue] = ()) -> None:
        self.code = code
        self.message = message
        self.issues = [issue for issue in issues if issue.severity == "error"]
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.issues:
            body["issues"] = [str(issue) for issue in self.issues]
        return body


@dataclass(frozen=True)
class Config:
    """The configuration in force: the two documents and their compiled forms (valid by construction)."""

    catalog_document: Mapping[str, Any]
    accounts: Mapping[str, Account]
    catalog: Catalog
    subscriptions: Subscriptions


def compile_config(
    catalog_document: Mapping[str, Any], accounts: Mapping[str, Account], catalog: Catalog | None = None
) -> Config:
    """Validate and compile both documents (``catalog``: the document's catalog, already compiled);
    :class:`ProvisioningError` ``invalid_configuration`` lists every error (warnings do not refuse)."""
    if catalog is None:
        catalog = _compile_catalog(catalog_document)
    try:
        subscriptions = compile_accounts(accounts, catalog, "accounts")
    except ValidationFailed as exc:
        raise ProvisioningError("invalid_configuration", "the accounts would not be valid", exc.issues) from exc
    return Config(dict(catalog_document), dict(accounts), catalog, subscriptions)


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


def _compile_catalog(document: Mapping[str, Any]) -> Catalog:
    catalog, issues = check_catalog_document(dict(document), "catalog")
    if catalog is None:
        raise ProvisioningError("invalid_configuration", "the catalog would not be valid", issues)
    return catalog


# --- operations ------------------------------------------------------------------------------------------


#: An operation id: 1 to 200 letters, digits and ``_ . : -``, starting with a letter or digit.  It is a URL
#: path segment (``GET /v1/operations/{id}``), a Kafka key and a store key as it is, so nothing in it needs
#: quoting; a message on the topic without one gets ``<topic>:<partition>:<offset>``, which has this form.
OPERATION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
OperationId = Annotated[str, Field(min_length=1, max_length=200, pattern=OPERATION_ID)]
#: A catalog kind as operations name it (``rate_plan``, ``usage_bucket`` ...): checked against
#: :data:`SECTION_OF_KIND`, bounded here so an absurd value is refused before it is quoted in a message.
Kind = Annotated[str, Field(min_length=1, max_length=40)]


class _Op(BaseModel):
    """Every operation: ``id`` is the operation id (idempotence: an id applied once is never applied again);
    unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: OperationId | None = None


class AccountChanges(BaseModel):
    """Fields of an account that ``update_account`` may set (``null`` clears an optional one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text | None = None
    parent: Id | None = None
    usage_invoicer: Id | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    bill_day: Annotated[int, Field(ge=1, le=31)] | None = None
    usage_bill_day: Annotated[int, Field(ge=1, le=31)] | None = None
    time_zone: ZoneName | None = None
    rate_plan: Id | None = None


class PackageChanges(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    frequency: Id | None = None
    rate_plan: Id | None = None


class ServiceChanges(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_plan: Id | None = None


class CreateAccount(_Op):
    """Add an account (with its packages, services, UIDs, buckets and share plans if given)."""

    op: Literal["create_account"]
    account: Account


class UpdateAccount(_Op):
    op: Literal["update_account"]
    account: Id
    set: AccountChanges


class CancelAccount(_Op):
    """Cancel everything on the account from ``cancel`` (exclusive, §1.3): account-packages (and their
    services), account buckets and account share plans that run past it."""

    op: Literal["cancel_account"]
    account: Id
    cancel: dt.date


class AddAccountPackage(_Op):
    op: Literal["add_account_package"]
    account: Id
    account_package: AccountPackage


class UpdateAccountPackage(_Op):
    op: Literal["update_account_package"]
    account_package: Id
    set: PackageChanges


class CancelAccountPackage(_Op):
    op: Literal["cancel_account_package"]
    account_package: Id
    cancel: dt.date


class AddAccountService(_Op):
    op: Literal["add_account_service"]
    account_package: Id
    account_service: AccountService


class UpdateAccountService(_Op):
    op: Literal["update_account_service"]
    account_service: Id
    set: ServiceChanges


class CancelAccountService(_Op):
    op: Literal["cancel_account_service"]
    account_service: Id
    cancel: dt.date


class AddUsageIdentifier(_Op):
    op: Literal["add_usage_identifier"]
    account_service: Id
    usage_identifier: UsageIdentifier


class EndUsageIdentifier(_Op):
    """Close the window of ``uid`` on ``account_service`` that is open on ``end`` (exclusive, R2)."""

    op: Literal["end_usage_identifier"]
    account_service: Id
    uid: Uid
    end: dt.date


class AttachBucket(_Op):
    """Attach a usage bucket instance to one account-service or one account (§1.11): give exactly one."""

    op: Literal["attach_bucket"]
    account: Id | None = None
    account_service: Id | None = None
    bucket: BucketInstance


class CancelBucket(_Op):
    op: Literal["cancel_bucket"]
    bucket_instance: Id
    cancel: dt.date


class ActivateSharePlan(_Op):
    """Add an account share plan (§1.13); the plan must be active and have a bucket (§1.12, R54)."""

    op: Literal["activate_share_plan"]
    account: Id
    share_plan: AccountSharePlan


class CancelSharePlan(_Op):
    op: Literal["cancel_share_plan"]
    account: Id
    share_plan: Id
    cancel: dt.date


class ReplaceCatalog(_Op):
    """Replace the whole catalog document (the files of ``config/catalog/`` as one mapping of sections).
    Entities that disappear must not be in use by an account."""

    op: Literal["replace_catalog"]
    catalog: dict[str, Any]


class PutCatalogEntity(_Op):
    """Add a catalog entity, or replace the one with the same id (``kind``: ``rate_plan``, ``usage_bucket``...)."""

    op: Literal["put_catalog_entity"]
    kind: Kind
    entity: dict[str, Any]


class DeleteCatalogEntity(_Op):
    """Delete a catalog entity that nothing uses (seed pages: "deletes the selected ... if not in use")."""

    op: Literal["delete_catalog_entity"]
    kind: Kind
    entity: Id


class SetSharePlanActive(_Op):
    """Activate or deactivate a share plan in the catalog; accounts that have it keep it (§1.12 Active)."""

    op: Literal["set_share_plan_active"]
    share_plan: Id
    active: bool


class AddRate(_Op):
    """Append a rate to a rate group of a rate plan (the usual fix for ``rate_not_found``)."""

    op: Literal["add_rate"]
    rate_plan: Id
    rate_group: Id
    rate: dict[str, Any]


Operation = Annotated[
    CreateAccount
    | UpdateAccount
    | CancelAccount
    | AddAccountPackage
    | UpdateAccountPackage
    | CancelAccountPackage
    | AddAccountService
    | UpdateAccountService
    | CancelAccountService
    | AddUsageIdentifier
    | EndUsageIdentifier
    | AttachBucket
    | CancelBucket
    | ActivateSharePlan
    | CancelSharePlan
    | ReplaceCatalog
    | PutCatalogEntity
    | DeleteCatalogEntity
    | SetSharePlanActive
    | AddRate,
    Field(discriminator="op"),
]

OPERATION: TypeAdapter[Operation] = TypeAdapter(Operation)

#: Every operation name, for docs and error messages.
OPERATION_NAMES = (
    "create_account",
    "update_account",
    "cancel_account",
    "add_account_package",
    "update_account_package",
    "cancel_account_package",
    "add_account_service",
    "update_account_service",
    "cancel_account_service",
    "add_usage_identifier",
    "end_usage_identifier",
    "attach_bucket",
    "cancel_bucket",
    "activate_share_plan",
    "cancel_share_plan",
    "replace_catalog",
    "put_catalog_entity",
    "delete_catalog_entity",
    "set_share_plan_active",
    "add_rate",
)


def parse_operation(body: Any) -> Operation:
    """A typed operation from decoded JSON; ``invalid_operation`` names every bad field."""
    if not isinstance(body, dict):
        raise ProvisioningError("invalid_operation", "an operation is a JSON object with an 'op' field")
    if body.get("op") not in OPERATION_NAMES:
        raise ProvisioningError(
            "invalid_operation", f"unknown op {body.get('op')!r} (one of {', '.join(OPERATION_NAMES)})"
        )
    try:
        return OPERATION.validate_python(body)
    except ValidationError as exc:
        label = operation_label(body)
        issues = [
            Issue(
                "operation",
                str(body["op"]),
                label,
                pydantic_field(error["loc"][1:]),
                "unknown field" if error["type"] == "extra_forbidden" else error["msg"],
            )
            for error in exc.errors(include_url=False)
        ]
        raise ProvisioningError("invalid_operation", f"operation {label!r} is not valid", issues) from exc


def operation_label(body: Mapping[str, Any]) -> str:
    """How messages name an operation: its id when it is a valid one, else its op (a refused id may be
    anything, 900 KiB of it included, and is not quoted back)."""
    op_id = body.get("id")
    if isinstance(op_id, str) and len(op_id) <= 200 and re.fullmatch(OPERATION_ID, op_id):
        return op_id
    return str(body.get("op"))[:40]


# --- apply -----------------------------------------------------------------------------------------------


def apply(operation: Operation, config: Config) -> Config:
    """The configuration after ``operation``, validated whole; raise :class:`ProvisioningError` and change
    nothing when it is refused (pure: ``config`` is never modified)."""
    if isinstance(operation, (ReplaceCatalog, PutCatalogEntity, DeleteCatalogEntity, SetSharePlanActive, AddRate)):
        document = _catalog_change(operation, config)
        catalog = _compile_catalog(document)
        _check_removed_in_use(config, catalog)
        result = compile_config(document, config.accounts, catalog)
    else:
        accounts = dict(config.accounts)
        _account_change(operation, config, accounts)
        _revalidate(config, accounts)
        _check_new_share_plans(config, accounts)
        result = compile_config(config.catalog_document, accounts, config.catalog)
    return result


def _catalog_change(operation: Operation, config: Config) -> dict[str, Any]:
    document = copy.deepcopy(dict(config.catalog_document))
    if isinstance(operation, ReplaceCatalog):
        return operation.catalog
    if isinstance(operation, PutCatalogEntity):
        section = _section(operation.kind)
        entity_id = operation.entity.get("id")
        if not isinstance(entity_id, str) or not entity_id:
            raise ProvisioningError("invalid_operation", f"the {operation.kind} needs an 'id'")
        entities = list(document.get(section) or [])
        index = _index(entities, entity_id)
        if index is None:
            entities.append(operation.entity)
        else:
            entities[index] = operation.entity
        document[section] = entities
        return document
    if isinstance(operation, DeleteCatalogEntity):
        section = _section(operation.kind)
        try:
            check_delete(config.catalog, config.subscriptions, operation.kind, operation.entity)
        except EntityInUse as exc:
            raise ProvisioningError("entity_in_use", str(exc)) from exc
        except KeyError as exc:
            raise ProvisioningError("not_found", f"no {operation.kind} {operation.entity!r} in the catalog") from exc
        document[section] = [e for e in document.get(section) or [] if _entity_id(e) != operation.entity]
        return document
    if isinstance(operation, SetSharePlanActive):
        plan = config.catalog.share_plans.get(operation.share_plan)
        if plan is None:
            raise ProvisioningError("not_found", f"no share plan {operation.share_plan!r} in the catalog")
        if operation.active and not plan.buckets:
            raise ProvisioningError(
                "share_plan_without_buckets",
                f"share plan {plan.id!r} has no bucket and cannot be activated (R54; Share Plans screen)",
            )
        entities = list(document.get("share_plans") or [])
        index = _index(entities, plan.id)
        assert index is not None
        entities[index] = {**entities[index], "active": operation.active}
        document["share_plans"] = entities
        return document
    assert isinstance(operation, AddRate)
    plans = list(document.get("rate_plans") or [])
    index = _index(plans, operation.rate_plan)
    if index is None:
        raise ProvisioningError("not_found", f"no rate plan {operation.rate_plan!r} in the catalog")
    plan_body = copy.deepcopy(plans[index])
    groups = plan_body.get("rate_groups") or []
    group_index = _index(groups, operation.rate_group)
    if group_index is None:
        raise ProvisioningError(
            "not_found", f"rate plan {operation.rate_plan!r} has no rate group {operation.rate_group!r}"
        )
    groups[group_index] = {**groups[group_index], "rates": [*(groups[group_index].get("rates") or []), operation.rate]}
    plans[index] = plan_body
    document["rate_plans"] = plans
    return document


def _section(kind: str) -> str:
    section = SECTION_OF_KIND.get(kind)
    if section is None:
        raise ProvisioningError(
            "invalid_operation",
            f"unknown kind {kind!r} (one of {', '.join(sorted(SECTION_OF_KIND))}; GeoTree, settings and owner "
            "change with replace_catalog)",
        )
    return section


def _entity_id(entity: Any) -> Any:
    return entity.get("id") if isinstance(entity, dict) else None


def _index(entities: list[Any], entity_id: str) -> int | None:
    return next((i for i, entity in enumerate(entities) if _entity_id(entity) == entity_id), None)


def _account_change(operation: Operation, config: Config, accounts: dict[str, Account]) -> None:
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


# --- rules on the whole result ---------------------------------------------------------------------------


def _revalidate(before: Config, accounts: dict[str, Account]) -> None:
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


def _check_removed_in_use(before: Config, catalog: Catalog) -> None:
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


def _check_new_share_plans(before: Config, accounts: Mapping[str, Account]) -> None:
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


def accounts_document(accounts: Iterable[Account]) -> dict[str, Any]:
    """``{"accounts": [...]}`` as ``subscriptions.yaml`` holds it, JSON-ready (defaults left out)."""
    return {"accounts": [account_json(account) for account in accounts]}


def account_json(account: Account) -> dict[str, Any]:
    """One account as JSON (dates ISO 8601, defaults left out); :meth:`Account.model_validate` reads it back."""
    body: dict[str, Any] = account.model_dump(mode="json", exclude_defaults=True)
    return body


__all__ = [
    "OPERATION_NAMES",
    "Config",
    "Operation",
    "ProvisioningError",
    "account_json",
    "accounts_document",
    "apply",
    "compile_config",
    "operation_label",
    "parse_operation",
]
