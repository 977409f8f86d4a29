"""The state store contract: the one atomic step of rating, and what the pipeline reads and writes besides.

The draw-down is the only thing that must be atomic (architecture property 1).  Python resolves a record to
an ordered list of :class:`Counter` s (consumption order R11-R13, caps, participation limits, period); the
store applies them in one step and returns before/after for each, and Python prices the result.  :class:`Store`
is the one contract, with two implementations: the Redis kernel (:class:`rater.redis_store.RedisStore`, a Lua
function call per sharing root) and its in-memory twin (:class:`rater.memory_store.MemoryStore`); a contract
suite runs against both.

Semantics of one request of :meth:`Store.draw_many` (per request, atomically):

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

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


@dataclass(frozen=True, slots=True)
class DrawRequest:
    """One record's draw, for a batch."""

    record_key: str
    quantity: int
    counters: tuple[Counter, ...]
    whole: bool = False
    """Whole or nothing: draw only if the counters take the whole quantity; else write nothing and answer
    ``refused`` with what would have been left (a record whose overflow could not be priced, Q6)."""


class Store(Protocol):
    """The one store contract of the rating pipeline (:mod:`rater.batch`), the balance view and cancellation
    settlement.  Implemented by the Redis kernel and by its in-memory twin; every call is one round trip."""

    async def draw_many(self, requests: Sequence[DrawRequest]) -> list[DrawResult]:
        """Draw each request in order (one round trip).  A request the store refuses, writing nothing for
        it, raises :class:`~rater.errors.DrawRefused` naming its position; the requests before it have
        drawn, and asking again replays their results."""
        ...

    async def fields(self, key: str) -> dict[str, int]:
        """A counter or activation hash, every field an integer (absent: empty)."""
        ...

    async def mark(self, key: str, field: str, value: int) -> bool:
        """Set ``field`` once; True if this call set it (billing activation fires once, R51)."""
        ...

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
        """Cancellation settlement (R41), atomically: the first call of ``operation_key`` sets ``field`` of
        ``key`` from ``expected`` to ``value`` (and the field ``also`` names to its value: the cut period's
        tier entries ``e:<period>``, R17) and keeps ``payload`` (the adjustment event); it answers the payload
        kept.  A later call answers the payload of the first, changing nothing.  ``None``, changing nothing,
        when the field no longer holds ``expected`` (a record drew meanwhile: read again and re-price)."""
        ...
