"""``rater demo``: the generated stream through the real pipeline loses nothing and charges nothing twice.

* The generator is deterministic, validates against the example catalog, and has the shares the demo
  promises (~2% late, ~1% unrateable).
* In process, on the session's broker and Redis (the ``KAFKA_BOOTSTRAP`` / ``REDIS_URL`` path): 2,000
  records, every one with exactly one outcome; the exceptions are exactly the unrateable records, each with
  its type; the Redis balances equal the last draws the outputs show.
* As a fresh clone runs it: ``rater demo --records 2000 --json`` starts its own broker and valkey-server and
  prints one JSON line with the issue's fields; exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.dev.demo import DemoOptions, run_demo
from streams.dev.demo_data import INJECTED_TYPES, build_scenario, generate_usage, load_demo, write_folder

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {
    "records",
    "rated",
    "exceptions",
    "lost",
    "duplicated",
    "redelivered",
    "records_per_s",
    "latency_ms_p50",
    "latency_ms_p99",
}


def test_generated_stream_is_deterministic_and_valid(tmp_path: Path) -> None:
    scenario = build_scenario(7)
    records = generate_usage(scenario, 20_000, 7)
    again = generate_usage(build_scenario(7), 20_000, 7)
    assert [r.body for r in records] == [r.body for r in again]
    assert len({r.record_id for r in records}) == 20_000
    kinds = [r.kind for r in records]
    unrateable = sum(1 for kind in kinds if kind in INJECTED_TYPES)
    assert 0.008 * 20_000 <= unrateable <= 0.012 * 20_000
    assert 0.015 * 20_000 <= kinds.count("late") <= 0.025 * 20_000
    write_folder(tmp_path, scenario)
    _, subscriptions = load_demo(tmp_path)  # raises ValidationFailed on any error
    assert len(subscriptions.uids) >= 250
    assert len(subscriptions.services) >= 300


@pytest.mark.e2e
def test_demo_in_process_loses_nothing_and_doubles_nothing(
    kafka_bootstrap: str, e2e_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("REDIS_URL", e2e_redis_url)
    report = run_demo(DemoOptions(records=2000, progress=False, timeout=60))
    assert set(report) >= FIELDS
    assert report["lost"] == 0
    assert report["duplicated"] == 0
    assert report["unexpected"] == 0
    assert report["rated"] + sum(report["exceptions"].values()) == report["records"] == 2000
    assert report["records_per_s"] > 0
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_p99"]
    # every unrateable record comes out as its exception type, and nothing else is an exception
    assert report["exceptions"] == report["injected"]
    assert {"invalid_record", "no_usage_identifier_match"} <= set(report["exceptions"])
    assert report["crossings"] > 0
    assert report["balances_checked"] > 0
    assert report["balances_match_outputs"]


@pytest.mark.e2e
def test_rater_demo_json_on_a_fresh_clone(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--records", "2000", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1
    report = orjson.loads(lines[0])
    assert set(report) >= FIELDS
    assert report["lost"] == 0
    assert report["duplicated"] == 0
    assert report["rated"] + sum(report["exceptions"].values()) == report["records"] == 2000
    assert report["records_per_s"] > 0
    assert {"invalid_record", "no_usage_identifier_match"} <= set(report["exceptions"])
