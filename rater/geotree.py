"""GeoTree location lookup and coverage (R4, R4a, R4b).

The tree is compiled once per catalog load into flat dictionaries so that a lookup is at most one dict
probe per character of the terminating identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rater.catalog.model import GeoNode, GeoTree


def normalise_identifier(identifier: str) -> str:
    """Terminating identifiers are matched without spaces, dashes and a leading ``+`` (E.164 style)."""
    return identifier.strip().lstrip("+").replace(" ", "").replace("-", "")


@dataclass(frozen=True, slots=True)
class GeoIndex:
    """Compiled GeoTree.

    * ``ancestors[n]``: ``n`` and every node above it, nearest first (R4b coverage is membership).
    * ``patterns``: pattern text -> node id.
    * ``groups``: location group id -> member node ids.
    """

    ancestors: Mapping[str, tuple[str, ...]]
    patterns: Mapping[str, str]
    groups: Mapping[str, frozenset[str]]
    longest_pattern: int

    @classmethod
    def build(cls, tree: GeoTree) -> GeoIndex:
        ancestors: dict[str, tuple[str, ...]] = {}
        patterns: dict[str, str] = {}

        def walk(nodes: Iterable[GeoNode], above: tuple[str, ...]) -> None:
            for node in nodes:
                chain = (node.id, *above)
                ancestors.setdefault(node.id, chain)
                for pattern in node.patterns:
                    patterns.setdefault(normalise_identifier(pattern), node.id)
                walk(node.children, chain)

        walk(tree.nodes, ())
        groups = {group.id: frozenset(group.locations) for group in tree.location_groups}
        return cls(ancestors, patterns, groups, max((len(p) for p in patterns), default=0))

    def locate(self, terminating_identifier: str | None) -> str | None:
        """R4/R4a: the node of the longest pattern that prefixes the identifier, or ``None`` (no match)."""
        if not terminating_identifier:
            return None
        text = normalise_identifier(terminating_identifier)
        for length in range(min(len(text), self.longest_pattern), 0, -1):
            node = self.patterns.get(text[:length])
            if node is not None:
                return node
        return None

    def covers(self, location: str, node: str) -> bool:
        """R4b: ``location`` covers ``node`` when ``node`` is ``location`` or one of its descendants."""
        return location in self.ancestors.get(node, ())

    def group_covers(self, group: str, node: str) -> bool:
        """R4b: a location group covers ``node`` when any of its members covers it."""
        members = self.groups.get(group, frozenset())
        return any(ancestor in members for ancestor in self.ancestors.get(node, ()))

    def matches(self, location: str | None, group: str | None, node: str | None) -> bool:
        """Does a rate or bucket detail with this ``location``/``group`` apply to usage at ``node``?

        No location and no group means "anywhere", including usage with no location (Class-rated classes).
        """
        if location is None and group is None:
            return True
        if node is None:
            return False
        if location is not None and self.covers(location, node):
            return True
        return group is not None and self.group_covers(group, node)
