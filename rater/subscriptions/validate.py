"""Subscriptions: accounts, account-packages, account-services, usage identifiers, bucket instances and
account share plans (domain-spec §1.2-§1.4, §1.11, §1.13).

The file format (``subscriptions.yaml``, documented in ``docs/subscriptions.md``) nests account-services in
their account-package and account-packages in their account.  Dates are days: start inclusive, cancel
exclusive (§1.3, R42), read in the account's time zone.

:class:`Subscriptions` is the compiled, read-only form with the indexes rating needs (UID -> windows,
account chain, ...).  Provisioning (:mod:`rater.provisioning`) produces the same model.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from rater.catalog import Catalog
from rater.catalog.model import Id, RecurType, ShareLevel, Text, ZoneName, find_zone
from rater.issues import Issue, IssueLog, ValidationFailed, pydantic_field
from rater.units import parse_duration
from rater.yamlio import YamlError, load_yaml


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


def subscriptions_file(path: Path) -> Path:
    """``path`` itself when it is a file, else ``path/subscriptions.yaml``."""
    return path if path.is_file() else path / "subscriptions.yaml"


def check_subscriptions(path: Path, catalog: Catalog) -> tuple[Subscriptions | None, list[Issue]]:
    """Load, validate against ``catalog`` and compile; ``None`` when there are errors."""
    log = IssueLog()
    file = subscriptions_file(path)
    name = str(file)
    accounts: dict[str, Account] = {}
    try:
        document = load_yaml(file) if file.exists() else {}
    except YamlError as exc:
        log.error(name, "subscriptions", "", "", str(exc))
        return None, log.issues
    if document is None:
        document = {}
    if not isinstance(document, dict) or set(document) - {"accounts"}:
        log.error(name, "subscriptions", "", "", "the file must be a mapping with one key, 'accounts'")
        return None, log.issues
    body = document.get("accounts") or []
    if not isinstance(body, list):
        log.error(name, "subscriptions", "", "accounts", "must be a list of accounts")
        return None, log.issues
    for index, item in enumerate(body):
        label = str(item.get("id", "")) if isinstance(item, dict) else f"#{index + 1}"
        try:
            account = Account.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
                log.error(name, "account", label, pydantic_field(error["loc"]), message)
            continue
        if account.id in accounts:
            log.error(name, "account", account.id, "id", "duplicate account id")
            continue
        accounts[account.id] = account
    _validate(name, accounts, catalog, log)
    if log.has_errors:
        return None, log.issues
    return _compile(accounts, catalog), log.issues


def load_subscriptions(path: Path, catalog: Catalog) -> Subscriptions:
    """Load subscriptions or raise :class:`rater.issues.ValidationFailed` listing every error."""
    subscriptions, issues = check_subscriptions(path, catalog)
    if subscriptions is None:
        raise ValidationFailed(issues)
    return subscriptions


def compile_accounts(accounts: Mapping[str, Account], catalog: Catalog, source: str = "subscriptions") -> Subscriptions:
    """Validate and compile accounts built in memory (a change applied to loaded subscriptions); raise
    :class:`ValidationFailed` naming ``source`` on errors."""
    log = IssueLog()
    _validate(source, dict(accounts), catalog, log)
    log.raise_if_errors()
    return _compile(dict(accounts), catalog)


def cancel_account_service(
    subscriptions: Subscriptions, catalog: Catalog, account_service: str, cancel: dt.date
) -> Subscriptions:
    """The subscriptions with ``account_service`` cancelled from ``cancel`` (exclusive, §1.3)."""
    context = subscriptions.services[account_service]
    account = context.account
    packages = tuple(
        package.model_copy(
            update={
                "services": tuple(
                    service.model_copy(update={"cancel": cancel}) if service.id == account_service else service
                    for service in package.services
                )
            }
        )
        for package in account.packages
    )
    accounts = dict(subscriptions.accounts)
    accounts[account.id] = account.model_copy(update={"packages": packages})
    return compile_accounts(accounts, catalog, f"cancel {account_service}")


def _validate(file: str, accounts: dict[str, Account], catalog: Catalog, log: IssueLog) -> None:
    def err(account: str, field: str, message: str) -> None:
        log.error(file, "account", account, field, message)

    def ref(account: str, field: str, target: str | None, pool: Mapping[str, object], what: str) -> bool:
        if target is None:
            return False
        if target not in pool:
            err(account, field, f"unknown {what} {target!r}")
            return False
        return True

    def check_window(account: str, field: str, start: dt.date | None, end: dt.date | None) -> None:
        if start is not None and end is not None and end <= start:
            err(account, field, "cancel/end must be later than the start (start inclusive, end exclusive)")

    def check_bucket(account: str, at: str, instance: BucketInstance, service: str | None) -> None:
        """``service`` is the catalog service of the account-service holding the instance (None: account level)."""
        ref(account, f"{at}.overage_rate_plan", instance.overage_rate_plan, catalog.rate_plans, "rate plan")
        check_window(account, f"{at}.cancel", instance.effective, instance.cancel)
        if not ref(account, f"{at}.usage_bucket", instance.usage_bucket, catalog.usage_buckets, "usage bucket"):
            return
        bucket = catalog.usage_buckets[instance.usage_bucket]
        if bucket.billing_activation is not None and (
            service is None or service not in catalog.services or not catalog.services[service].billing_activation
        ):
            err(
                account,
                f"{at}.usage_bucket",
                f"billing-activation bucket {bucket.id!r} can only go on a billing activation service (R49)",
            )
        recur_type = instance.recur_type or bucket.recur_type
        if recur_type is RecurType.NONRECURRING:
            if instance.recur_frequency is not None:
                err(account, f"{at}.recur_frequency", "nonrecurring buckets do not recur")
            for flag in ("prorate", "last_tier_repeats"):
                if getattr(bucket, flag):
                    err(
                        account,
                        f"{at}.recur_type",
                        f"bucket {bucket.id!r} has {flag}, not offered on nonrecurring (R20)",
                    )
        else:
            activation = bucket.billing_activation is not None  # a trigger: it never recurs (R49-R52)
            if instance.recur_frequency is None and bucket.recur_frequency is None and not activation:
                err(account, f"{at}.recur_frequency", f"required for {recur_type.value} buckets")
            if instance.expire_after is not None:
                err(account, f"{at}.expire_after", "only for nonrecurring buckets (R37)")

    service_ids: Counter[str] = Counter()
    package_ids: Counter[str] = Counter()
    catalog_service_of = {
        service.id: service.service
        for account in accounts.values()
        for package in account.packages
        for service in package.services
    }
    uid_windows: dict[str, list[tuple[dt.date, dt.date | None, str]]] = {}
    for account in accounts.values():
        aid = account.id
        for field, target in (("parent", account.parent), ("usage_invoicer", account.usage_invoicer)):
            ref(aid, field, target, accounts, "account")
        ref(aid, "rate_plan", account.rate_plan, catalog.rate_plans, "rate plan")

        def currency_check(field: str, plan_id: str | None, currency: str = account.currency, who: str = aid) -> None:
            plan = catalog.rate_plans.get(plan_id) if plan_id is not None else None
            if plan is not None and all(group.currency != currency for group in plan.rate_groups):
                log.warning(file, "account", who, field, f"rate plan {plan.id!r} has no rate group in {currency} (R27)")

        currency_check("rate_plan", account.rate_plan)
        if account.time_zone is not None and find_zone(account.time_zone) is None:
            err(aid, "time_zone", f"unknown time zone {account.time_zone!r}")
        for bi, instance in enumerate(account.buckets):
            check_bucket(aid, f"buckets[{bi}]", instance, None)
        for pi, package in enumerate(account.packages):
            at = f"packages[{pi}]"
            package_ids[package.id] += 1
            check_window(aid, f"{at}.cancel", package.effective, package.cancel)
            ref(aid, f"{at}.rate_plan", package.rate_plan, catalog.rate_plans, "rate plan")
            if not ref(aid, f"{at}.package", package.package, catalog.packages, "package"):
                continue
            definition = catalog.packages[package.package]
            in_package = {entry.service for entry in definition.services}
            currency_check(f"{at}.rate_plan", package.rate_plan)
            for frequency in definition.frequencies:
                if package.frequency in (None, frequency.id):
                    currency_check(f"{at}.frequency", frequency.rate_plan)
                    break
            if package.frequency is not None and package.frequency not in {f.id for f in definition.frequencies}:
                err(aid, f"{at}.frequency", f"package {definition.id!r} has no frequency {package.frequency!r}")
            for si, service in enumerate(package.services):
                sat = f"{at}.services[{si}]"
                service_ids[service.id] += 1
                if service.service not in catalog.services:
                    err(aid, f"{sat}.service", f"unknown service {service.service!r}")
                elif service.service not in in_package:
                    err(aid, f"{sat}.service", f"service {service.service!r} is not in package {definition.id!r}")
                ref(aid, f"{sat}.rate_plan", service.rate_plan, catalog.rate_plans, "rate plan")
                currency_check(f"{sat}.rate_plan", service.rate_plan)
                for entry in definition.services:
                    if entry.service == service.service:
                        currency_check(f"{sat}.service", entry.rate_plan)
                start = service.effective or package.effective
                end = service.cancel or package.cancel
                check_window(aid, f"{sat}.cancel", start, service.cancel)
                if start < package.effective:
                    err(aid, f"{sat}.effective", f"starts before its account-package ({package.effective})")
                if package.cancel is not None and service.cancel is not None and service.cancel > package.cancel:
                    err(aid, f"{sat}.cancel", f"ends after its account-package ({package.cancel})")
                for bi, instance in enumerate(service.buckets):
                    check_bucket(aid, f"{sat}.buckets[{bi}]", instance, service.service)
                for ui, uid in enumerate(service.usage_identifiers):
                    check_window(aid, f"{sat}.usage_identifiers[{ui}].end", uid.start, uid.end)
                    if (end is not None and uid.start >= end) or (uid.end is not None and uid.end <= start):
                        log.warning(
                            file,
                            "account",
                            aid,
                            f"{sat}.usage_identifiers[{ui}]",
                            f"the window {uid.start}..{uid.end or 'open'} lies outside the account-service's "
                            f"{start}..{end or 'open'}: it can own no record (R2)",
                        )
                    uid_windows.setdefault(uid.uid, []).append(
                        (uid.start, uid.end, f"{aid}/{sat}.usage_identifiers[{ui}]")
                    )
        tie_breaks: Counter[int] = Counter(plan.tie_break for plan in account.share_plans)
        for si, share in enumerate(account.share_plans):
            at = f"share_plans[{si}]"
            check_window(aid, f"{at}.cancel", share.effective, share.cancel)
            if tie_breaks[share.tie_break] > 1:
                err(aid, f"{at}.tie_break", f"tie-break {share.tie_break} is used twice on this account (R12)")
            if not ref(aid, f"{at}.share_plan", share.share_plan, catalog.share_plans, "share plan"):
                continue
            share_plan = catalog.share_plans[share.share_plan]
            selling = share.selling_account_service
            if selling is not None and selling not in catalog_service_of:
                err(aid, f"{at}.selling_account_service", f"unknown account-service {selling!r}")
            elif selling is not None and catalog_service_of[selling] != share_plan.selling_service:
                err(
                    aid,
                    f"{at}.selling_account_service",
                    f"account-service {selling!r} is a {catalog_service_of[selling]!r}, "
                    f"not the plan's selling service {share_plan.selling_service!r} (R54)",
                )
            if not share_plan.buckets:
                message = f"share plan {share_plan.id!r} has no bucket and cannot be activated (R54)"
                err(aid, f"{at}.share_plan", message)
            if share_plan.share_level is ShareLevel.USAGE_INVOICER and account.usage_invoicer not in (None, aid):
                err(
                    aid,
                    f"{at}.share_plan",
                    "a Usage Invoicer level share plan belongs on the usage invoicer account (Q12)",
                )
    for service_id, count in service_ids.items():
        if count > 1:
            log.error(file, "account_service", service_id, "id", "duplicate account-service id")
    for package_id, count in package_ids.items():
        if count > 1:  # billing activation (R49-R53) and proration key their state by account-package id
            log.error(file, "account_package", package_id, "id", "duplicate account-package id")
    for uid_text, windows in uid_windows.items():
        ordered = sorted(windows, key=lambda w: w[0])
        for (start_a, end_a, where_a), (start_b, _, where_b) in itertools.pairwise(ordered):
            if end_a is None or start_b < end_a:
                overlap = f"{where_b} overlaps {where_a} from {start_a} (R2)"
                log.error(file, "usage_identifier", uid_text, "start", overlap)
    for account in accounts.values():
        _check_cycle(file, account, accounts, log)


def _check_cycle(file: str, account: Account, accounts: Mapping[str, Account], log: IssueLog) -> None:
    """Report ``account`` if its parent chain comes back to it (accounts below a loop are not in it)."""
    seen = {account.id}
    current = account
    while current.parent is not None and current.parent in accounts:
        if current.parent == account.id:
            log.error(file, "account", account.id, "parent", "the parent chain loops back to this account")
            return
        if current.parent in seen:
            return
        seen.add(current.parent)
        current = accounts[current.parent]


def _compile(accounts: dict[str, Account], catalog: Catalog) -> Subscriptions:
    services: dict[str, ServiceContext] = {}
    uids: dict[str, list[UidWindow]] = {}
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    for account in accounts.values():
        zones[account.id] = zoneinfo.ZoneInfo(account.time_zone) if account.time_zone else catalog.zone
        for package in account.packages:
            for service in package.services:
                context = ServiceContext(
                    account=account,
                    package=package,
                    service=service,
                    effective=service.effective or package.effective,
                    cancel=service.cancel or package.cancel,
                )
                services[service.id] = context
                for uid in service.usage_identifiers:
                    # A UID owns records only while its account-service is active too (R2, §1.3).
                    start = max(uid.start, context.effective)
                    ends = [day for day in (uid.end, context.cancel) if day is not None]
                    end = min(ends) if ends else None
                    if end is None or start < end:
                        uids.setdefault(uid.uid, []).append(UidWindow(start, end, context))
    return Subscriptions(
        accounts=dict(accounts),
        services=services,
        uids={uid: tuple(sorted(windows, key=lambda w: w.start)) for uid, windows in uids.items()},
        zones=zones,
    )


__all__ = [
    "Account",
    "AccountPackage",
    "AccountService",
    "AccountSharePlan",
    "BucketInstance",
    "ServiceContext",
    "Subscriptions",
    "UidWindow",
    "UsageIdentifier",
    "check_subscriptions",
    "load_subscriptions",
]
