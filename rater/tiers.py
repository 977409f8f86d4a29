"""Tier arithmetic from a counter's (before, after) in one period (R15-R19, R66).

A bucket's consumption in a period is one integer counter C.  The atomic draw-down moves it from
``before`` to ``after``; everything about tiers follows from those two numbers and the tier sizes, so it is
computed here, in pure Python, after the draw (architecture: "Python computes tiers, crossings and prices").

Tier j covers consumption in (E(j-1), E(j)] where E(j) = s(1) + ... + s(j) (R15).  Tier j is *reached* when
C > E(j-1): the first base unit past the previous tier's end (R16).  Reaching a tier charges its flat charge
once per period; tier 1 is reached by any usage > 0 (R17).  With repeats (R19a), once C > E(k) the last tier
starts again every s(k) units: repeat r covers (E(k) + (r-1)s(k), E(k) + r s(k)], and each start charges the
flat charge again.  Without repeats the allowance ends at E(k) and the draw-down never goes past it; the rest
of the record overflows to rate-plan pricing (R19b).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


# Built once per record on the hot path: not frozen, since a frozen dataclass's __init__ sets each field through
# object.__setattr__ (about 6x the cost); nothing changes one after it is built, and it hashes as before.
@dataclass(slots=True, unsafe_hash=True)
class TierSlice:
    """The part of one draw that fell in one tier occurrence.

    ``tier`` is 1-based; ``repeat`` is 0 for the tier's first occurrence and r >= 1 for the r-th repeat of
    the last tier.  ``entered`` is true when this draw reached the occurrence (its flat charge is due now).
    ``start``/``end`` are the occurrence's bounds on the period counter: it covers (start, end].
    """

    tier: int
    repeat: int
    quantity: int
    entered: bool
    start: int
    end: int


def allowance(sizes: Sequence[int], repeats: bool) -> int | None:
    """Most a period can draw: E(k), or unbounded (``None``) when the last tier repeats (R19)."""
    return None if repeats else sum(sizes)


def slices(sizes: Sequence[int], repeats: bool, before: int, after: int) -> list[TierSlice]:
    """Split the draw (before, after] into tier occurrences (R15, R16, R19).

    Every tier size is >= 1 (validated), so the walk is bounded by the draw.  Occurrences before ``before``
    are skipped arithmetically for repeats, so a long-running repeating bucket costs O(tiers + repeats
    touched by this draw), not O(all repeats so far).  Occurrences are walked in plain loops, tiers then
    repeats of the last tier: this runs for every bucket every record draws from.
    """
    if after <= before:
        return []
    out: list[TierSlice] = []
    total = sum(sizes)
    start = 0
    if not (repeats and sizes and before > total):
        for tier, size in enumerate(sizes, start=1):
            end = start + size
            if start >= after:
                return out
            if end > before:
                out.append(TierSlice(tier, 0, min(end, after) - max(start, before), before <= start, start, end))
            start = end
        if not (repeats and sizes):
            return out
        repeat = 1
    else:
        # Jump straight to the repeat containing unit before+1.
        skip = (before - total) // sizes[-1]
        start = total + skip * sizes[-1]
        repeat = skip + 1
    tier, last = len(sizes), sizes[-1]
    while start < after:
        end = start + last
        if end > before:
            out.append(TierSlice(tier, repeat, min(end, after) - max(start, before), before <= start, start, end))
        start = end
        repeat += 1
    return out


def tier_at(sizes: Sequence[int], repeats: bool, consumed: int) -> tuple[int, int]:
    """(tier, repeat) that unit ``consumed`` falls in; (0, 0) before any usage (balances, R15)."""
    if consumed <= 0:
        return 0, 0
    found = slices(sizes, repeats, consumed - 1, consumed)
    if not found:
        return len(sizes), 0
    return found[0].tier, found[0].repeat


def percent_crossings(
    sizes: Sequence[int], repeats: bool, before: int, after: int, percents: Sequence[int]
) -> list[tuple[int, int, int]]:
    """R66: (tier, repeat, percent) for each configured percentage of a tier occurrence's size that this
    draw crossed.  A percentage p of an occurrence covering (start, end] is crossed when the counter passes
    start + ceil(p x size / 100): before < mark <= after.  Fires once per occurrence per period."""
    if not percents:
        return []
    crossed: list[tuple[int, int, int]] = []
    for part in slices(sizes, repeats, before, after):
        size = part.end - part.start
        for percent in sorted(set(percents)):
            mark = part.start + -(-percent * size // 100)
            if before < mark <= after:
                crossed.append((part.tier, part.repeat, percent))
    return crossed
