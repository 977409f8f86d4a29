"""The in-memory twin of the Redis kernel: the reference implementation of :class:`rater.state.Store`.

Offline rating (``rater rate``), the unit tests and the contract suite run the rating pipeline on it; the
contract suite checks the Redis kernel against it, request for request (tests/integration).  Its semantics
are the module docstring of :mod:`rater.state`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rater.errors import DrawRefused
from rater.state import MAX, Counter, Draw, DrawRequest, DrawResult
from rater.tiers import reached


@dataclass
class MemoryStore:
    """In-process store with the kernel's exact semantics (the reference for the Redis kernel)."""

    hashes: dict[str, dict[str, int]] = field(default_factory=dict)
    results: dict[str, DrawResult] = field(default_factory=dict)
    adjustments: dict[str, bytes] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)

    def _claim(self, record_id: str, fingerprint: str) -> str | None:
        """The first fingerprint seen for ``record_id`` (``None`` when this call kept ``fingerprint``)."""
        first = self.claims.get(record_id)
        if first is None:
            self.claims[record_id] = fingerprint
        return first

    def _release(self, record_id: str, fingerprint: str) -> None:
        """Forget the claim of ``record_id`` if it holds ``fingerprint`` (its record drew nothing)."""
        if self.claims.get(record_id) == fingerprint:
            del self.claims[record_id]

    async def draw_many(self, requests: Sequence[DrawRequest]) -> list[DrawResult]:
        out: list[DrawResult] = []
        for position, request in enumerate(requests):
            try:
                out.append(self._draw_one(request.record_key, request.quantity, request.counters, request.whole))
            except DrawRefused as refused:
                raise DrawRefused(position, refused.detail) from refused
        return out

    async def fields(self, key: str) -> dict[str, int]:
        return dict(self.hashes.get(key, {}))

    async def marked(self, keys: Sequence[str], field: str) -> list[bool]:
        return [field in self.hashes.get(key, {}) for key in keys]

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[str | None]:
        return [self._claim(record_id, fingerprint) for record_id, fingerprint in claims]

    async def release(self, claims: Sequence[tuple[str, str]]) -> None:
        for record_id, fingerprint in claims:
            self._release(record_id, fingerprint)

    async def mark(self, key: str, field: str, value: int) -> bool:
        bucket = self.hashes.setdefault(key, {})
        if field in bucket:
            return False
        bucket[field] = value
        return True

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

    def _draw_one(self, record_key: str, quantity: int, counters: Sequence[Counter], whole: bool) -> DrawResult:
        """One request of :meth:`draw_many` (the kernel's draw of one record).  ``whole``: draw only if the
        counters take the whole quantity; else write nothing and answer ``refused`` with what would have
        been left."""
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
