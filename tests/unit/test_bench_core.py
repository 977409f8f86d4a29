"""``rater bench core``: one JSON line with the core's speed on the demo stream, every record accounted for."""

from __future__ import annotations

import orjson
import pytest

from streams.cli.main import main
from streams.dev.demo_data import build_scenario, generate_usage, injected_exceptions


def test_bench_core_prints_one_json_line_that_accounts_for_every_record(capsys: pytest.CaptureFixture[str]) -> None:
    """2,000 demo records (seed 7) in batches of 256: the line names its command, and rated + exceptions =
    2,000 with exactly the unrateable records the generator injected as exceptions (1%: 20)."""
    assert main(["bench", "core", "--records", "2000", "--batch", "256"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    result = orjson.loads(line)
    injected = sum(injected_exceptions(generate_usage(build_scenario(7), 2000, 7)).values())
    assert injected == 20
    assert (result["records"], result["rated"], result["exceptions"]) == (2000, 2000 - injected, injected)
    assert result["command"] == "rater bench core --records 2000 --batch 256"
    assert result["records_per_s"] > 0
    assert result["us_per_record"] == pytest.approx(1e6 / result["records_per_s"], rel=0.01)
