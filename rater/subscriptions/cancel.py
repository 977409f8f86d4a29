"""One account-service cancelled in compiled subscriptions (§1.3: cancel exclusive), as the rater applies a
cancellation once it has settled the prorated buckets (R41).
"""

from __future__ import annotations

import datetime as dt

from rater.catalog import Catalog
from rater.subscriptions.load import compile_accounts
from rater.subscriptions.model import Subscriptions


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
