"""GeoTree lookup and coverage (rater.geotree): R4, R4a (longest prefix), R4b (descendant coverage).

Tree (from tests/unit/_builders.py)::

    EVERYWHERE
      NORTH-AMERICA   pattern "1"
        USA
          HAWAII      pattern "1808"
        CANADA
      EUROPE
        UK            pattern "44"
    location group ISLANDS = {HAWAII, UK};  location group AMERICAS-AND-UK = {USA, UK}
"""

from __future__ import annotations

import copy

import pytest

from rater.catalog.model import GeoTree
from rater.geotree import GeoIndex, normalise_identifier
from tests.unit._builders import GEOTREE


@pytest.fixture(scope="module")
def geo() -> GeoIndex:
    tree = copy.deepcopy(GEOTREE)
    tree["location_groups"].append({"id": "AMERICAS-AND-UK", "locations": ["USA", "UK"]})
    return GeoIndex.build(GeoTree.model_validate(tree))


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("+18085551234", "HAWAII"),  # "1808" (4 chars) beats "1" (1 char)
        ("18085551234", "HAWAII"),
        ("1808", "HAWAII"),  # the pattern itself
        ("180", "NORTH-AMERICA"),  # shorter than "1808": only "1" prefixes it
        ("+1 416-555-1234", "NORTH-AMERICA"),  # -> "14165551234": only "1" prefixes it
        ("+447700900123", "UK"),
        ("33123456789", None),  # France: no pattern
        ("", None),
        ("+", None),  # normalises to nothing
        (None, None),
    ],
)
def test_locate_longest_prefix(geo: GeoIndex, identifier: str | None, expected: str | None) -> None:
    """R4/R4a: the node of the longest pattern that prefixes the normalised identifier, else None.
    "+18085551234" -> "18085551234": prefixes "1" (North America) and "1808" (Hawaii); longest is Hawaii."""
    assert geo.locate(identifier) == expected


def test_normalise_identifier_drops_plus_spaces_and_dashes() -> None:
    """docs/events.md: "+", spaces and dashes are ignored: "+1 416-555-1234" -> "14165551234"."""
    assert normalise_identifier(" +1 416-555-1234 ") == "14165551234"


@pytest.mark.parametrize(
    ("location", "node", "expected"),
    [
        ("NORTH-AMERICA", "HAWAII", True),  # ancestor covers descendant (two levels down)
        ("EVERYWHERE", "HAWAII", True),  # the root covers everything
        ("USA", "HAWAII", True),
        ("HAWAII", "HAWAII", True),  # a node covers itself
        ("HAWAII", "NORTH-AMERICA", False),  # never the reverse
        ("HAWAII", "USA", False),
        ("CANADA", "HAWAII", False),  # a sibling branch
        ("UK", "HAWAII", False),
        ("NORTH-AMERICA", "NO-SUCH-NODE", False),
    ],
)
def test_location_covers_itself_and_its_descendants(geo: GeoIndex, location: str, node: str, expected: bool) -> None:
    """R4b: L covers N when N is L or a descendant of L (NORTH-AMERICA covers HAWAII, not the reverse)."""
    assert geo.covers(location, node) is expected


@pytest.mark.parametrize(
    ("group", "node", "expected"),
    [
        ("ISLANDS", "HAWAII", True),  # a member
        ("ISLANDS", "UK", True),
        ("ISLANDS", "USA", False),  # HAWAII's parent is not covered by its member HAWAII
        ("ISLANDS", "CANADA", False),
        ("AMERICAS-AND-UK", "HAWAII", True),  # a member's descendant (USA covers HAWAII)
        ("AMERICAS-AND-UK", "USA", True),
        ("AMERICAS-AND-UK", "CANADA", False),  # NORTH-AMERICA's other child: USA does not cover it
        ("AMERICAS-AND-UK", "NORTH-AMERICA", False),
        ("NO-SUCH-GROUP", "HAWAII", False),
    ],
)
def test_location_group_covers_members_and_their_descendants(
    geo: GeoIndex, group: str, node: str, expected: bool
) -> None:
    """R4b: a location group covers N when any member covers N ({USA, UK} covers HAWAII through USA)."""
    assert geo.group_covers(group, node) is expected


@pytest.mark.parametrize(
    ("location", "group", "node", "expected"),
    [
        (None, None, "HAWAII", True),  # no location and no group: anywhere
        (None, None, None, True),  # including usage with no location (Class-rated classes)
        ("NORTH-AMERICA", None, None, False),  # a located rate never matches unlocated usage
        (None, "ISLANDS", None, False),
        ("NORTH-AMERICA", None, "HAWAII", True),
        ("UK", None, "HAWAII", False),
        (None, "ISLANDS", "HAWAII", True),
        (None, "ISLANDS", "CANADA", False),
        ("UK", "ISLANDS", "HAWAII", True),  # the group covers it even though the location does not
    ],
)
def test_matches(geo: GeoIndex, location: str | None, group: str | None, node: str | None, expected: bool) -> None:
    """R4b/R28: a rate or bucket detail applies when it names nothing, or its location or group covers the node."""
    assert geo.matches(location, group, node) is expected


def test_numeric_patterns_are_text() -> None:
    """§1.7: a pattern written as a YAML number (1519249) is the same pattern as the text "1519249"."""
    tree = GeoTree.model_validate({"nodes": [{"id": "ZONE-1", "patterns": [1519249]}]})
    assert GeoIndex.build(tree).locate("+1 519 249 0000") == "ZONE-1"
