"""Every state-store key, built in one place (style habit 4).

Each key carries the hash tag ``{root}`` of its sharing scope (the accounts linked by parent or usage
invoicer, :func:`rater.instances.sharing_roots`), so every key one record's draw touches hashes to one Redis
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


def claim_key(record_id: str) -> str:
    """The fingerprint of the first record seen with this id, across every sharing root (R1: one outcome per
    record id).  No hash tag of a root: a record id is global, and the claim is a single-key command."""
    return f"{PREFIX}:claim:{record_id}"


def config_key(app: str, part: str) -> str:
    """The configuration in force of deployment ``app`` (its consumer group): ``version`` (a counter),
    ``catalog`` (the catalog document, JSON), ``accounts`` (a hash: account id -> account JSON), ``log`` (the
    latest applied operations).  One hash tag per deployment, so a compare-and-set spans them all."""
    return f"{PREFIX}:{{config:{app}}}:{part}"


def operation_key(app: str, operation: str) -> str:
    """The stored result of one provisioning operation, by its id (idempotence)."""
    return f"{PREFIX}:{{config:{app}}}:operation:{operation}"


def settlement_key(app: str, operation: str) -> str:
    """The ``rated-adjustment/1`` events a provisioning operation settled (R41), as published, by its id: a
    retried operation publishes these again, byte for byte."""
    return f"{PREFIX}:{{config:{app}}}:settlement:{operation}"


def exception_key(app: str, part: str) -> str:
    """The rating-exception index of deployment ``app``: ``entry:<record id>`` (a hash per exception),
    ``at`` (a sorted set of record ids by the time the exception was raised, ms), ``type:<type>`` and
    ``account:<account>`` (the same, per type and per account).  One hash tag: exceptions are few."""
    return f"{PREFIX}:{{exceptions:{app}}}:{part}"
