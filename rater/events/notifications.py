"""Notifications (``notification/1``): a configured percentage of a tier reached (R66), or a package's
billing activation (R50-R51).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOTIFICATION_SCHEMA = "notification/1"


@dataclass(frozen=True, slots=True)
class Notification:
    """A configured percentage of a tier reached (R66) or a package's billing activation (R50-R51)."""

    notification_id: str
    kind: str
    account: str
    record_id: str | None
    details: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": NOTIFICATION_SCHEMA,
            "notification_id": self.notification_id,
            "kind": self.kind,
            "account": self.account,
            "record_id": self.record_id,
            **dict(self.details),
        }
