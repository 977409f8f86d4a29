"""Every worked-example folder under ``examples/`` rated through ``rater rate DIR --summary`` gives exactly the
results in its ``expected.yaml``, which are computed by hand from domain-spec §3 (see each file's comments).

``expected.yaml`` has:

* ``summary``: keys compared exactly with the ``--summary`` line;
* ``outcomes``: one entry per record id, in file order.  ``exception: TYPE`` expects a rating exception of
  that type; any other key is compared with the rated-charge event (``total_amount``, ``location``, ...)
  or, when the event has no such key, with its first charge line (``rate_group``, ``billable_quantity``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from rater.cli import main
from rater.yamlio import load_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FOLDERS = sorted(path for path in EXAMPLES.iterdir() if (path / "expected.yaml").is_file())


def _rate(folder: Path, out: Path) -> list[dict[str, Any]]:
    assert main(["rate", str(folder), "--summary", "-o", str(out)]) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def _plain(value: Any) -> Any:
    """YAML decimals and ints as the JSON output spells them."""
    return value if isinstance(value, (str, int, dict, list)) or value is None else str(value)


def test_examples_exist() -> None:
    """The issue's required folders are all present (E7, E22, E23, E25)."""
    names = {folder.name.split("-")[0] for folder in FOLDERS}
    assert {"E07", "E22", "E23", "E25"} <= names


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_example_matches_expected(folder: Path, tmp_path: Path) -> None:
    expected = load_yaml(folder / "expected.yaml")
    *events, summary = _rate(folder, tmp_path / "out.jsonl")

    for key, value in expected["summary"].items():
        assert summary[key] == _plain(value), f"summary {key}"
    assert summary["records"] == summary["rated"] + sum(summary["exceptions"].values())

    assert [event["record_id"] for event in events] == list(expected["outcomes"])
    for event in events:
        want = expected["outcomes"][event["record_id"]]
        if "exception" in want:
            assert event["schema"] == "rating-exception/1"
            assert event["type"] == want["exception"]
            continue
        assert event["schema"] == "rated-charge/1", event.get("message")
        for key, value in want.items():
            actual = event[key] if key in event else event["charges"][0][key]
            assert actual == _plain(value), f"{event['record_id']} {key}"


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_rating_twice_gives_identical_output(folder: Path, tmp_path: Path) -> None:
    """Offline rating is deterministic: the same folder rated twice gives the same bytes."""
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    _rate(folder, first)
    _rate(folder, second)
    assert first.read_bytes() == second.read_bytes()
