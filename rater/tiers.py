"""Tier arithmetic from a counter's (before, after) in one period (R15-R19, R66).

A bucket's consumption in a period is one integer counter C.  The atomic draw-down moves it from
``before`` to ``after``; everything about tiers follows from those two numbers, the tier sizes, and the
number of tier occurrences the period has already entered (the store keeps it, see below), so it is
computed here, in pure Python, after the draw (architecture: "Python computes tiers, crossings and prices").

Tier j covers consumption in (E(j-1), E(j)] where E(j) = s(1) + ... + s(j) (R15).  Tier j is *reached* when
C > E(j-1): the first base unit past the previous tier's end (R16).  Reaching a tier charges its flat charge
once per period; tier 1 is reached by any usage > 0 (R17).  With repeats (R19a), once C > E(k) the last tier
starts again every s(k) units: repeat r covers (E(k) + (r-1)s(k), E(k) + r s(k)], and each start charges the
flat charge again.  Without repeats the allowance ends at E(k) and the draw-down never goes past it; the rest
of the record overflows to rate-plan pricing (R19b).

**Occurrence ordinals.**  The tier occurrences of a period are numbered in the order a counter reaches them:
tier j of k is ordinal j, repeat r of the last tier is k + r, and, without repeats, the allowance running
out (C reaching E(k), the ``exhausted`` crossing) is k + 1.  :func:`reached` is the highest ordinal a
counter value reaches under given sizes; the ones it reaches are always 1..reached, a prefix.  Sizes can
move within a period (a contributor joins a Variable pool, an add-on is sold, R59, R60, R64), and an
occurrence must still be entered once per period (R17): so the store keeps, per counter and period, the
highest ordinal entered so far (``e:<period>``, rater.state), and a draw enters exactly the ordinals above
it that its ``after`` reaches under the sizes in force.  A boundary that moves up past the counter after its
tier was entered does not enter that tier again; one that moves down under the counter lets the next draw
enter every occurrence it now reaches, including ones lying wholly below ``before`` (they come with quantity
0).  With unmoved sizes the ordinal entered before a draw is just ``reached(before)``, the rule of R16.
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
    the last tier.  ``entered`` is true when this draw enters the occurrence (its flat charge is due now,
    once per period: see the module docstring).  ``start``/``end`` are the occurrence's bounds on the period
    counter: it covers (start, end].
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


def _repeating(sizes: Sequence[int], repeats: bool) -> bool:
    """Whether the last tier really starts again (R19a): a last tier of size 0 (a Variable pool without
    contributors, R59) has nothing to repeat, so past E(k) no occurrence follows."""
    return repeats and bool(sizes) and sizes[-1] > 0


def reached(sizes: Sequence[int], repeats: bool, consumed: int) -> int:
    """The highest occurrence ordinal a counter at ``consumed`` reaches (module docstring): 0 without usage;
    j when E(j-1) < C <= E(j) (R16); k + ceil((C - E(k)) / s(k)) past E(k) with repeats (R19a); k + 1 when
    C >= E(k) without repeats (the allowance is used up).  With repeats but a last tier of size 0 nothing
    follows tier k (and nothing is used up: the counter is unbounded).  The kernel computes the same
    (rater/lua/rater.lua, ``reached``)."""
    if consumed <= 0 or not sizes:
        return 0
    last = len(sizes)
    total = sum(sizes)
    if consumed >= total:
        if not repeats:
            return last + 1
        if consumed > total and sizes[-1] > 0:
            return last + -(-(consumed - total) // sizes[-1])
    end = 0
    for ordinal in range(1, last):
        end += sizes[ordinal - 1]
        if consumed <= end:
            return ordinal
    return last


def _occurrence(sizes: Sequence[int], ordinal: int) -> tuple[int, int, int, int]:
    """(tier, repeat, start, end) of tier occurrence ``ordinal`` (1 <= ordinal; past k only with repeats)."""
    last = len(sizes)
    if ordinal <= last:
        start = sum(sizes[: ordinal - 1])
        return ordinal, 0, start, start + sizes[ordinal - 1]
    repeat = ordinal - last
    start = sum(sizes) + (repeat - 1) * sizes[-1]
    return last, repeat, start, start + sizes[-1]


def slices(
    sizes: Sequence[int],
    repeats: bool,
    before: int,
    after: int,
    entered: int | None = None,
    due: int | None = None,
) -> list[TierSlice]:
    """Split the draw (before, after] into tier occurrences (R15, R16, R19), marking those it enters.

    ``entered`` is the ordinal the period had entered before the draw (the store's ``e:<period>``); ``None``
    when the sizes never moved: ``reached(before)``.  ``due`` is the ordinal entered after it, by default
    ``max(entered, reached(after))``; a re-pricing passes its own (a cancellation, R41).  Occurrences with an
    ordinal in (entered, due] are entered now; one of them outside the draw comes with quantity 0.

    Every tier size is >= 1 (validated) but a Variable pool's may be 0; the walk is bounded by the draw.
    Occurrences before ``before`` are skipped arithmetically for repeats, so a long-running repeating bucket
    costs O(tiers + repeats touched by this draw), not O(all repeats so far).  Occurrences are walked in
    plain loops, tiers then repeats of the last tier: this runs for every bucket every record draws from.
    """
    if entered is None:
        entered = reached(sizes, repeats, before)
    if due is None:
        due = max(entered, reached(sizes, repeats, after))
    repeats = _repeating(sizes, repeats)
    out: list[TierSlice] = []
    if after > before:
        _walk(out, sizes, repeats, before, after, entered, due)
    if due <= entered:
        return out
    # Occurrences entered now that the draw does not touch: below it when boundaries moved down under the
    # counter, above it only for a re-pricing's own ``due``.  Ordinal k + 1 without repeats is no tier.
    top = due if repeats else min(due, len(sizes))
    if not out:
        return [_untouched(sizes, ordinal) for ordinal in range(entered + 1, top + 1)]
    first = _ordinal(sizes, out[0])
    last = _ordinal(sizes, out[-1])
    below = [_untouched(sizes, ordinal) for ordinal in range(entered + 1, min(top, first - 1) + 1)]
    above = [_untouched(sizes, ordinal) for ordinal in range(max(entered, last) + 1, top + 1)]
    return below + out + above if below or above else out


def _ordinal(sizes: Sequence[int], part: TierSlice) -> int:
    return part.tier if part.repeat == 0 else len(sizes) + part.repeat


def _untouched(sizes: Sequence[int], ordinal: int) -> TierSlice:
    tier, repeat, start, end = _occurrence(sizes, ordinal)
    return TierSlice(tier, repeat, 0, True, start, end)


def _walk(
    out: list[TierSlice], sizes: Sequence[int], repeats: bool, before: int, after: int, entered: int, due: int
) -> None:
    total = sum(sizes)
    start = 0
    if not (repeats and before > total):
        for tier, size in enumerate(sizes, start=1):
            end = start + size
            if start >= after:
                return
            if end > before:
                out.append(TierSlice(tier, 0, min(end, after) - max(start, before), entered < tier <= due, start, end))
            start = end
        if not repeats:
            return
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
            ordinal = tier + repeat
            out.append(
                TierSlice(tier, repeat, min(end, after) - max(start, before), entered < ordinal <= due, start, end)
            )
        start = end
        repeat += 1


def tier_at(sizes: Sequence[int], repeats: bool, consumed: int) -> tuple[int, int]:
    """(tier, repeat) that unit ``consumed`` falls in; (0, 0) before any usage (balances, R15)."""
    if consumed <= 0:
        return 0, 0
    found = slices(sizes, repeats, consumed - 1, consumed, 0, 0)  # the walk only: nothing is entered here
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
    for part in slices(sizes, repeats, before, after, 0, 0):
        size = part.end - part.start
        for percent in sorted(set(percents)):
            mark = part.start + -(-percent * size // 100)
            if before < mark <= after:
                crossed.append((part.tier, part.repeat, percent))
    return crossed
