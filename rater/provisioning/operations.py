"""Provisioning operations: one pydantic model per ``op``, the :data:`Operation` union that tells them apart
by ``op``, and :func:`parse_operation`, which reads one from decoded JSON.

The operation format is documented in ``docs/provisioning.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from rater.catalog.load import KIND
from rater.catalog.model import Id, Text, ZoneName
from rater.issues import Issue, pydantic_field
from rater.provisioning.errors import ProvisioningError
from rater.subscriptions import (
    Account,
    AccountPackage,
    AccountService,
    AccountSharePlan,
    BucketInstance,
    Uid,
    UsageIdentifier,
)

#: Catalog list sections by the singular kind operations name (``rate_plan`` -> ``rate_plans``).
SECTION_OF_KIND = {kind: section for section, kind in KIND.items() if section not in ("settings", "owner", "geotree")}


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
