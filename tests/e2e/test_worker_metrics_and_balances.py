"""A worker on the embedded stack serves its metrics, and balances read after the stream equal offline.

600 SMS records of 6 independent accounts (E1's SMS200 bucket, R15-R19) plus 4 records of an unknown usage
identifier (R2) stream through one worker with ``RATER_METRICS_PORT`` set.  Its ``/metrics`` must count
exactly 600 rated records and 4 ``no_usage_identifier_match`` exceptions, 604 end-to-end latencies, batches
adding up to 604 records, timed store draws, and a consumer lag of 0 once everything is rated.  Every
account's balance view read from Redis equals the one computed over the offline run's memory store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
import redis

from rater.balances import Balances
from rater.memory_store import MemoryStore
from rater.offline import Summary, load_folder, rate_lines
from rater.rating import Rater
from rater.redis_store import connect, read_hashes
from streams.configuration.topics import EXCEPTIONS, RATED
from tests.e2e._stream import Collector, Stream, independent_accounts

pytestmark = pytest.mark.e2e

RECORDS = 600
UNKNOWN = 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _samples(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("rater_"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


async def _views(redis_url: str, balances: Balances, at: dt.datetime) -> dict[str, object]:
    client = connect(redis_url)
    try:
        out: dict[str, object] = {}
        for account in balances.subscriptions.accounts:
            selection = balances.account(account)
            out[account] = balances.view(selection, await read_hashes(client, selection.keys), at).to_dict()
        return out
    finally:
        await client.aclose()


def test_worker_metrics_and_balances_after_a_stream(
    kafka_bootstrap: str, e2e_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "scenario"
    independent_accounts(folder, accounts=6, records=RECORDS, seed=5)
    stray = [
        orjson.dumps(
            {
                "record_id": f"stray-{n}",
                "usage_identifier": "+19999999999",
                "usage_class": "SMS",
                "quantity": 1,
                "event_time": "2026-03-05T10:00:00Z",
            }
        )
        for n in range(UNKNOWN)
    ]
    with (folder / "usage.jsonl").open("ab") as usage:
        usage.write(b"\n".join(stray) + b"\n")
    catalog, subscriptions = load_folder(folder)
    memory = MemoryStore()
    lines = iter((folder / "usage.jsonl").read_bytes().splitlines())
    for _ in rate_lines(Rater(catalog, subscriptions), lines, Summary(catalog.owner.currency), "usage", store=memory):
        pass
    with redis.Redis.from_url(e2e_redis_url) as client:
        client.flushdb()
    port = _free_port()
    monkeypatch.setenv("RATER_METRICS_PORT", str(port))
    stream = Stream(kafka_bootstrap, e2e_redis_url, folder, tmp_path, usage_partitions=1)
    stream.create_topics()
    stream.start_worker()
    try:
        assert stream.produce() == RECORDS + UNKNOWN
        seen = Collector(kafka_bootstrap, [stream.topic(RATED), stream.topic(EXCEPTIONS)]).collect(
            RECORDS + UNKNOWN, 120
        )
        assert len(seen) == RECORDS + UNKNOWN, stream.worker_logs()
        lag = f'rater_consumer_lag{{partition="0",topic="{stream.topic("usage")}"}}'
        deadline = time.monotonic() + 20
        samples = _samples(port)
        while time.monotonic() < deadline and (
            samples.get("rater_end_to_end_seconds_count", 0) < RECORDS + UNKNOWN or samples.get(lag) != 0
        ):
            time.sleep(0.2)
            samples = _samples(port)
    finally:
        stream.stop_workers()
    assert samples["rater_records_rated_total"] == RECORDS
    assert samples['rater_rating_exceptions_total{type="no_usage_identifier_match"}'] == UNKNOWN
    assert samples["rater_end_to_end_seconds_count"] == RECORDS + UNKNOWN
    assert samples["rater_batch_records_sum"] == RECORDS + UNKNOWN
    assert samples['rater_redis_seconds_count{operation="draw"}'] >= 1
    assert samples[lag] == 0
    balances = Balances(catalog, subscriptions)
    at = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    expected = {
        account: balances.view(balances.account(account), memory.hashes, at).to_dict()
        for account in subscriptions.accounts
    }
    assert asyncio.run(_views(e2e_redis_url, balances, at)) == expected
    used = sum(bucket["used"] for view in expected.values() for bucket in view["buckets"])
    assert used > 0
