"""Subscriptions: accounts, account-packages, account-services, usage identifiers, bucket instances and
account share plans (domain-spec §1.2-§1.4, §1.11, §1.13)."""

from rater.subscriptions.validate import (
    Account,
    AccountPackage,
    AccountService,
    AccountSharePlan,
    BucketInstance,
    DurationText,
    ServiceContext,
    Subscriptions,
    Uid,
    UidWindow,
    UsageIdentifier,
    cancel_account_service,
    check_subscriptions,
    compile_accounts,
    load_subscriptions,
    subscriptions_file,
)

__all__ = [
    "Account",
    "AccountPackage",
    "AccountService",
    "AccountSharePlan",
    "BucketInstance",
    "DurationText",
    "ServiceContext",
    "Subscriptions",
    "Uid",
    "UidWindow",
    "UsageIdentifier",
    "cancel_account_service",
    "check_subscriptions",
    "compile_accounts",
    "load_subscriptions",
    "subscriptions_file",
]
