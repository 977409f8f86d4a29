"""A small configuration for provisioning tests: a catalog with a share plan in use, an inactive one, one
without buckets, a usage bucket and a base bucket nobody uses, and one team account that uses the rest."""

from __future__ import annotations

from typing import Any

from rater.catalog import json_document
from rater.provisioning import Config, compile_config
from rater.subscriptions import Account
from rater.yamlio import loads_yaml

CATALOG = """
owner: {id: OWNER, currency: USD}
usage_classes:
  - {id: DATA, name: Mobile data, rater: class, unit_type: data}
  - {id: SMS, name: SMS, rater: class, unit_type: count}
rate_plans:
  - id: RP-SMS
    precision: 2
    rate_groups:
      - id: STANDARD
        currency: USD
        rates:
          - {class: DATA, amount: 0.01, per: MB}
base_buckets:
  - {id: BB-DATA, unit_type: data, details: [{class: DATA}]}
  - {id: BB-SMS, unit_type: count, details: [{class: SMS}]}
  - {id: BB-SPARE, unit_type: count, details: [{class: SMS}]}
usage_buckets:
  - id: SMS200
    base_buckets: [BB-SMS]
    recur_type: recurring
    recur_frequency: 1 month
    overage_rate_plan: RP-SMS
    tiers:
      - {threshold: 100, flat_charge: 0}
      - {threshold: 100, flat_charge: 5.00}
  - id: UB-SPARE
    base_buckets: [BB-SMS]
    recur_type: recurring
    recur_frequency: 1 month
    tiers: [{threshold: 50}]
share_plans:
  - id: SP-TEAM
    selling_service: SVC-TEAM-SELL
    usage_billing_frequency: 1 month
    participants: [SVC-PHONE]
    buckets:
      - id: SPB-TEAM-DATA
        type: fixed
        base_buckets: [BB-DATA]
        recur_type: recurring
        tiers: [{threshold: "10 GB"}]
  - id: SP-OFF
    active: false
    selling_service: SVC-OFF-SELL
    usage_billing_frequency: 1 month
    participants: [SVC-TABLET]
    buckets:
      - id: SPB-OFF-DATA
        type: fixed
        base_buckets: [BB-DATA]
        recur_type: recurring
        tiers: [{threshold: "5 GB"}]
  - id: SP-EMPTY
    active: false
    selling_service: SVC-EMPTY-SELL
    usage_billing_frequency: 1 month
services:
  - {id: SVC-TEAM-SELL, name: Team share plan}
  - {id: SVC-OFF-SELL, name: Retired share plan}
  - {id: SVC-EMPTY-SELL, name: Unfinished share plan}
  - {id: SVC-PHONE, name: Phone line, usage_buckets: [SMS200]}
  - {id: SVC-TABLET, name: Tablet}
packages:
  - id: PKG-TEAM
    name: Team mobile
    services: [SVC-TEAM-SELL, SVC-OFF-SELL, SVC-EMPTY-SELL, SVC-PHONE, SVC-TABLET]
"""

ACCOUNTS = """
accounts:
  - id: TEAM
    packages:
      - id: TEAM-PKG
        package: PKG-TEAM
        effective: 2026-03-01
        services:
          - {id: TEAM-SELL, service: SVC-TEAM-SELL}
          - {id: TEAM-OFF-SELL, service: SVC-OFF-SELL}
          - {id: TEAM-EMPTY-SELL, service: SVC-EMPTY-SELL}
          - {id: TEAM-PHONE1, service: SVC-PHONE, usage_identifiers: [{uid: "+15550001", start: 2026-03-01}]}
    share_plans:
      - {share_plan: SP-TEAM, effective: 2026-03-01, tie_break: 1, selling_account_service: TEAM-SELL}
"""


def catalog_document() -> dict[str, Any]:
    document = json_document(loads_yaml(CATALOG))
    assert isinstance(document, dict)
    return document


def accounts() -> dict[str, Account]:
    body = loads_yaml(ACCOUNTS)["accounts"]
    return {item["id"]: Account.model_validate(item) for item in body}


def config() -> Config:
    return compile_config(catalog_document(), accounts())
