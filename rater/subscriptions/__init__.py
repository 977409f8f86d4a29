"""Subscriptions: accounts, account-packages, account-services, usage identifiers, bucket instances and
account share plans (domain-spec §1.2-§1.4, §1.11, §1.13).

* :mod:`~rater.subscriptions.model`: the models as ``subscriptions.yaml`` writes them, and the compiled
  :class:`Subscriptions`;
* :mod:`~rater.subscriptions.load`: reading, validating and compiling them;
* :mod:`~rater.subscriptions.validate`: the checks against the catalog and across accounts;
* :mod:`~rater.subscriptions.cancel`: an account-service cancelled.
"""

from rater.subscriptions.cancel import cancel_account_service
from rater.subscriptions.load import check_subscriptions, compile_accounts, load_subscriptions, subscriptions_file
from rater.subscriptions.model import (
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
