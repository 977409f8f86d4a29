"""Tier crossings (``tier-crossing/1``): a tier entered, the last tier started again, or the allowance
exhausted by one record (R15-R19).  A crossing is an edge: its ``crossing_id`` (bucket instance, period,
kind, tier, repeat) fires once per crossing per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIER_CROSSING_SCHEMA = "tier-crossing/1"


@dataclass(frozen=True, slots=True)
class TierCrossing:
    """A tier entered (or a repeat of the last tier, or the allowance exhausted) by one record (R15-R19).

    ``crossing_id`` is (bucket instance, period, tier, repeat): it fires once per crossing per period.
    """

    record_id: str
    account: str
    bucket_instance: str
    bucket: str
    share_plan: str | None
    period_start: str
    period_end: str
    tier: int
    repeat: int
    kind: str
    """``tier`` (entered), ``repeat`` (the last tier started again) or ``exhausted`` (usage now overflows)."""
    at: int
    """Counter value at the crossing: the first unit in the new tier, or the allowance when exhausted."""
    consumed: int
    event_time: str

    @property
    def crossing_id(self) -> str:
        return f"{self.bucket_instance}:{self.period_start}:{self.kind}:{self.tier}:{self.repeat}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TIER_CROSSING_SCHEMA,
            "crossing_id": self.crossing_id,
            "record_id": self.record_id,
            "account": self.account,
            "bucket_instance": self.bucket_instance,
            "bucket": self.bucket,
            "share_plan": self.share_plan,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "kind": self.kind,
            "tier": self.tier,
            "repeat": self.repeat,
            "at": self.at,
            "consumed": self.consumed,
            "event_time": self.event_time,
        }
