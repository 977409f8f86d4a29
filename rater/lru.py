"""A bounded least-recently-used map: the one cache shape of the rating core.

The core memoises pure results (resolutions, rates) per configuration; a deployment with millions of
subscribers must not keep one entry per subscriber forever, nor drop every entry at once when a bound is hit
(a clear-all makes every record after it a miss).  Entries past ``limit`` leave oldest-used first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``limit`` entries; :meth:`get` marks an entry used, :meth:`put` evicts the least used."""

    __slots__ = ("_entries", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("an LRU holds at least one entry")
        self.limit = limit
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
