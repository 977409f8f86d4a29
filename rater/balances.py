"""Balances: what is left of every allowance, per account-service, per account and per share plan.

The read side of rating, as a pure function: from the catalog, the subscriptions, the counter fields of the
store (:mod:`rater.state`: ``c:<p>`` consumed, ``r:<p>`` rollover carried in, ``l:<p>:<participant>``
participation used, ``latest``) and a moment, it computes per bucket instance the period containing the
moment, the allowance, what was used, what remains, the current tier and repeat.  Nothing here reads a
clock or a store: the caller says which keys to read (:attr:`Selection.keys`, all under one sharing root's
hash tag, so one atomic read serves a whole view), reads them, and passes their fields in.

The numbers are the rating core's own, never a second implementation of them:

* the period is the instance's period on the moment's local day (R35-R39; end exclusive), and the tiers
  and counter are built by :meth:`rater.consumption.Resolver.allotment` exactly as for a record of that day:
  tier 1 prorated (R40, R41), share-plan pool sizes from contributions and add-ons (R59, R60, R64);
* the rollover carry is the stored one, or the one the period's first draw will fix (R36,
  :func:`rater.state.pending_carry`);
* tier j covers (E(j-1), E(j)] (R15); the current tier is the one the last used unit fell in, 0 before any
  usage; past the last tier a repeating bucket counts repeats (R19a), a non-repeating one is exhausted and
  its remaining is 0 (R19b);
* a share-plan pool lists its participant instances with their participation limit and what they used of
  it this period (R61); the store counts every participant's use, so ``used`` is always a number, and
  ``limit`` and ``remaining`` are ``None`` for a participant without a limit.

The store keeps a counter's fields for its latest period and ``retain`` (3) periods before it
(:mod:`rater.state`); a view of an older period reads it as unused.

Quantities are integers in base units: ``ms``, ``B``, ``event``, and micro-units of the holder's currency
for money buckets (R45).  ``allowance`` and ``remaining`` are ``None`` when the last tier repeats: there is
no end to it (R19a).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rater.catalog import Catalog
from rater.catalog.model import ParticipatingType
from rater.consumption import Resolver, same_level_order
from rater.events import utc_text
from rater.instances import FAR, Instance
from rater.keys import activation_key
from rater.memory_store import pending_carry
from rater.subscriptions import Account, Subscriptions
from rater.tiers import tier_at
from rater.units import BASE_UNIT, UnitType

Fields = Mapping[str, Mapping[str, int]]
"""Counter hash fields by store key, as read from the store (a missing key: nothing drawn yet)."""


class UnknownSubject(LookupError):
    """The account, account-service or account share plan asked for does not exist."""


@dataclass(frozen=True, slots=True)
class Participation:
    """One participant instance of a share-plan pool (R61): its use of the pool this period and its limit."""

    participant: str
    """The participant instance: an account-service (or an account-package for package-level plans)."""
    catalog_participant: str
    """The catalog service (or package) that makes it a participant (R55)."""
    account: str
    used: int
    limit: int | None
    """``None``: no participation limit (the participant is counted, never capped)."""

    @property
    def remaining(self) -> int | None:
        if self.limit is None:
            return None
        return max(0, self.limit - self.used)

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant,
            "catalog_participant": self.catalog_participant,
            "account": self.account,
            "used": self.used,
            "limit": self.limit,
            "remaining": self.remaining,
        }


@dataclass(frozen=True, slots=True)
class BucketBalance:
    """One bucket instance in the period containing the moment."""

    bucket_instance: str
    bucket: str
    level: str
    """``account_service``, ``account``, ``parent`` or ``share_plan`` (R11), seen from the view's subject."""
    holder: str
    share_plan: str | None
    money: bool
    unit_type: str
    unit: str
    period_start: dt.date
    period_end: dt.date | None
    """End exclusive; ``None`` for a nonrecurring bucket that never expires."""
    tiers: tuple[int, ...]
    """Tier sizes this period in base units, rollover carry in tier 1 (R36)."""
    repeats: bool
    carry: int
    allowance: int | None
    used: int
    remaining: int | None
    tier: int
    repeat: int
    account_service: str | None = None
    """For ``account_service`` level instances in an account view: the account-service holding it."""
    participation: Participation | None = None
    """In a service view, the service's own participation in a share-plan pool."""
    participants: tuple[Participation, ...] = ()
    """In account and share-plan views, every participant instance of a share-plan pool."""

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "bucket_instance": self.bucket_instance,
            "bucket": self.bucket,
            "level": self.level,
            "holder": self.holder,
            "share_plan": self.share_plan,
            "money": self.money,
            "unit_type": self.unit_type,
            "unit": self.unit,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "tiers": list(self.tiers),
            "repeats": self.repeats,
            "carry": self.carry,
            "allowance": self.allowance,
            "used": self.used,
            "remaining": self.remaining,
            "tier": self.tier,
            "repeat": self.repeat,
        }
        if self.account_service is not None:
            body["account_service"] = self.account_service
        if self.participation is not None:
            body["participation"] = self.participation.to_dict()
        if self.share_plan is not None and self.participation is None:
            body["participants"] = [p.to_dict() for p in self.participants]
        return body


@dataclass(frozen=True, slots=True)
class _Entry:
    instance: Instance
    level: str
    account_service: str | None = None
    participant: tuple[str, str] | None = None
    """(catalog participant, participant instance) of the subject service in a share plan."""
    participant_account: str = ""
    pool: bool = False


@dataclass(frozen=True)
class Selection:
    """What one view shows and which store keys it needs (all under ``root``'s hash tag)."""

    kind: str
    subject: Mapping[str, str]
    root: str
    zone_account: str
    entries: tuple[_Entry, ...]
    keys: tuple[str, ...]


@dataclass(frozen=True)
class BalanceView:
    kind: str
    subject: Mapping[str, str]
    at: dt.datetime
    day: dt.date
    buckets: tuple[BucketBalance, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.subject,
            "at": utc_text(self.at),
            "day": self.day.isoformat(),
            "buckets": [bucket.to_dict() for bucket in self.buckets],
        }


class Balances:
    """Selections and views over one (catalog, subscriptions); reuses the rating core's resolver."""

    def __init__(self, catalog: Catalog, subscriptions: Subscriptions, resolver: Resolver | None = None) -> None:
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.resolver = resolver if resolver is not None else Resolver(catalog, subscriptions)

    # -- what to show --------------------------------------------------------------------------------------

    def account(self, account_id: str) -> Selection:
        """The buckets an account holds: its account-services' own (level 1), its account-level ones (level
        2) and the pools of the share plans it holds, with every participant (R11, R57)."""
        account = self._account(account_id)
        entries: list[_Entry] = []
        for package in account.packages:
            for service in package.services:
                entries += [
                    _Entry(instance, "account_service", account_service=service.id)
                    for instance in self._ordered(self.resolver.index.service_instances(service.id))
                ]
        entries += [_Entry(i, "account") for i in self._ordered(self.resolver.index.account_instances(account.id))]
        entries += [_Entry(i, "share_plan", pool=True) for i in self.resolver.index.share_instances(account.id)]
        return self._selection("account", {"account": account.id}, account.id, entries)

    def service(self, account_service: str) -> Selection:
        """Everything an account-service may draw from, in consumption order (R11-R13): its own buckets, the
        account's, the parent's, then the share plans in scope in tie-break order (R12, R57), each with the
        service's own participation (R61), as :meth:`rater.pools.Pools.share_plans_serving` lists them for
        rating; money buckets last (R46)."""
        owner = self.subscriptions.services.get(account_service)
        if owner is None:
            raise UnknownSubject(f"no account-service {account_service!r}")
        account = owner.account
        service_id = owner.service.id
        entries = [
            _Entry(i, "account_service") for i in self._ordered(self.resolver.index.service_instances(service_id))
        ]
        entries += [
            _Entry(i, "account")
            for i in self._ordered(self.resolver.index.account_instances(account.id))
            if i.carriers is None or service_id in i.carriers
        ]
        if account.parent is not None:
            entries += [
                _Entry(i, "parent") for i in self._ordered(self.resolver.index.account_instances(account.parent))
            ]
        entries += [
            _Entry(instance, "share_plan", participant=participant, participant_account=account.id)
            for instance, participant in self.resolver.pools.share_plans_serving(owner)
        ]
        entries = [e for e in entries if not e.instance.bucket.money] + [e for e in entries if e.instance.bucket.money]
        subject = {"account_service": service_id, "service": owner.service.service, "account": account.id}
        return self._selection("service", subject, account.id, entries)

    def share_plan(self, holder: str, share_plan: str) -> Selection:
        """The pools of one account share plan (R59), with every participant instance's use and limit (R61)."""
        account = self._account(holder)
        entries = [
            _Entry(i, "share_plan", pool=True)
            for i in self.resolver.index.share_instances(account.id)
            if i.share_plan is not None and i.share_plan.id == share_plan
        ]
        if not entries:
            raise UnknownSubject(f"account {holder!r} holds no share plan {share_plan!r}")
        return self._selection("share_plan", {"account": account.id, "share_plan": share_plan}, account.id, entries)

    # -- the numbers ---------------------------------------------------------------------------------------

    def view(self, selection: Selection, fields: Fields, moment: dt.datetime) -> BalanceView:
        """The balances of ``selection`` at ``moment`` (timezone-aware) from the counter ``fields``.

        The moment picks the period: the one containing its local day in the subject account's time zone,
        as a record of that moment would be rated (architecture property 3).  Instances not active that day
        (before their effective day, from their cancel day, expired; R10) are left out.
        """
        if moment.tzinfo is None:
            raise ValueError("the moment needs a time zone")
        try:
            day = moment.astimezone(self.subscriptions.zone(selection.zone_account)).date()
        except OverflowError:  # within hours of year 1 or 9999: the day as written
            day = moment.date()
        root = selection.root

        def activated(scope_root: str, account_package: str) -> bool:
            return "activated" in fields.get(activation_key(scope_root, account_package), {})

        buckets = [
            balance
            for entry in selection.entries
            for balance in [self._balance(entry, fields, day, activated)]
            if balance is not None
        ]
        assert all(self.resolver.index.root(b.holder) == root for b in buckets)
        return BalanceView(selection.kind, selection.subject, moment, day, tuple(buckets))

    def _balance(
        self, entry: _Entry, fields: Fields, day: dt.date, activated: Callable[[str, str], bool]
    ) -> BucketBalance | None:
        instance = entry.instance
        try:
            period = instance.period(self.catalog, day)
            if period is None:
                return None
            tiers, counter = self.resolver.allotment(instance, period, day, activated)
        except (OverflowError, ValueError):  # the period would end after year 9999: no calendar holds it
            return None
        state = fields.get(counter.key, {})
        carry = pending_carry(state, counter)
        used = state.get(f"c:{period.index}", 0)
        sizes = tiers.with_carry(carry)
        allowance = None if tiers.repeats else sum(sizes)
        tier, repeat = tier_at(sizes, tiers.repeats, used)
        unit_type = self.catalog.bucket_unit_type(instance.bucket)
        holder = self.subscriptions.accounts[instance.holder]
        participation = None
        if entry.participant is not None:
            participation = self._participation(
                instance, entry.participant, entry.participant_account, state, period.index
            )
        participants: tuple[Participation, ...] = ()
        if entry.pool:
            participants = tuple(
                self._participation(instance, (catalog_id, instance_id), account_id, state, period.index)
                for catalog_id, instance_id, account_id in self._participants(instance, day)
            )
        return BucketBalance(
            bucket_instance=instance.id,
            bucket=instance.bucket.id,
            level=entry.level,
            holder=instance.holder,
            share_plan=instance.share_plan_id,
            money=instance.bucket.money,
            unit_type=unit_type.value,
            unit=f"micro-{holder.currency}" if unit_type is UnitType.MONEY else BASE_UNIT[unit_type],
            period_start=period.start,
            period_end=None if period.end == FAR else period.end,
            tiers=sizes,
            repeats=tiers.repeats,
            carry=carry,
            allowance=allowance,
            used=used,
            remaining=None if allowance is None else max(0, allowance - used),
            tier=tier,
            repeat=repeat,
            account_service=entry.account_service,
            participation=participation,
            participants=participants,
        )

    def _participation(
        self, instance: Instance, participant: tuple[str, str], account: str, state: Mapping[str, int], index: int
    ) -> Participation:
        limit = self.resolver.pools.participation_limit(instance, participant[0])
        used = state.get(f"l:{index}:{participant[1]}", 0)
        return Participation(participant[1], participant[0], account, used, limit)

    def _participants(self, instance: Instance, day: dt.date) -> list[tuple[str, str, str]]:
        """(catalog participant, participant instance, account) of every instance taking part on ``day``
        (R55, R57), in subscription order."""
        plan = instance.share_plan
        assert plan is not None
        found: list[tuple[str, str, str]] = []
        for account in self.resolver.pools.scope(instance):
            for package in account.packages:
                # (catalog participant, participant instance, effective, cancel)
                targets: list[tuple[str, str, dt.date, dt.date | None]]
                if plan.participating_type is ParticipatingType.PACKAGE:
                    targets = [(package.package, package.id, package.effective, package.cancel)]
                else:
                    targets = [
                        (service.service, service.id, context.effective, context.cancel)
                        for service in package.services
                        for context in [self.subscriptions.services[service.id]]
                    ]
                for catalog_id, instance_id, effective, cancel in targets:
                    active = effective <= day and (cancel is None or day < cancel)
                    if catalog_id in plan.participants and active and self.resolver.pools.serves(instance, catalog_id):
                        found.append((catalog_id, instance_id, account.id))
        return found

    # -- helpers -------------------------------------------------------------------------------------------

    def _ordered(self, instances: Sequence[Instance]) -> list[Instance]:
        """R13: in consumption order within one level (:func:`rater.consumption.same_level_order`)."""
        return sorted(instances, key=same_level_order(self.catalog))

    def _account(self, account_id: str) -> Account:
        account = self.subscriptions.accounts.get(account_id)
        if account is None:
            raise UnknownSubject(f"no account {account_id!r}")
        return account

    def _selection(self, kind: str, subject: dict[str, str], zone_account: str, entries: list[_Entry]) -> Selection:
        root = self.resolver.index.root(zone_account)
        keys = {self.resolver.index.allotment_key(entry.instance) for entry in entries}
        if any(entry.instance.share_plan is not None for entry in entries):
            # Pool sizes count contributions of activated billing-activation packages only (R53).
            keys |= {
                activation_key(root, package_id)
                for package_id, pairs in self.resolver.index.activation_index.items()
                if any(self.resolver.index.root(instance.holder) == root for instance, _ in pairs)
            }
        return Selection(kind, subject, root, zone_account, tuple(entries), tuple(sorted(keys)))
