"""Billing activation (R49-R53): when a package under billing activation becomes billable, and what waits for it.

A billing-activation bucket sits on a billing activation service (R49).  It is a trigger, not an allowance
(Q11): a record of the package counts toward it through an ``observe`` counter, drawn after the record's
allowances (:func:`activation_of`).  The package is activated by the first of (R50):

* usage: the package's combined usage reaches the threshold (at least 1 base unit, R51, R52), on the day of
  the record that reached it;
* time: its added day plus the time expiry has come (R50b), found by :func:`due_activations` and marked by
  :func:`tick`.

Activation is a mark in the store, set once and never cleared (R51); each first mark raises one
``billing_activation`` notification.  Until its package is activated, a participant draws from no share plan
and contributes to no pool (R53): :func:`activation_gate` is the mark a draw must find set.  The pipeline
learns the marks through :class:`ActivationMarks` (read from the store until seen set).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from rater.catalog import Catalog
from rater.catalog.model import UsageBucket
from rater.eligibility import Eligibility
from rater.events import Notification
from rater.instances import Instance, InstanceIndex
from rater.keys import activation_key
from rater.periods import DayWindow, add_duration
from rater.state import Counter, Draw, Store
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
    """What rating knows of the billing-activation marks (R50-R53): :class:`ActivationMarks`."""

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
    # The activation counter goes after the allowances (rater.prepare); it activates the package by usage
    # at its threshold (R50a, at least 1) or at once when the time expiry has passed (R50b).
    counter = Counter(
        key=activation_key(root, package.id),
        period=0,
        observe=True,
        threshold=max(threshold, 1),
        activate_now=not when.before(due),
    )
    return Activation(instance, package, threshold, due, counter)


def activation_notification(
    account_package: str,
    account: str,
    record_id: str | None,
    activated_on: dt.date,
    reason: str,
    usage: int | None = None,
) -> Notification:
    """R50-R51: a package became billable on ``activated_on``, by ``usage`` or by ``time``; once per package."""
    details: tuple[tuple[str, object], ...] = (
        ("account_package", account_package),
        ("activated_on", activated_on.isoformat()),
        ("reason", reason),
    )
    if usage is not None:
        details += (("usage", usage),)
    return Notification(f"activation:{account_package}", "billing_activation", account, record_id, details)


def activation_notice(record_id: str, account: str, activation: Activation, day: dt.date, draw: Draw) -> Notification:
    """Activated on the record's day by usage, or on added + time expiry when that came first (R50b)."""
    by_time = day >= activation.due
    activated_on = activation.due if by_time else day
    reason = "time" if by_time else "usage"
    return activation_notification(activation.account_package.id, account, record_id, activated_on, reason, draw.after)


@dataclass(frozen=True)
class DueActivation:
    """A package whose billing activation by time is due (R50b); ``key`` holds its ``activated`` mark."""

    key: str
    account_package: str
    account: str
    due: dt.date
    root: str

    def notification(self) -> Notification:
        return activation_notification(self.account_package, self.account, None, self.due, "time")


def due_activations(index: InstanceIndex, moment: dt.datetime) -> list[DueActivation]:
    """Packages whose billing activation by time (R50b) is due at ``moment`` (pure: the caller marks
    each in the store, and only a first mark raises a notification)."""
    subscriptions = index.subscriptions
    due_list: list[DueActivation] = []
    for package_id, entries in index.activation_index.items():
        for instance, package in entries:
            account = subscriptions.accounts[instance.holder]
            day = moment.astimezone(subscriptions.zone(account.id)).date()
            bucket = instance.bucket
            assert isinstance(bucket, UsageBucket)
            assert bucket.billing_activation is not None
            due = add_duration(package.effective, bucket.billing_activation.time_expiry)
            if day >= due:
                key = activation_key(index.root(account.id), package_id)
                due_list.append(DueActivation(key, package_id, account.id, due, index.root(account.id)))
    return due_list


@dataclass
class ActivationMarks:
    """What a rating pipeline knows of the billing-activation marks of one configuration (R50-R53).

    A mark, once set, is never cleared, so a package seen activated stays so: it is read from the store only
    until it is seen set.  ``epoch(root)`` counts the packages of a root known activated; the rating core
    memoises resolutions per epoch (:func:`rater.prepare.prepare`)."""

    packages: dict[str, list[str]]
    """Account-packages under billing activation, by sharing root."""
    known: set[tuple[str, str]] = field(default_factory=set)
    epochs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, index: InstanceIndex) -> ActivationMarks:
        packages: dict[str, list[str]] = {}
        for package_id, entries in index.activation_index.items():
            for instance, _ in entries[:1]:
                packages.setdefault(index.root(instance.holder), []).append(package_id)
        return cls(packages)

    def activated(self, root: str, account_package: str) -> bool:
        return (root, account_package) in self.known

    def epoch(self, root: str) -> int:
        return self.epochs.get(root, 0)

    def learn(self, root: str, account_package: str) -> None:
        if (root, account_package) not in self.known:
            self.known.add((root, account_package))
            self.epochs[root] = self.epochs.get(root, 0) + 1

    def unknown(self, roots: Iterable[str]) -> list[tuple[str, str]]:
        """(root, account-package) of ``roots`` whose mark is not known to be set."""
        return [
            (root, package)
            for root in roots
            for package in self.packages.get(root, ())
            if (root, package) not in self.known
        ]

    async def refresh(self, store: Store, roots: Iterable[str]) -> None:
        """Read the marks not yet known set of ``roots`` (one round trip, none when there are none)."""
        unknown = self.unknown(set(roots))
        if unknown:
            found = await store.marked([activation_key(root, package) for root, package in unknown], ACTIVATED)
            for (root, package), is_set in zip(unknown, found, strict=True):
                if is_set:
                    self.learn(root, package)


_MARKS: weakref.WeakKeyDictionary[InstanceIndex, ActivationMarks] = weakref.WeakKeyDictionary()


def activation_marks(index: InstanceIndex) -> ActivationMarks:
    """The marks known to the pipelines of one configuration's instances (a provisioning change builds a
    new index, and its marks are read afresh)."""
    marks = _MARKS.get(index)
    if marks is None:
        marks = _MARKS[index] = ActivationMarks.of(index)
    return marks


async def tick(index: InstanceIndex, store: Store, moment: dt.datetime) -> list[Notification]:
    """The time-driven rules at ``moment`` against an async store (billing activation by time, R50b):
    each due package is marked once, and only the first mark, by whichever worker, raises a notification."""
    notes: list[Notification] = []
    marks = activation_marks(index)
    for due in due_activations(index, moment):
        if await store.mark(due.key, ACTIVATED, 1):
            notes.append(due.notification())
        marks.learn(due.root, due.account_package)
    return notes
