"""Every state-store key, built in one place (style habit 4).

Each key carries the hash tag ``{root}`` of its sharing scope (the accounts linked by parent or usage
invoicer, :func:`rater.buckets.sharing_roots`), so every key one record's draw touches hashes to one Redis
Cluster slot (architecture property 5).
"""

from __future__ import annotations

PREFIX = "rater"


def bucket_key(root: str, instance: str) -> str:
    """A bucket instance's counters: one hash, fields per period (``c:``, ``r:``, ``a:``, ``l:``)."""
    return f"{PREFIX}:{{{root}}}:bucket:{instance}"


def activation_key(root: str, account_package: str) -> str:
    """An account-package's billing-activation counter and its ``activated`` mark (R49-R53)."""
    return f"{PREFIX}:{{{root}}}:activation:{account_package}"


def record_key(root: str, record_id: str) -> str:
    """The stored draw-down result of one record, for redelivery (R1)."""
    return f"{PREFIX}:{{{root}}}:record:{record_id}"
