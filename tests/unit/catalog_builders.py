"""Small catalogs and subscriptions written to a temporary folder, one thing changed per test.

:func:`base_catalog` is a minimal valid catalog that still uses every entity kind and every kind of
reference, so a test can break exactly one field and expect exactly one issue.  ``BB-SPARE``, ``UB-SPARE``,
``PKG-SPARE`` and ``SP-SPARE`` are referenced by nothing in the catalog (``UB-SPARE`` is attached only to an
account-service in :func:`base_subscriptions`), so a shape error in them cannot cascade into "unknown ..."
findings elsewhere; ``SVC-SPARE`` is only in ``PKG-SPARE``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]


def base_catalog() -> Doc:
    """A valid catalog (no issues at all).  Amounts are strings so that no float is ever written."""
    return {
        "settings": {"time_zone": "UTC"},
        "owner": {"id": "OWNER", "currency": "USD", "rate_plan": "RP-1"},
        "geotree": {
            "nodes": [
                {
                    "id": "EVERYWHERE",
                    "children": [
                        {"id": "CANADA", "patterns": ["1519"]},
                        {"id": "US", "patterns": ["1212"]},
                    ],
                }
            ],
            "location_groups": [{"id": "NA", "locations": ["CANADA", "US"]}],
        },
        "usage_classes": [
            {"id": "VOICE", "rater": "class", "unit_type": "time"},
            {"id": "DATA", "rater": "class", "unit_type": "data"},
            {"id": "LD", "rater": "geotree", "unit_type": "time"},
            {"id": "SMS", "rater": "class", "unit_type": "count"},
        ],
        "rounding_rules": [
            {"id": "RR-60-6", "unit_type": "time", "unit": "s", "minimum": 60, "increment": 6},
        ],
        "time_periods": [
            {"id": "EVENINGS", "details": [{"days": ["mon", "tue"], "from": "17:00", "to": "21:00"}]},
        ],
        "rate_plans": [
            {
                "id": "RP-1",
                "precision": 3,
                "rate_groups": [
                    {
                        "id": "STD",
                        "currency": "USD",
                        "time_period": "EVENINGS",
                        "rates": [
                            {"class": "VOICE", "amount": "0.06", "per": "min", "rounding_rule": "RR-60-6"},
                            {"class": "DATA", "amount": "1", "per": "GB"},
                            {"class": "LD", "location": "CANADA", "amount": "0.10", "per": "min"},
                            {"class": "LD", "location_group": "NA", "amount": "0.20", "per": "min"},
                            {"class": "SMS", "amount": "0.10", "per": "message"},
                        ],
                    }
                ],
            },
            {
                "id": "RP-EUR",
                "precision": 2,
                "rate_groups": [
                    {"id": "EUR", "currency": "EUR", "rates": [{"class": "SMS", "amount": "1", "per": "event"}]}
                ],
            },
        ],
        "base_buckets": [
            {"id": "BB-DATA", "unit_type": "data", "details": [{"class": "DATA"}]},
            {"id": "BB-DATA2", "unit_type": "data", "details": [{"class": "DATA"}]},
            {
                "id": "BB-VOICE",
                "unit_type": "time",
                "details": [{"class": "VOICE"}, {"class": "LD", "location": "US", "exclude": True}],
            },
            {"id": "BB-SMS", "unit_type": "count", "details": [{"class": "SMS"}]},
            {"id": "BB-MONEY", "unit_type": "money", "details": [{"class": "VOICE"}, {"class": "DATA"}]},
            {"id": "BB-SPARE", "unit_type": "count", "details": [{"class": "SMS"}]},
        ],
        "usage_buckets": [
            {
                "id": "UB-DATA",
                "base_buckets": ["BB-DATA", "BB-DATA2"],
                "recur_type": "recurring",
                "recur_frequency": "1 month",
                "overage_rate_plan": "RP-1",
                "tiers": [{"threshold": "10 GB"}, {"threshold": "1 GB", "flat_charge": "5", "rate_plan": "RP-1"}],
            },
            {
                "id": "UB-VOICE",
                "base_buckets": ["BB-VOICE"],
                "recur_type": "nonrecurring",
                "expire_after": "3 months",
                "tiers": [{"threshold": "300 min"}],
            },
            {
                "id": "UB-SMS",
                "base_buckets": ["BB-SMS"],
                "recur_type": "recurring",
                "recur_frequency": "1 month",
                "last_tier_repeats": True,
                "tiers": [{"threshold": 100}, {"threshold": "100 messages", "flat_charge": "5"}],
            },
            {
                "id": "UB-ACT",
                "base_buckets": ["BB-DATA"],
                "recur_type": "nonrecurring",
                "billing_activation": {"usage_threshold": "1 MB", "time_expiry": "7 days"},
                "tiers": [{"threshold": "1 MB"}],
            },
            {
                "id": "UB-MONEY",
                "base_buckets": ["BB-MONEY"],
                "money": True,
                "recur_type": "recurring",
                "recur_frequency": "1 month",
                "tiers": [{"threshold": 50}],
            },
            {
                "id": "UB-SPARE",
                "base_buckets": ["BB-SMS"],
                "recur_type": "recurring",
                "recur_frequency": "1 month",
                "tiers": [{"threshold": 10}],
            },
        ],
        "services": [
            {"id": "SVC-PHONE", "usage_buckets": ["UB-DATA", "UB-VOICE", "UB-SMS", "UB-MONEY"]},
            {"id": "SVC-ACT", "billing_activation": True, "usage_buckets": ["UB-ACT"]},
            {"id": "SVC-SELL"},
            {"id": "SVC-SPARE"},
        ],
        "packages": [
            {
                "id": "PKG-1",
                "services": ["SVC-PHONE", {"service": "SVC-SELL", "rate_plan": "RP-1"}, "SVC-ACT"],
                "frequencies": [{"id": "MONTHLY", "every": "1 month", "rate_plan": "RP-1"}],
            },
            {
                "id": "PKG-ADDON",
                "services": ["SVC-PHONE"],
                "share_plan_add_on": {"share_plan": "SP-1", "allotments": [{"bucket": "SPB-FIXED", "amount": "1 GB"}]},
            },
            {"id": "PKG-SPARE", "services": ["SVC-SPARE"]},
        ],
        "share_plans": [
            {
                "id": "SP-1",
                "share_level": "usage_invoicer",
                "selling_service": "SVC-SELL",
                "usage_billing_frequency": "1 month",
                "participating_type": "service",
                "participants": ["SVC-PHONE"],
                "buckets": [
                    {
                        "id": "SPB-FIXED",
                        "type": "fixed",
                        "base_buckets": ["BB-DATA"],
                        "tiers": [
                            {"threshold": "10 GB"},
                            {"threshold": "1 GB", "flat_charge": "10", "repeat": True},
                        ],
                        "participants": [{"participant": "SVC-PHONE", "participation_limit": "1 GB"}],
                    },
                    {
                        "id": "SPB-VST",
                        "type": "variable_single_tier",
                        "base_buckets": ["BB-DATA"],
                        "tiers": [{"rate_plan": "RP-1"}],
                        "participants": [{"participant": "SVC-PHONE", "contribution": "1 GB"}],
                    },
                    {
                        "id": "SPB-VMT",
                        "type": "variable_multiple_tier",
                        "base_buckets": ["BB-DATA"],
                        "tiers": [
                            {"tier_growth": "500 MB"},
                            {"tier_growth": "250 MB", "flat_charge": "5", "rate_plan": "RP-1"},
                        ],
                        "participants": [{"participant": "SVC-PHONE", "contribution": "1 GB"}],
                    },
                ],
            },
            {
                "id": "SP-PKG",
                "selling_service": "SVC-SELL",
                "usage_billing_frequency": "1 month",
                "participating_type": "package",
                "participants": ["PKG-1"],
                "buckets": [
                    {"id": "SPB-PKG", "base_buckets": ["BB-SMS"], "tiers": [{"threshold": 100}]},
                ],
            },
            {"id": "SP-SPARE", "selling_service": "SVC-SELL", "usage_billing_frequency": "1 month", "active": False},
        ],
    }


def dump(doc: Doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def write_catalog(folder: Path, change: Callable[[Doc], object] | None = None) -> Path:
    """Write ``folder/catalog.yaml`` from :func:`base_catalog` after ``change`` edits it in place."""
    doc = base_catalog()
    if change is not None:
        change(doc)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(dump(doc), encoding="utf-8")
    return folder / "catalog.yaml"


def entity(doc: Doc, section: str, entity_id: str) -> dict[str, Any]:
    """The entity of ``section`` with id ``entity_id`` (to edit in place)."""
    for item in doc[section]:
        if item["id"] == entity_id:
            found: dict[str, Any] = item
            return found
    raise KeyError(entity_id)


def base_subscriptions() -> Doc:
    """Valid subscriptions for :func:`base_catalog`: a parent that is its child's usage invoicer."""
    return {
        "accounts": [
            {
                "id": "ACC-P",
                "currency": "USD",
                "rate_plan": "RP-1",
                "packages": [
                    {
                        "id": "AP-P",
                        "package": "PKG-1",
                        "frequency": "MONTHLY",
                        "effective": "2026-01-01",
                        "services": [
                            {
                                "id": "AS-P-PHONE",
                                "service": "SVC-PHONE",
                                "usage_identifiers": [
                                    {"uid": "+15195550100", "start": "2026-01-01", "end": "2026-03-01"}
                                ],
                                "buckets": [{"usage_bucket": "UB-SPARE", "effective": "2026-01-01"}],
                            },
                            {"id": "AS-P-SELL", "service": "SVC-SELL"},
                        ],
                    }
                ],
                "share_plans": [
                    {"share_plan": "SP-1", "effective": "2026-01-01", "tie_break": 1},
                    {
                        "share_plan": "SP-PKG",
                        "effective": "2026-01-01",
                        "tie_break": 2,
                        "selling_account_service": "AS-P-SELL",
                    },
                ],
            },
            {
                "id": "ACC-C",
                "parent": "ACC-P",
                "usage_invoicer": "ACC-P",
                "currency": "USD",
                "packages": [
                    {
                        "id": "AP-C",
                        "package": "PKG-1",
                        "effective": "2026-02-01",
                        "cancel": "2026-12-01",
                        "services": [
                            {
                                "id": "AS-C-PHONE",
                                "service": "SVC-PHONE",
                                "usage_identifiers": [
                                    {"uid": "+15195550199", "start": "2026-02-01", "end": "2026-03-01"},
                                    {"uid": "+15195550100", "start": "2026-03-01"},
                                ],
                            }
                        ],
                    }
                ],
            },
        ]
    }


def write_subscriptions(folder: Path, change: Callable[[Doc], object] | None = None) -> Path:
    """Write ``folder/subscriptions.yaml`` from :func:`base_subscriptions` after ``change`` edits it."""
    doc = base_subscriptions()
    if change is not None:
        change(doc)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subscriptions.yaml").write_text(dump(doc), encoding="utf-8")
    return folder / "subscriptions.yaml"


def account(doc: Doc, account_id: str) -> dict[str, Any]:
    """The account with id ``account_id`` in a subscriptions document (to edit in place)."""
    for item in doc["accounts"]:
        if item["id"] == account_id:
            found: dict[str, Any] = item
            return found
    raise KeyError(account_id)
