"""The configuration in force: two documents and their compiled forms.

The **catalog document** is the catalog files as one mapping of sections (:func:`rater.catalog.catalog_document`);
the **accounts** are ``subscriptions.yaml``'s accounts, as :class:`~rater.subscriptions.Account` models by id.
:func:`compile_config` validates and compiles both into a :class:`Config`; :func:`accounts_document` and
:func:`account_json` write the accounts back as the JSON the configuration store and the API hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rater.catalog import Catalog, check_catalog_document
from rater.issues import ValidationFailed
from rater.provisioning.errors import ProvisioningError
from rater.subscriptions import Account, Subscriptions, compile_accounts


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
        catalog = compile_catalog(catalog_document)
    try:
        subscriptions = compile_accounts(accounts, catalog, "accounts")
    except ValidationFailed as exc:
        raise ProvisioningError("invalid_configuration", "the accounts would not be valid", exc.issues) from exc
    return Config(dict(catalog_document), dict(accounts), catalog, subscriptions)


def compile_catalog(document: Mapping[str, Any]) -> Catalog:
    catalog, issues = check_catalog_document(dict(document), "catalog")
    if catalog is None:
        raise ProvisioningError("invalid_configuration", "the catalog would not be valid", issues)
    return catalog


def accounts_document(accounts: Iterable[Account]) -> dict[str, Any]:
    """``{"accounts": [...]}`` as ``subscriptions.yaml`` holds it, JSON-ready (defaults left out)."""
    return {"accounts": [account_json(account) for account in accounts]}


def account_json(account: Account) -> dict[str, Any]:
    """One account as JSON (dates ISO 8601, defaults left out); :meth:`Account.model_validate` reads it back."""
    body: dict[str, Any] = account.model_dump(mode="json", exclude_defaults=True)
    return body
