"""Billing activation (R49-R53): when a package under billing activation becomes billable, and what waits for it.

A billing-activation bucket sits on a billing activation service (R49).  It is a trigger, not an allowance
(Q11): a record of the package counts toward it through an ``observe`` counter, drawn after the record's
allowances (:func:`activation_of`).  The package is activated by the first of (R50):

* usage: the package's combined usage reaches the threshold (at least 1 base unit, R51, R52), on the day of
  the record that reached it;
* time: its added day plus the time expiry has come (R50b).

Activation is a mark in the store, set once and never cleared (R51); each first mark raises one
``billing_activation`` notification.  Until its package is activated, a participant draws from no share plan
and contributes to no pool (R53): :func:`activation_gate` is the mark a draw must find set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from rater.catalog import Catalog
from rater.catalog.model import UsageBucket
from rater.eligibility import Eligibility
from rater.instances import Instance, InstanceIndex
from rater.keys import activation_key
from rater.periods import DayWindow, add_duration
from rater.state import Counter
from rater.subscriptions import AccountPackage

#: The field of an activation hash that says the package is activated (R51).
ACTIVATED = "activated"


@dataclass(frozen=True, slots=True)
class Activation:
    """A billing-activation trigger the record counts toward (R49-R52)."""

    instance: Instance
    account_package: AccountPackage
    threshold: int
    due: dt.date
    """The package's added day + time expiry: activation by time (R50b)."""
    counter: Counter


class ActivationState(Protocol):
    """What rating knows of the billing-activation marks (R50-R53): :class:`rater.batch.ActivationMarks`."""

    def activated(self, root: str, account_package: str) -> bool:
        """Has usage (or time) activated ``account_package`` of sharing root ``root`` (its mark is set)?"""
        ...

    def epoch(self, root: str) -> int:
        """A number that changes whenever the activation state of ``root`` does."""
        ...


class NoActivations:
    """The activation state before any mark is set."""

    def activated(self, root: str, account_package: str) -> bool:
        return False

    def epoch(self, root: str) -> int:
        return 0


def activation_gate(
    index: InstanceIndex, package: AccountPackage, root: str, when: DayWindow
) -> tuple[str, str] | None:
    """R53: a package holding a billing activation service takes part in share plans only once activated.
    ``None`` when it has no activation bucket or its time expiry has passed (activated by time, R50b);
    otherwise the (key, field) the draw must find set: the mark a usage activation leaves."""
    entries = index.activation_index.get(package.id)
    if not entries:
        return None
    dues = []
    for instance, _ in entries:
        bucket = instance.bucket
        assert isinstance(bucket, UsageBucket)
        assert bucket.billing_activation is not None
        dues.append(add_duration(package.effective, bucket.billing_activation.time_expiry))
    if not when.before(min(dues)):
        return None
    return activation_key(root, package.id), ACTIVATED


def activation_of(
    catalog: Catalog,
    eligibility: Eligibility,
    instance: Instance,
    package: AccountPackage,
    root: str,
    usage_class: str,
    location: str | None,
    when: DayWindow,
) -> Activation | None:
    """The trigger of billing-activation ``instance`` of ``package`` for a record of ``usage_class`` at
    ``location`` (R49-R52); ``None`` when the record is not eligible for it (R6) or the package is not yet
    added on the record's day."""
    bucket = instance.bucket
    assert isinstance(bucket, UsageBucket)
    activation = bucket.billing_activation
    assert activation is not None
    if not eligibility.eligible(bucket, usage_class, location) or when.before(package.effective):
        return None
    threshold = catalog.quantities.of(bucket).activation_threshold
    assert threshold is not None
    due = add_duration(package.effective, activation.time_expiry)
    # The activation counter goes after the allowances (rater.engine); it activates the package by usage
    # at its threshold (R50a, at least 1) or at once when the time expiry has passed (R50b).
    counter = Counter(
        key=activation_key(root, package.id),
        period=0,
        observe=True,
        threshold=max(threshold, 1),
        activate_now=not when.before(due),
    )
    return Activation(instance, package, threshold, due, counter)
