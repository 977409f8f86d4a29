"""rater.lru.LRU: the core's one bounded cache shape."""

from __future__ import annotations

import pytest

from rater.lru import LRU


def test_the_least_recently_used_entry_leaves_first() -> None:
    """Limit 2: put a, b; get a (a is now the most recent); put c evicts b, not a."""
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert ("a" in cache, "b" in cache, "c" in cache, len(cache)) == (True, False, True, 2)
    assert cache.get("b") is None


def test_put_answers_the_value_and_replaces_in_place() -> None:
    cache: LRU[str, int] = LRU(3)
    assert cache.put("a", 1) == 1
    assert cache.put("a", 5) == 5
    assert (cache.get("a"), len(cache)) == (5, 1)


def test_an_empty_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LRU(0)
