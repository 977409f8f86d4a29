"""R53: a package holding a billing activation service neither participates in nor contributes to a share
plan until it is activated (by usage, R50a/R51, or by time, R50b)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.unit._builders import make_rater, rated

CATALOG = """
owner: {id: OWNER, currency: USD, rate_plan: RP}
usage_classes:
  - {id: DATA, rater: class, unit_type: data}
rate_plans:
  - id: RP
    precision: 2
    rate_groups:
      - {id: G, currency: USD, rates: [{class: DATA, amount: 1.00, per: MB}]}
base_buckets:
  - {id: BB-DATA, unit_type: data, details: [{class: DATA}]}
usage_buckets:
  - id: UB-ACTIVATE
    base_buckets: [BB-DATA]
    recur_type: nonrecurring
    billing_activation: {usage_threshold: 1 MB, time_expiry: 7 days}
    tiers: [{threshold: 1 MB}]
services:
  - {id: SVC-ACT, billing_activation: true, usage_buckets: [UB-ACTIVATE]}
  - {id: SVC-SENSOR}
  - {id: SVC-SELL}
packages:
  - {id: PKG-IOT, services: [SVC-ACT, SVC-SENSOR]}
  - {id: PKG-SELL, services: [SVC-SELL]}
share_plans:
  - id: SP
    participating_type: service
    selling_service: SVC-SELL
    usage_billing_frequency: 1 month
    participants: [SVC-SENSOR]
    buckets:
      - {id: SPB, type: fixed, base_buckets: [BB-DATA], tiers: [{threshold: 10 MB}]}
"""

SUBSCRIPTIONS = """
accounts:
  - id: ACC
    share_plans: [{share_plan: SP, effective: 2026-03-01, tie_break: 1}]
    packages:
      - id: AP-SELL
        package: PKG-SELL
        effective: 2026-03-01
        services: [{id: AS-SELL, service: SVC-SELL}]
      - id: AP-1
        package: PKG-IOT
        effective: 2026-03-01
        services:
          - {id: AS-1-ACT, service: SVC-ACT}
          - {id: AS-1, service: SVC-SENSOR, usage_identifiers: [{uid: "S1", start: 2026-03-01}]}
      - id: AP-2
        package: PKG-IOT
        effective: 2026-03-01
        services:
          - {id: AS-2-ACT, service: SVC-ACT}
          - {id: AS-2, service: SVC-SENSOR, usage_identifiers: [{uid: "S2", start: 2026-03-01}]}
"""


def _data(uid: str, mb: str, day: str) -> dict[str, str]:
    return {
        "usage_identifier": uid,
        "usage_class": "DATA",
        "quantity": mb,
        "unit": "MB",
        "event_time": f"2026-03-{day}T12:00:00Z",
    }


def test_activation_package_joins_the_share_plan_when_usage_activates_it(tmp_path: Path) -> None:
    """R53 + R50a: AP-1 added Mar 1, threshold 1 MB.
    Mar 2, 0.5 MB: not activated (0.5 < 1 MB) -> no share-plan draw; 0.5 MB x $1.00 = $0.50.
    Mar 3, 0.6 MB: the activation count reaches 1.1 MB >= 1 MB in this very draw, so the package is
    activated on Mar 3 (reason usage); this record is the usage that reached the threshold, rated before
    activation (R50a, Q11): no share-plan draw, 0.6 MB x $1.00 = $0.60.
    Mar 4, 0.7 MB: activated, it draws from the pool (0 -> 700,000 B): $0."""
    rater = make_rater(tmp_path, CATALOG, SUBSCRIPTIONS)
    first = rated(rater, **_data("S1", "0.5", "02"))
    assert (first.draws, first.total_amount) == ((), Decimal("0.50"))
    second = rated(rater, **_data("S1", "0.6", "03"))
    assert (second.draws, second.total_amount) == ((), Decimal("0.60"))
    third = rated(rater, **_data("S1", "0.7", "04"))
    assert [(d.level, d.before, d.after) for d in third.draws] == [("share_plan", 0, 700_000)]
    assert third.total_amount == Decimal("0.00")
    (note,) = second.notifications
    assert (note.kind, dict(note.details)["activated_on"], dict(note.details)["reason"]) == (
        "billing_activation",
        "2026-03-03",
        "usage",
    )


def test_activation_package_joins_the_share_plan_when_its_time_expiry_passes(tmp_path: Path) -> None:
    """R53 + R50b: AP-2 has no usage until Mar 9; its time expiry (Mar 1 + 7 days = Mar 8) has passed, so
    it is activated by time and its 2 MB draw from the pool (0 -> 2,000,000 B): $0."""
    rater = make_rater(tmp_path, CATALOG, SUBSCRIPTIONS)
    charged = rated(rater, **_data("S2", "2", "09"))
    assert [(d.level, d.before, d.after) for d in charged.draws] == [("share_plan", 0, 2_000_000)]
    assert charged.total_amount == Decimal("0.00")
    (note,) = charged.notifications
    assert (dict(note.details)["activated_on"], dict(note.details)["reason"]) == ("2026-03-08", "time")


PERIOD_CATALOG = """
owner: {id: OWNER, currency: USD, rate_plan: RP}
usage_classes:
  - {id: SMS, rater: class, unit_type: count}
rate_plans:
  - id: RP
    precision: 2
    rate_groups:
      - {id: G, currency: USD, rates: [{class: SMS, amount: 0.10, per: message}]}
base_buckets:
  - {id: BB-SMS, unit_type: count, details: [{class: SMS}]}
usage_buckets:
  - {id: UB, base_buckets: [BB-SMS], recur_frequency: 1 month, tiers: [{threshold: 1}]}
services:
  - {id: SVC, usage_buckets: [UB]}
packages:
  - {id: PKG, services: [SVC]}
"""

PERIOD_SUBSCRIPTIONS = """
accounts:
  - id: ACC
    time_zone: America/Toronto
    usage_bill_day: 1
    packages:
      - id: AP
        package: PKG
        effective: 2026-03-01
        services: [{id: AS, service: SVC, usage_identifiers: [{uid: "U", start: 2026-03-01}]}]
"""


def test_bill_day_periods_are_read_on_the_account_clock(tmp_path: Path) -> None:
    """R39 + Q8: the usage bill day (1st) is a Toronto day.  2026-04-01T02:00Z is Mar 31 22:00 in Toronto
    (UTC-4), so the record still draws March's one-message allowance: first record free (0 -> 1), this one
    overflows at $0.10 with no draw.  2026-04-01T05:00Z is Apr 1 01:00 in Toronto: April's allowance, free."""
    rater = make_rater(tmp_path, PERIOD_CATALOG, PERIOD_SUBSCRIPTIONS)
    sms = {"usage_identifier": "U", "usage_class": "SMS", "quantity": "1", "unit": None}
    march = rated(rater, **sms, event_time="2026-03-15T12:00:00Z")
    assert [(d.period_start, d.period_end, d.before, d.after) for d in march.draws] == [
        ("2026-03-01", "2026-04-01", 0, 1)
    ]
    late_march = rated(rater, **sms, event_time="2026-04-01T02:00:00Z")
    assert (late_march.draws, late_march.total_amount) == ((), Decimal("0.10"))
    april = rated(rater, **sms, event_time="2026-04-01T05:00:00Z")
    assert [(d.period_start, d.before, d.after) for d in april.draws] == [("2026-04-01", 0, 1)]
    assert april.total_amount == Decimal("0.00")
