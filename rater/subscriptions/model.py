"""The subscription models: accounts, account-packages, account-services, usage identifiers, bucket instances
and account share plans as ``subscriptions.yaml`` writes them (domain-spec §1.2-§1.4, §1.11, §1.13), and
:class:`Subscriptions`, their compiled, read-only form with the indexes rating needs (UID -> windows,
account chain, ...).

The file format (documented in ``docs/subscriptions.md``) nests account-services in their account-package
and account-packages in their account.  Dates are days: start inclusive, cancel exclusive (§1.3, R42), read
in the account's time zone.  Provisioning (:mod:`rater.provisioning`) produces the same model.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rater.catalog.model import Id, RecurType, Text, ZoneName
from rater.units import parse_duration


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


#: A usage identifier (a phone number, an IMSI, a device id ...): 1 to 128 characters.
Uid = Annotated[str, StringConstraints(min_length=1, max_length=128)]
#: A duration as written in a bucket instance override (``1 month``, ``7 days``): at most 40 characters.
DurationText = Annotated[str, StringConstraints(max_length=40)]


class UsageIdentifier(_Model):
    """§1.4: a UID owned by an account-service from ``start`` (inclusive) to ``end`` (exclusive, open if null)."""

    uid: Uid
    start: dt.date
    end: dt.date | None = None

    @field_validator("uid", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class BucketInstance(_Model):
    """§1.11: a usage bucket attached to an account-service or an account, with the documented overrides."""

    id: Id | None = None
    usage_bucket: Id
    effective: dt.date | None = None
    cancel: dt.date | None = None
    recur_type: RecurType | None = None
    recur_frequency: DurationText | None = None
    expire_after: DurationText | None = None
    threshold_per_account_service: bool | None = None
    overage_rate_plan: Id | None = None

    @field_validator("recur_frequency", "expire_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class AccountService(_Model):
    """§1.3 account-service.  Dates default to the account-package's."""

    id: Id
    service: Id
    effective: dt.date | None = None
    cancel: dt.date | None = None
    rate_plan: Id | None = None
    usage_identifiers: tuple[UsageIdentifier, ...] = ()
    buckets: tuple[BucketInstance, ...] = ()


class AccountPackage(_Model):
    """§1.3 account-package."""

    id: Id
    package: Id
    frequency: Id | None = None
    effective: dt.date
    cancel: dt.date | None = None
    rate_plan: Id | None = None
    services: tuple[AccountService, ...] = ()


class AccountSharePlan(_Model):
    """§1.13 account share plan; ``tie_break`` orders overlapping plans, lowest first (R12)."""

    share_plan: Id
    effective: dt.date
    cancel: dt.date | None = None
    tie_break: int = 0
    selling_account_service: Id | None = None


class Account(_Model):
    """§1.2 account.  ``usage_invoicer`` defaults to the account itself; ``usage_bill_day`` to ``bill_day``."""

    id: Id
    name: Text = ""
    parent: Id | None = None
    usage_invoicer: Id | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    bill_day: int = Field(default=1, ge=1, le=31)
    usage_bill_day: int | None = Field(default=None, ge=1, le=31)
    time_zone: ZoneName | None = None
    rate_plan: Id | None = None
    buckets: tuple[BucketInstance, ...] = ()
    packages: tuple[AccountPackage, ...] = ()
    share_plans: tuple[AccountSharePlan, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Everything rating needs about the account-service that owns a record (R2, R24)."""

    account: Account
    package: AccountPackage
    service: AccountService
    effective: dt.date
    cancel: dt.date | None


@dataclass(frozen=True, slots=True)
class UidWindow:
    start: dt.date
    end: dt.date | None
    owner: ServiceContext


@dataclass(frozen=True)
class Subscriptions:
    """Compiled subscriptions: accounts by id, account-services by id, UID windows by UID."""

    accounts: Mapping[str, Account]
    services: Mapping[str, ServiceContext]
    uids: Mapping[str, tuple[UidWindow, ...]]
    zones: Mapping[str, zoneinfo.ZoneInfo]

    def zone(self, account_id: str) -> zoneinfo.ZoneInfo:
        return self.zones[account_id]

    def usage_invoicer(self, account: Account) -> Account:
        """The account invoiced for ``account``'s usage (itself when none is set)."""
        return self.accounts[account.usage_invoicer] if account.usage_invoicer else account

    def parents(self, account: Account) -> Iterator[Account]:
        """The parent chain above ``account``, nearest first (validated to have no cycle)."""
        current = account
        while current.parent is not None:
            current = self.accounts[current.parent]
            yield current

    def usage_bill_day(self, account: Account) -> int:
        return account.usage_bill_day if account.usage_bill_day is not None else account.bill_day
