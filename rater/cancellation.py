"""Cancel proration (R41, R42, E13): what cutting a prorated bucket on cancellation costs, and settling it.

With Prorate on, cancelling an account-service cuts tier 1 of each recurring bucket to the active share of
the period holding its last active day (R41; the cancel day is exclusive, R42).  Usage already consumed
above the cut allowance moves into higher tiers or overage: the period is re-priced, and the difference is
one ``rated-adjustment/1`` event per bucket, whose counter keeps what the cut allowance holds.

:func:`cancel_targets` finds the buckets (pure), :func:`settlement` prices one cut from its counter (pure),
and :func:`settle_cancellation` reads, prices and writes each through the store, once per operation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from rater.allotments import Candidate, Tiers
from rater.catalog import Catalog
from rater.catalog.model import BucketDefinition, RecurType
from rater.errors import ExceptionType, RatingError, RetriableError
from rater.events import ChargeLine, RatedAdjustment, dumps
from rater.instances import Instance
from rater.keys import bucket_key, record_key
from rater.periods import Period
from rater.prepare import overflow_rate
from rater.price import Priced, period_end, price_bucket, rate_plan_line
from rater.pricing import charge
from rater.rating import Rater
from rater.state import Counter, Draw, Store
from rater.tiers import reached

#: Reads of a counter before a settlement gives up because records keep drawing from it (retriable).
SETTLE_ATTEMPTS = 50


@dataclass(frozen=True)
class CancelTarget:
    """A prorated bucket a cancellation cuts (R41): the instance before and after, the period holding the
    last active day, its tiers before and after the cut, and the counter hash ``key`` in the store."""

    account_service: str
    cancel: dt.date
    old: Instance
    new: Instance
    period: Period
    old_tiers: Tiers
    new_tiers: Tiers
    key: str


@dataclass(frozen=True)
class Settlement:
    """One bucket's cancel proration (R41): set ``field`` of ``key`` from ``consumed`` to ``kept`` (and the
    tier entries ``entered``) once per ``operation_key`` and publish ``adjustment``."""

    operation_key: str
    key: str
    field: str
    consumed: int
    kept: int
    adjustment: RatedAdjustment
    entered: tuple[str, int]
    """The counter's tier entries after the cut, written with ``kept``: (``e:<period>``, ordinal), R17."""


def cancel_targets(rater: Rater, account_service: str, cancel: dt.date) -> list[CancelTarget]:
    """The buckets of ``account_service`` a cancellation from ``cancel`` (exclusive, R42) cuts (R41): each
    recurring bucket with Prorate on whose period holding the last active day loses part of tier 1.
    Pure: what each cut costs depends on the period's consumption, read from the store by the caller
    and priced by :func:`settlement`.  Raises ``KeyError`` for an unknown account-service."""
    context = rater.subscriptions.services[account_service]
    account = context.account
    index = rater.resolver.index
    allotments = rater.resolver.allotments
    last_day = cancel - dt.timedelta(days=1)
    targets: list[CancelTarget] = []
    for old in index.service_instances(account_service):
        if not old.bucket.prorate or old.recur_type is RecurType.NONRECURRING:
            continue
        period = old.period(rater.catalog, last_day)
        if period is None:
            continue
        new = replace(old, cancel=min(cancel, old.cancel) if old.cancel else cancel)
        old_tiers = allotments.tiers(old.bucket, allotments.prorated(old, period))
        new_tiers = allotments.tiers(old.bucket, allotments.prorated(new, period))
        if old_tiers.sizes == new_tiers.sizes:
            continue
        key = bucket_key(index.root(account.id), old.id)
        targets.append(CancelTarget(account_service, cancel, old, new, period, old_tiers, new_tiers, key))
    return targets


def settlement(rater: Rater, target: CancelTarget, state: dict[str, int], operation_id: str) -> Settlement | None:
    """What cutting ``target`` costs, given its counter hash ``state`` (fields ``c:<period>`` consumed and
    ``r:<period>`` rollover carry, base units): the adjustment and the value the counter keeps (R41).

    ``kept`` = the consumption, capped at the cut allowance (all of it when the last tier repeats); the
    adjustment's lines are the re-priced period minus the period as rated, plus overage for
    ``consumed - kept`` at the overage rate plan.  Flat charges: the period as rated billed the tier
    occurrences it entered (``e:<period>``, R17); the re-priced one bills those and any further one
    ``kept`` reaches under the cut tiers, and the counter records that count (``entered``).  ``None`` when
    nothing was consumed (nothing to move).  Pure: the caller writes ``kept`` (and ``entered``) once per
    ``operation_key`` (:func:`settle_cancellation`)."""
    old, new, period = target.old, target.new, target.period
    catalog = rater.catalog
    subscriptions = rater.subscriptions
    context = subscriptions.services[target.account_service]
    account = context.account
    consumed = state.get(f"c:{period.index}", 0)
    carry = state.get(f"r:{period.index}", 0)
    if consumed == 0:
        return None
    when = dt.datetime.combine(target.cancel - dt.timedelta(days=1), dt.time(), tzinfo=subscriptions.zone(account.id))
    old_tiers, new_tiers = target.old_tiers, target.new_tiers
    new_sizes = new_tiers.with_carry(carry)
    kept = consumed if new_tiers.repeats else min(consumed, sum(new_sizes))
    # R17: the occurrences entered so far (e:<period>, or what the consumption reaches when the counter
    # has none) were billed; the cut bills those it reaches beyond them, and records the new count.
    entered_field = f"e:{period.index}"
    entered = state.get(entered_field)
    if entered is None:
        entered = reached(old_tiers.with_carry(carry), old_tiers.repeats, consumed)
    due = max(entered, reached(new_sizes, new_tiers.repeats, kept))
    usage_class, location = _first_include(catalog, old.bucket)
    before = _bucket_lines(rater, old, old_tiers, carry, consumed, entered, usage_class, location, when)
    after = _bucket_lines(rater, new, new_tiers, carry, kept, due, usage_class, location, when)
    lines = _difference(after, before)
    if consumed > kept:
        match = overflow_rate(
            rater, context, catalog.usage_classes[usage_class], location, when, when, old.overage_rate_plan, None
        )
        amount = charge(match.rate, catalog.bucket_unit_type(old.bucket), consumed - kept, match.choice.plan.precision)
        invoicer = subscriptions.usage_invoicer(account)
        lines.append(rate_plan_line(match, consumed - kept, amount, invoicer.id))
    adjustment = RatedAdjustment(
        adjustment_id=f"{operation_id}:{old.id}",
        reason="cancel_proration",
        account=account.id,
        account_service=target.account_service,
        bucket_instance=old.id,
        period_start=period.start.isoformat(),
        period_end=period_end(period.end),
        tiers_before=target.old_tiers.with_carry(carry),
        tiers_after=new_sizes,
        consumed=consumed,
        kept=kept,
        charges=tuple(lines),
        currency=account.currency,
    )
    operation = record_key(rater.resolver.index.root(account.id), f"settle:{operation_id}:{old.id}")
    return Settlement(operation, target.key, f"c:{period.index}", consumed, kept, adjustment, (entered_field, due))


def _bucket_lines(
    rater: Rater,
    instance: Instance,
    tiers: Tiers,
    carry: int,
    consumed: int,
    entered: int,
    usage_class: str,
    location: str | None,
    when: dt.datetime,
) -> list[ChargeLine]:
    """Tier-rate lines of a period's consumption (0, consumed] under ``tiers``, and the flat charges of
    its first ``entered`` tier occurrences (R17: those the period entered, rater.tiers), priced at ``when``."""
    period = Period(0, dt.date.min, dt.date.max, dt.date.min)
    candidate = Candidate(
        instance, period, tiers, Counter(key="", period=0), rater.catalog.bucket_unit_type(instance.bucket)
    )
    priced = Priced("", instance.holder, when)
    draw = Draw(0, consumed, carry, entered=0)
    price_bucket(rater, priced, candidate, draw, usage_class, location, when, when, due=entered)
    return priced.lines


def _first_include(catalog: Catalog, bucket: BucketDefinition) -> tuple[str, str | None]:
    """The class and location of a bucket's first include detail (prices usage moved by an adjustment)."""
    for base_id in bucket.base_buckets:
        for detail in catalog.base_buckets[base_id].details:
            if not detail.exclude:
                return detail.class_, detail.location
    raise RatingError(ExceptionType.RATE_NOT_FOUND, f"bucket {bucket.id!r} has no include detail")


def _difference(after: list[ChargeLine], before: list[ChargeLine]) -> list[ChargeLine]:
    """Lines of ``after`` minus lines of ``before``, matched by (type, tier, repeat); zero differences dropped."""

    def key(line: ChargeLine) -> tuple[str, int | None, int | None]:
        return line.type, line.tier, line.repeat

    old = {key(line): line for line in before}
    out: list[ChargeLine] = []
    for line in after:
        previous = old.pop(key(line), None)
        if previous is None:
            out.append(line)
        elif line.amount != previous.amount or line.quantity != previous.quantity:
            out.append(replace(line, quantity=line.quantity - previous.quantity, amount=line.amount - previous.amount))
    out.extend(replace(line, quantity=-line.quantity, amount=-line.amount) for line in old.values())
    return out


@dataclass(frozen=True)
class Settled:
    """One bucket's cancel settlement (R41): the adjustment this call priced, and the ``rated-adjustment/1``
    event as the store kept it (the first call's bytes: a repeated operation answers those)."""

    adjustment: RatedAdjustment
    event: bytes


async def settle_cancellation(
    rater: Rater, store: Store, account_service: str, cancel: dt.date, operation_id: str
) -> list[Settled]:
    """Settle the prorated buckets of ``account_service`` cancelled from ``cancel`` (R41, E13); return each
    bucket's adjustment with its event as stored, to publish (the stream) or write (``rater rate``).

    ``rater`` holds the configuration *before* the cancellation.  Per bucket :func:`cancel_targets`
    finds, its counter is read, the cut priced (:func:`settlement`, pure) and written with the event
    in one atomic step, once per operation and only if no record drew in between (else it is read and
    priced again).  A repeated ``operation_id`` (a retry after a crash) gets the stored events back, byte
    for byte, whatever the counters hold now.  ``rater`` is left as it was: the configuration change is the
    caller's (a new :class:`~rater.rating.Rater` on the cancelled configuration)."""
    events: list[Settled] = []
    for target in cancel_targets(rater, account_service, cancel):
        for _ in range(SETTLE_ATTEMPTS):
            state = await store.fields(target.key)
            found = settlement(rater, target, state, operation_id)
            if found is None:
                break
            stored = await store.adjust(
                found.operation_key,
                found.key,
                found.field,
                found.consumed,
                found.kept,
                dumps(found.adjustment),
                found.entered,
            )
            if stored is not None:
                events.append(Settled(found.adjustment, stored))
                break
        else:
            raise RetriableError(f"{operation_id}: bucket {target.old.id!r} kept changing while being settled")
    return events
