"""Subscriptions checked against the catalog and each other; every finding names the file, the account and
the field.

References resolve (accounts, rate plans, packages and their frequencies and services, usage buckets, share
plans, time zones); start/cancel windows are not empty, and an account-service lies inside its
account-package (§1.3); a billing-activation bucket sits only on a billing activation service (R49); bucket
instance overrides fit the recur type (R20, R35, R37); account-service and account-package ids are unique; a
UID has one owner at a time (R2); an account share plan's plan has a bucket and its selling account-service
sells the plan's selling service (R54), a Usage Invoicer level plan sits on the usage invoicer (Q12), and
tie-breaks are unique on an account (R12); the parent chain has no loop.  A rate plan without a rate group
in the account's currency (R27) and a UID window outside its account-service (R2) are warnings.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Mapping

from rater.catalog import Catalog
from rater.catalog.model import RecurType, ShareLevel, find_zone
from rater.issues import IssueLog
from rater.subscriptions.model import Account, BucketInstance


def validate_accounts(file: str, accounts: dict[str, Account], catalog: Catalog, log: IssueLog) -> None:
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
