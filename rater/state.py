"""The state store: the one atomic step of rating, and its in-memory implementation.

The draw-down is the only thing that must be atomic (architecture property 1).  Python resolves a record to
an ordered list of :class:`Counter` s (consumption order R11-R13, caps, participation limits, period); the
store applies them in one step and returns before/after for each, and Python prices the result.  The Redis
store runs the same step as one Lua script call; :class:`MemoryStore` is its reference twin, and a contract
suite runs against both.

Semantics of :meth:`StateStore.draw` (per call, atomically):

1. **Dedupe (R1).**  If ``record_key`` (the record id under its sharing root's hash tag,
   :func:`rater.keys.record_key`) was drawn before, return the stored :class:`DrawResult` with
   ``replayed=True`` and change nothing.
2. **Draw in order.**  For each counter: skip it (take 0) if its ``requires`` field is not set; otherwise
   take ``min(remaining, allowance + carry - consumed, limit - limit_used)`` (no cap when ``unbounded``).
   ``observe`` counters add the whole ``quantity`` and take nothing from it (billing activation, R50);
   one with ``threshold`` > 0 sets the field ``activated`` of its key the first time its count reaches the
   threshold, or at once with ``activate_now`` (the time rule, R50b), and reports ``marked`` (R51).
3. **Periods.**  Each counter lives in a hash ``key`` with fields per period: ``c:<p>`` consumed and
   ``l:<p>:<participant>`` participation used, written only when they change (absent reads as 0), and
   ``latest``, the latest period drawn; a rollover counter also keeps ``r:<p>`` rollover carried in and
   ``a:<p>`` the last allowance seen.  For a rollover counter the first draw in period ``p`` rolls forward
   from the latest period ``q`` drawn before: carry(q+1) = max(0, a(q) + r(q) - c(q)), then through each
   untouched period with ``full_allowance`` and nothing consumed (R36: carry compounds, no cap).  A record
   for an older period than the latest draws from that period (late records, architecture property 3); one
   for an untouched older period starts without carry.
4. **Tier entries** (R17, rater.tiers).  A counter with ``tier_ends`` keeps ``e:<p>``, the highest tier
   occurrence ordinal the period has entered (tier j of k is j, repeat r of the last tier k + r, and without
   repeats the allowance used up k + 1).  The ends E(1)..E(k-1), E(k) = ``allowance`` and the carry (which
   joins tier 1, so every end moves by it) give the ordinal a value reaches (:func:`rater.tiers.reached`).
   The draw reports ``entered``, the ordinal before it: ``e:<p>``, or ``None`` when absent (a period not
   drawn yet, or drawn before the field existed), which reads as the ordinal the consumption before the
   draw reaches (pricing computes it).  A draw that takes something writes ``e:<p>`` = max(entered, ordinal
   of ``after``) when the field is absent or below it, so boundaries that move within a period
   (contributors, add-ons) never enter an occurrence twice.  A counter without ``tier_ends`` reports
   ``entered`` = ``None`` and keeps no field.
5. **Retention.**  Fields of periods more than ``retain`` periods before the latest are deleted.
6. **Exact integers.**  No number written or reported passes :data:`MAX` = 2^53 - 1, the exact integer
   range of the kernel's Lua doubles.  Every counter saturates there: its cap is min(allowance + carry, MAX)
   (an unbounded one's is MAX), so what a full counter cannot take overflows like the rest of an exhausted
   allowance (R19b); an ``observe`` counter stops counting at MAX (past every threshold); a rollover carry
   is at most MAX.  Counter arguments (allowances, ends, limits, carry bases) must be at most MAX.

Quantities are integers in base units (money: micro-units).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from rater.errors import DrawRefused
from rater.tiers import reached

MAX = 2**53 - 1
"""The largest number the store writes or reports: the kernel's numbers are Lua doubles, exact up to here."""

UNLIMITED = MAX
"""The participation limit of a participant without one: no draw reaches it (quantities stay below 2^53,
the kernel's exact integer range), so the participant's use is counted but never capped.  A number rather
than a flag keeps the kernel's ``l`` counters as they were."""

#: Periods of a counter kept behind the latest one drawn (the kernel's short form assumes it).
DEFAULT_RETAIN = 3


@dataclass(frozen=True, slots=True)
class Counter:
    """One allowance a record may draw from, as the store sees it."""

    key: str
    period: int
    allowance: int = 0
    """The period's allowance before rollover carry (E(k) of its tiers)."""
    unbounded: bool = False
    """The last tier repeats (R19a): no cap."""
    rollover: bool = False
    full_allowance: int = 0
    """A full period's allowance, to roll forward across untouched periods (R36)."""
    carry_base: int = 0
    """0: the carry is what is left of the whole allowance (R36 default).  > 0: the carry is what is left
    of this fixed size S, the last tier's (``settings.rollover_size: last_tier``, Q3); no compounding."""
    limit_field: str | None = None
    """Participation field in ``key`` (R61): ``l:<period>:<participant instance>``, what the participant
    used of the pool this period.  Every share-plan participant has one, limited or not."""
    limit: int = 0
    """The participant's limit; :data:`UNLIMITED` for a participant without one (counted, never capped)."""
    observe: bool = False
    """Count the record's whole quantity without consuming it (billing activation, R50)."""
    threshold: int = 0
    """For ``observe`` counters: set ``activated`` once the count reaches it (R51)."""
    activate_now: bool = False
    """For ``observe`` counters: set ``activated`` now if unset (the time rule, R50b)."""
    requires: tuple[str, str] | None = None
    """(key, field) that must be set for this counter to apply (R53: activated packages only)."""
    retain: int = DEFAULT_RETAIN
    tier_ends: tuple[int, ...] | None = None
    """Cumulative ends E(1)..E(k-1) of the tiers before the last, before rollover carry (E(k) is
    ``allowance``): the store keeps the period's tier entries (``e:<period>``, R17).  ``None``: it keeps none."""


class Draw(NamedTuple):
    """What one counter did: consumption of its period before and after, and its allowance with carry.

    A named tuple rather than a dataclass: one is built per counter per record on the hot path.
    """

    before: int
    after: int
    carry: int = 0
    allowance: int | None = None
    """Allowance including carry, ``None`` when unbounded."""
    limit_before: int = 0
    limit_after: int = 0
    """Participation used before/after this draw; both 0 for a counter without a participant."""
    marked: bool = False
    """An ``observe`` counter set its ``activated`` field in this draw."""
    entered: int | None = None
    """The highest tier occurrence ordinal the period had entered before this draw (rater.tiers).  ``None``
    when the store has none (a counter without ``tier_ends``, a period without ``e:<period>``, a result
    stored before the field existed): then it is the ordinal ``before`` reaches."""

    @property
    def taken(self) -> int:
        return self.after - self.before


class DrawResult(NamedTuple):
    draws: tuple[Draw, ...]
    remaining: int
    """Quantity no counter took: it overflows to rate-plan pricing (R19b)."""
    replayed: bool = False
    refused: bool = False
    """A whole-or-nothing draw the counters could not take whole: nothing was written (``draws`` is empty,
    ``remaining`` what would have been left)."""


class StateStore(Protocol):
    """The atomic draw-down and the reads the balance view needs."""

    def draw(self, record_key: str, quantity: int, counters: Sequence[Counter], whole: bool = False) -> DrawResult: ...

    def fields(self, key: str) -> dict[str, int]: ...

    def mark(self, key: str, field: str, value: int) -> bool:
        """Set ``field`` once; True if this call set it (billing activation fires once)."""
        ...

    def settle(self, operation_id: str, key: str, field: str, value: int, also: tuple[str, int] | None = None) -> int:
        """Set ``field`` to ``value`` (and the field ``also`` names to its value) once per ``operation_id``;
        return the value ``field`` had before the first call (a repeated operation returns the same,
        changing nothing).  Used when a cancellation cuts an allowance and usage above the cut leaves the
        bucket (R41); ``also`` records the tier entries the cut period reaches (``e:<period>``, R17)."""
        ...


@dataclass
class MemoryStore:
    """In-process store with the kernel's exact semantics (the reference for the Redis kernel)."""

    hashes: dict[str, dict[str, int]] = field(default_factory=dict)
    results: dict[str, DrawResult] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)
    adjustments: dict[str, bytes] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)

    def claim(self, record_id: str, fingerprint: str) -> str | None:
        """The first fingerprint seen for ``record_id`` (``None`` when this call kept ``fingerprint``)."""
        first = self.claims.get(record_id)
        if first is None:
            self.claims[record_id] = fingerprint
        return first

    def release(self, record_id: str, fingerprint: str) -> None:
        """Forget the claim of ``record_id`` if it holds ``fingerprint`` (its record drew nothing)."""
        if self.claims.get(record_id) == fingerprint:
            del self.claims[record_id]

    def fields(self, key: str) -> dict[str, int]:
        return dict(self.hashes.get(key, {}))

    def mark(self, key: str, field: str, value: int) -> bool:
        bucket = self.hashes.setdefault(key, {})
        if field in bucket:
            return False
        bucket[field] = value
        return True

    def settle(self, operation_id: str, key: str, field: str, value: int, also: tuple[str, int] | None = None) -> int:
        done = self.settled.get(operation_id)
        if done is not None:
            return done
        state = self.hashes.setdefault(key, {})
        previous = state.get(field, 0)
        state[field] = value
        if also is not None:
            state[also[0]] = also[1]
        self.settled[operation_id] = previous
        return previous

    def adjust(
        self,
        operation_key: str,
        key: str,
        field: str,
        expected: int,
        value: int,
        payload: bytes,
        also: tuple[str, int] | None = None,
    ) -> bytes | None:
        """The kernel's ``rater_adjust``: the first call of ``operation_key`` sets ``field`` of ``key`` from
        ``expected`` to ``value`` (and the field ``also`` names to its value: the cut period's tier entries,
        ``e:<period>``) and keeps ``payload`` (the adjustment); it answers the payload kept.  A later call
        answers the payload of the first, changing nothing.  ``None``, changing nothing, when the field no
        longer holds ``expected`` (a record drew meanwhile: read again and re-price)."""
        done = self.adjustments.get(operation_key)
        if done is not None:
            return done
        state = self.hashes.setdefault(key, {})
        if state.get(field, 0) != expected:
            return None
        state[field] = value
        if also is not None:
            state[also[0]] = also[1]
        self.adjustments[operation_key] = payload
        return payload

    def draw(self, record_key: str, quantity: int, counters: Sequence[Counter], whole: bool = False) -> DrawResult:
        """The kernel's ``rater_draw``.  ``whole``: draw only if the counters take the whole quantity; else
        write nothing and answer ``refused`` with what would have been left."""
        stored = self.results.get(record_key)
        if stored is not None:
            return DrawResult(stored.draws, stored.remaining, replayed=True)
        if whole:
            touched = {counter.key for counter in counters}
            before = {key: dict(self.hashes[key]) for key in touched if key in self.hashes}
            result = self._draw(record_key, quantity, counters)
            if result.remaining == 0:
                return result
            del self.results[record_key]
            for key in touched:
                if key in before:
                    self.hashes[key] = before[key]
                else:
                    self.hashes.pop(key, None)
            return DrawResult((), result.remaining, refused=True)
        return self._draw(record_key, quantity, counters)

    def _draw(self, record_key: str, quantity: int, counters: Sequence[Counter]) -> DrawResult:
        remaining = quantity
        draws: list[Draw] = []
        for counter in counters:
            state = self.hashes.setdefault(counter.key, {})
            consumed_field = f"c:{counter.period}"
            if counter.requires is not None and counter.requires[1] not in self.hashes.get(counter.requires[0], {}):
                consumed = state.get(consumed_field, 0)
                draws.append(Draw(consumed, consumed))
                continue
            carry = _open_period(state, counter)
            consumed = state.get(consumed_field, 0)
            if counter.observe:
                after = min(consumed + quantity, MAX)
                if after != consumed:
                    state[consumed_field] = after
                marked = "activated" not in state and (
                    counter.activate_now or (counter.threshold > 0 and after >= counter.threshold)
                )
                if marked:
                    state["activated"] = 1
                draws.append(Draw(consumed, after, carry, None, marked=marked))
                continue
            total = None if counter.unbounded else min(counter.allowance + carry, MAX)
            take = max(0, min(remaining, (MAX if total is None else total) - consumed))
            limit_before = 0
            if counter.limit_field is not None:
                limit_before = state.get(counter.limit_field, 0)
                take = max(0, min(take, counter.limit - limit_before))
                if take:
                    state[counter.limit_field] = limit_before + take
            if take:
                state[consumed_field] = consumed + take
            if counter.rollover and state.get(f"a:{counter.period}") != counter.allowance:
                state[f"a:{counter.period}"] = counter.allowance
            entered = None
            if counter.tier_ends is not None:
                entered = _entered(state, counter, carry, consumed, take)
            remaining -= take
            limit_after = limit_before + take if counter.limit_field is not None else 0
            draws.append(Draw(consumed, consumed + take, carry, total, limit_before, limit_after, False, entered))
        result = DrawResult(tuple(draws), remaining)
        self.results[record_key] = result
        return result


def _entered(state: dict[str, int], counter: Counter, carry: int, consumed: int, take: int) -> int | None:
    """Tier entries (point 4 of the module docstring): the ordinal stored before the draw (``None`` when
    absent); a draw that takes something records the ordinal ``after`` reaches when that field is absent or
    lower (the ordinal grows with the counter: when absent, it is at least what ``before`` reaches)."""
    assert counter.tier_ends is not None
    field_name = f"e:{counter.period}"
    known = state.get(field_name)
    if take:
        bounds = [0, *(end + carry for end in counter.tier_ends), counter.allowance + carry]
        sizes = [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)]
        now = min(reached(sizes, counter.unbounded, consumed + take), MAX)
        if known is None or now > known:
            state[field_name] = now
    return known


def _open_period(state: dict[str, int], counter: Counter) -> int:
    """Open the counter's period in ``state`` on its first draw; return its rollover carry (R36).

    A rollover counter records its carry in ``r:<period>`` (which also marks the period opened); a period
    newer than ``latest`` becomes the latest and fields of periods more than ``retain`` behind it go."""
    period = counter.period
    carry_field = f"r:{period}"
    if counter.rollover and carry_field in state:
        return state[carry_field]
    latest = state.get("latest")
    newer = latest is None or period > latest
    if not counter.rollover and not newer:
        return 0
    carry = 0
    if counter.rollover and latest is not None and latest < period:
        used = state.get(f"c:{latest}", 0)
        if counter.carry_base > 0:
            carry = max(0, counter.carry_base - (used if latest == period - 1 else 0))
        else:
            # What the latest period left (its allowance less its use, plus its own carry), then whole
            # allowances of the periods nobody drew from; saturated at MAX (module docstring, point 6).
            rest = min(
                max(0, (state.get(f"a:{latest}", counter.full_allowance) - used) + state.get(f"r:{latest}", 0)), MAX
            )
            for _ in range(latest + 1, period):
                rest = min(counter.full_allowance + rest, MAX)
            carry = rest
    if counter.rollover:
        state[carry_field] = carry
    if newer:
        state["latest"] = period
        if latest is not None:
            for name in [f for f in state if f[:2] in ("c:", "r:", "a:", "l:", "e:")]:
                if int(name.split(":")[1]) < period - counter.retain:
                    del state[name]
    return carry


def pending_carry(fields: Mapping[str, int], counter: Counter) -> int:
    """The rollover carry of ``counter.period``: the stored one, or the one its first draw would fix (R36),
    computed by the store's own rule on a copy of ``fields`` (the read side must not change state)."""
    return _open_period(dict(fields), counter)


@dataclass(frozen=True, slots=True)
class DrawRequest:
    """One record's draw, for a batch."""

    record_key: str
    quantity: int
    counters: tuple[Counter, ...]
    whole: bool = False
    """Whole or nothing (:meth:`MemoryStore.draw`): a record whose overflow could not be priced."""


class AsyncStateStore(Protocol):
    """The store as the stream uses it: many draws in one round trip (the Redis store implements it)."""

    async def draw_many(self, requests: Sequence[DrawRequest]) -> list[DrawResult]:
        """Draw each request in order (one round trip).  A request the store refuses, writing nothing for
        it, raises :class:`~rater.errors.DrawRefused` naming its position; the requests before it have
        drawn, and asking again replays their results."""
        ...

    async def fields(self, key: str) -> dict[str, int]: ...

    async def mark(self, key: str, field: str, value: int) -> bool: ...

    async def marked(self, keys: Sequence[str], field: str) -> list[bool]:
        """Whether each hash in ``keys`` has ``field`` (billing-activation marks, R53), in one round trip."""
        ...

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[str | None]:
        """R1 across sharing roots: for each ``(record id, fingerprint)`` in order, keep the fingerprint if the
        id has none yet and answer ``None``, else answer the fingerprint kept first (nothing changes).  One
        round trip; claims are kept as long as draw results (:data:`rater.redis_store.DEFAULT_RESULT_TTL`)."""
        ...

    async def release(self, claims: Sequence[tuple[str, str]]) -> None:
        """Forget each ``(record id, fingerprint)`` claim that still holds that fingerprint: its record drew
        nothing and became a rating exception, which leaves no key behind."""
        ...


class SettlementStore(Protocol):
    """What a cancellation's settlement needs of the async store (R41): read a counter hash, and cut it
    once per operation while keeping the adjustment it caused (:meth:`MemoryStore.adjust`)."""

    async def fields(self, key: str) -> dict[str, int]: ...

    async def adjust(
        self,
        operation_key: str,
        key: str,
        field: str,
        expected: int,
        value: int,
        payload: bytes,
        also: tuple[str, int] | None = None,
    ) -> bytes | None: ...


@dataclass
class AsyncMemoryStore:
    """:class:`MemoryStore` behind the async batch interface (tests, and the contract suite's reference)."""

    inner: MemoryStore = field(default_factory=MemoryStore)

    async def draw_many(self, requests: Sequence[DrawRequest]) -> list[DrawResult]:
        out: list[DrawResult] = []
        for position, request in enumerate(requests):
            try:
                out.append(self.inner.draw(request.record_key, request.quantity, request.counters, request.whole))
            except DrawRefused as refused:
                raise DrawRefused(position, refused.detail) from refused
        return out

    async def fields(self, key: str) -> dict[str, int]:
        return self.inner.fields(key)

    async def mark(self, key: str, field: str, value: int) -> bool:
        return self.inner.mark(key, field, value)

    async def marked(self, keys: Sequence[str], field: str) -> list[bool]:
        return [field in self.inner.fields(key) for key in keys]

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[str | None]:
        return [self.inner.claim(record_id, fingerprint) for record_id, fingerprint in claims]

    async def release(self, claims: Sequence[tuple[str, str]]) -> None:
        for record_id, fingerprint in claims:
            self.inner.release(record_id, fingerprint)

    async def adjust(
        self,
        operation_key: str,
        key: str,
        field: str,
        expected: int,
        value: int,
        payload: bytes,
        also: tuple[str, int] | None = None,
    ) -> bytes | None:
        return self.inner.adjust(operation_key, key, field, expected, value, payload, also)
