"""Pricing a draw: a prepared record and its draw result to its outcome (domain-spec §2.0, after the draw).

:func:`finish` prices what each allowance took: tier entries and their flat charges, once per period (R17),
the rates of tier rate plans (R18), repeats of the last tier (R19a), tier crossings and threshold
notifications (R66), billed to the holder's usage invoicer or, for share plans, to the plan's holder (R65).
What no allowance took overflows to the record's rate plan (R19b, R24-R30; a missing rate is the record's
exception only now, Q6).  When money buckets may pay for the overflow, :func:`finish` asks for a second
draw by value (:class:`MoneyDue`) and :func:`finish_money` prices it (R46).  Billing activations the draw
set raise their notification (R50, R51).

Pure: the draw result is a parameter (:mod:`rater.state`), nothing here touches a store or reads a clock.
Rate-plan selection and charge arithmetic are :mod:`rater.pricing`; tier arithmetic is :mod:`rater.tiers`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal

from rater.activation import activation_notice
from rater.allotments import Candidate
from rater.events import BucketDraw, ChargeLine, Notification, RatedCharge, TierCrossing, TierPart, utc_text
from rater.instances import Instance
from rater.prepare import Prepared
from rater.pricing import PlanChoice, RateMatch, charge, find_rate
from rater.rating import Rater
from rater.state import UNLIMITED, Counter, Draw, DrawResult
from rater.tiers import percent_crossings, reached, slices
from rater.units import BASE_UNIT, MONEY_SCALE


@dataclass
class Priced:
    """What pricing one record accumulates."""

    record_id: str
    account: str
    when: dt.datetime
    lines: list[ChargeLine] = field(default_factory=list)
    draws: list[BucketDraw] = field(default_factory=list)
    crossings: list[TierCrossing] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)


@dataclass
class MoneyDue:
    """The overflow is priced and money buckets must pay: the second draw, by value in micro-units (R46)."""

    prepared: Prepared
    priced: Priced
    value: int
    record_key: str
    counters: list[Counter]

    @property
    def requested(self) -> int:
        """What the money draw asks for: ``value``, capped below 2^53 so the kernel counts it exactly (a
        money bucket never holds that much, so the cap never changes what is taken)."""
        return min(self.value, UNLIMITED - 1)


def finish(rater: Rater, prepared: Prepared, result: DrawResult) -> RatedCharge | MoneyDue:
    """Price a draw (pure): tiers, flat charges, tier rate plans, overflow; or ask for the money draw."""
    record = prepared.record
    account = prepared.owner.account
    resolution = prepared.resolution
    activations = resolution.activations
    when = record.event_time
    invoicer = rater.subscriptions.usage_invoicer(account)
    priced = Priced(record.record_id, account.id, when)
    units = len(resolution.units)
    for candidate, draw in zip(resolution.units, result.draws[:units], strict=True):
        price_bucket(rater, priced, candidate, draw, prepared.usage_class.id, prepared.location, when, prepared.local)
    for activation, draw in zip(activations, result.draws[units:], strict=True):
        if draw.marked:
            day = prepared.local.date()
            priced.notifications.append(activation_notice(record.record_id, account.id, activation, day, draw))
    if result.remaining > 0:
        match = prepared.match
        if match is None:
            assert prepared.missing is not None
            raise prepared.missing
        unit_type = prepared.usage_class.unit_type
        amount = charge(match.rate, unit_type, result.remaining, match.choice.plan.precision)
        priced.lines.append(rate_plan_line(match, result.remaining, amount, invoicer.id))
        if resolution.money and amount > 0:
            value = int((amount * MONEY_SCALE).to_integral_value(rounding=ROUND_DOWN))
            counters = [c.counter for c in resolution.money]
            return MoneyDue(prepared, priced, value, prepared.money_key, counters)
    return _charge(rater, prepared, priced, Decimal(0))


def finish_money(rater: Rater, due: MoneyDue, result: DrawResult) -> RatedCharge:
    """R46: the priced overflow paid from money buckets in order, as far as their balance goes."""
    priced = due.priced
    for candidate, draw in zip(due.prepared.resolution.money, result.draws, strict=True):
        if draw.taken:
            priced.draws.append(_bucket_draw(candidate, draw))
            limit = draw.allowance
            if limit is not None and draw.before < limit <= draw.after:
                _CrossingFactory(priced, candidate, draw, priced.when).add("exhausted", 2, 0, limit)
    return _charge(rater, due.prepared, priced, Decimal(due.requested - result.remaining) / MONEY_SCALE)


def _charge(rater: Rater, prepared: Prepared, priced: Priced, money_drawn: Decimal) -> RatedCharge:
    record = prepared.record
    owner = prepared.owner
    account = owner.account
    usage_class = prepared.usage_class
    return RatedCharge(
        record_id=record.record_id,
        usage_identifier=record.usage_identifier,
        account=account.id,
        account_service=owner.service.id,
        service=owner.service.service,
        account_package=owner.package.id,
        package=owner.package.package,
        usage_invoicer=rater.subscriptions.usage_invoicer(account).id,
        usage_class=usage_class.id,
        unit_type=usage_class.unit_type.value,
        unit=BASE_UNIT[usage_class.unit_type],
        quantity=prepared.quantity,
        billable_quantity=prepared.billable,
        event_time=prepared.event_time,
        location=prepared.location,
        draws=tuple(priced.draws),
        charges=tuple(priced.lines),
        money_drawn=money_drawn,
        crossings=tuple(priced.crossings),
        notifications=tuple(priced.notifications),
        currency=account.currency,
    )


def price_bucket(
    rater: Rater,
    priced: Priced,
    candidate: Candidate,
    draw: Draw,
    usage_class: str,
    location: str | None,
    when: dt.datetime,
    local: dt.datetime,
    due: int | None = None,
) -> None:
    """Tier entries, flat charges, tier rate plans, crossings and notifications of one draw (R15-R19, R66).

    A tier occurrence is entered, its flat charge due and its crossing announced, once per period
    (R17): when its ordinal (rater.tiers) lies above ``draw.entered``, the ordinal the period had
    entered before this draw (the store keeps it; ``None``: what ``before`` reaches), and ``after``
    reaches it, so tier boundaries that move within a period (R59, R60, R64) never bill a tier twice.
    ``due`` overrides the ordinal entered after the draw (a cancellation re-prices a period, R41)."""
    instance = candidate.instance
    if draw.taken == 0 and due is None:
        return
    tiers = candidate.tiers
    sizes = tiers.with_carry(draw.carry)
    repeats = tiers.repeats
    entered = draw.entered if draw.entered is not None else reached(sizes, repeats, draw.before)
    if due is None:
        due = max(entered, reached(sizes, repeats, draw.after))
    billed_to = _bucket_payer(rater, instance)
    crossing = _CrossingFactory(priced, candidate, draw, when)
    breakdown: list[TierPart] = []
    for part in slices(sizes, repeats, draw.before, draw.after, entered, due):
        index = part.tier - 1
        flat = tiers.flat_charges[index] if part.entered else Decimal(0)
        rated = Decimal(0)
        if part.entered:
            if flat > 0:
                priced.lines.append(
                    ChargeLine(
                        type="flat_charge",
                        quantity=0,
                        amount=flat,
                        billed_to=billed_to,
                        bucket_instance=instance.id,
                        tier=part.tier,
                        repeat=part.repeat,
                    )
                )
            if part.start > 0:
                crossing.add("repeat" if part.repeat else "tier", part.tier, part.repeat, part.start + 1)
        plan_id = tiers.rate_plans[index]
        if plan_id is not None and part.quantity > 0:
            catalog = rater.catalog
            account = rater.subscriptions.accounts[instance.holder]
            tier_match = find_rate(
                catalog,
                PlanChoice(catalog.rate_plans[plan_id], "bucket_tier", instance.id),
                currency=account.currency,
                usage_class=usage_class,
                location=location,
                when=when,
                local=local,
                account=account.id,
            )
            amount = charge(tier_match.rate, candidate.unit_type, part.quantity, tier_match.choice.plan.precision)
            rated = amount
            line = rate_plan_line(tier_match, part.quantity, amount, billed_to)
            priced.lines.append(
                replace(line, type="tier_rate", bucket_instance=instance.id, tier=part.tier, repeat=part.repeat)
            )
        breakdown.append(TierPart(part.tier, part.repeat, part.quantity, flat, flat + rated))
    priced.draws.append(_bucket_draw(candidate, draw, tuple(breakdown)))
    if not repeats and entered <= len(sizes) < due:  # ordinal k + 1: the allowance is used up (R19b)
        crossing.add("exhausted", len(sizes) + 1, 0, sum(sizes))
    for tier, repeat, percent in percent_crossings(
        sizes, tiers.repeats, draw.before, draw.after, instance.bucket.notify_at_percent
    ):
        priced.notifications.append(
            Notification(
                notification_id=f"{instance.id}:{candidate.period.start}:{tier}:{repeat}:{percent}",
                kind="threshold",
                account=instance.holder,
                record_id=priced.record_id,
                details=(
                    ("bucket_instance", instance.id),
                    ("bucket", instance.bucket.id),
                    ("period_start", candidate.period.start.isoformat()),
                    ("tier", tier),
                    ("repeat", repeat),
                    ("percent", percent),
                ),
            )
        )


def _bucket_payer(rater: Rater, instance: Instance) -> str:
    """R65: share-plan charges go to the account holding the plan; other bucket charges to the holder's
    usage invoicer."""
    if instance.level == "share_plan":
        return instance.holder
    subscriptions = rater.subscriptions
    return subscriptions.usage_invoicer(subscriptions.accounts[instance.holder]).id


@dataclass
class _CrossingFactory:
    priced: Priced
    candidate: Candidate
    draw: Draw
    when: dt.datetime

    def add(self, kind: str, tier: int, repeat: int, at: int) -> None:
        instance = self.candidate.instance
        self.priced.crossings.append(
            TierCrossing(
                record_id=self.priced.record_id,
                account=instance.holder,
                bucket_instance=instance.id,
                bucket=instance.bucket.id,
                share_plan=instance.share_plan_id,
                period_start=self.candidate.period.start.isoformat(),
                period_end=period_end(self.candidate.period.end),
                tier=tier,
                repeat=repeat,
                kind=kind,
                at=at,
                consumed=self.draw.after,
                event_time=utc_text(self.when),
            )
        )


def period_end(day: dt.date) -> str:
    """A period's end day as events write it: empty for a period that never ends."""
    return "" if day == dt.date.max else day.isoformat()


def _bucket_draw(candidate: Candidate, draw: Draw, tiers: tuple[TierPart, ...] = ()) -> BucketDraw:
    instance = candidate.instance
    return BucketDraw(
        bucket_instance=instance.id,
        bucket=instance.bucket.id,
        level=candidate.level,
        holder=instance.holder,
        share_plan=instance.share_plan_id,
        participant=candidate.participant,
        period_start=candidate.period.start.isoformat(),
        period_end=period_end(candidate.period.end),
        quantity=draw.taken,
        before=draw.before,
        after=draw.after,
        allowance=draw.allowance,
        carry=draw.carry,
        money=instance.bucket.money,
        tiers=tiers,
    )


def rate_plan_line(match: RateMatch, quantity: int, amount: Decimal, billed_to: str) -> ChargeLine:
    """A charge line priced at a rate plan's rate (R24-R30): the plan, its level, group, rate and rounding."""
    return ChargeLine(
        type="rate_plan",
        quantity=quantity,
        amount=amount,
        billed_to=billed_to,
        rate_plan=match.choice.plan.id,
        rate_plan_level=match.choice.level,
        rate_plan_attached_to=match.choice.attached_to,
        rate_group=match.group.id,
        rate=match.rate_id,
        rate_amount=match.rate.amount,
        rate_per=match.rate.per,
        rounding_rule=match.rounding.id if match.rounding else None,
    )
