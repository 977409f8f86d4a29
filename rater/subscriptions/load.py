"""Loading subscriptions: ``subscriptions.yaml`` read, validated against the catalog and compiled into
:class:`~rater.subscriptions.model.Subscriptions`; and accounts built in memory compiled the same way.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from rater.catalog import Catalog
from rater.issues import Issue, IssueLog, ValidationFailed, pydantic_field
from rater.subscriptions.model import Account, ServiceContext, Subscriptions, UidWindow
from rater.subscriptions.validate import validate_accounts
from rater.yamlio import YamlError, load_yaml


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
    validate_accounts(name, accounts, catalog, log)
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
    validate_accounts(source, dict(accounts), catalog, log)
    log.raise_if_errors()
    return _compile(dict(accounts), catalog)


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
