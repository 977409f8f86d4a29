"""Architecture property 7: an unavailable state store is retried in place, never skipped, never acked.

The Redis server (durable: AOF with appendfsync always) is SIGKILLed while a worker rates a stream; more
records arrive while it is down; the worker stays up, retrying; the server comes back on the same port.
Every record ends with exactly one distinct outcome, equal to the offline one, and the balances equal the
offline run's: the batch that was in flight when the server died was retried, and its records that had
already drawn were replayed, not drawn twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from streams.configuration.topics import EXCEPTIONS, RATED
from streams.dev.servers import RedisServer
from tests.e2e._stream import Collector, Stream, independent_accounts
from tests.e2e.test_effectively_once import _offline, _redis_balances

pytestmark = pytest.mark.e2e


def test_worker_waits_out_a_store_outage(kafka_bootstrap: str, tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    independent_accounts(folder, accounts=40, records=4000, seed=9)
    expected, offline_balances = _offline(folder)
    server = RedisServer(durable=True).start()
    stream = Stream(kafka_bootstrap, server.url, folder, tmp_path, usage_partitions=2)
    collector = Collector(kafka_bootstrap, [stream.topic(RATED), stream.topic(EXCEPTIONS)])
    try:
        stream.create_topics()
        worker = stream.start_worker()
        assert stream.produce(upto=2000) == 2000
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(collector.collect(500, 5)) < 500:
            pass
        assert len(collector.seen) >= 500, stream.worker_logs()
        server.kill()
        assert stream.produce(start=2000) == 2000
        time.sleep(4)  # the worker retries against a dead store
        assert worker.poll() is None, "the worker must wait, not crash"
        stuck = len(collector.collect(4000, 3))
        assert stuck < 4000, "nothing can be rated while the store is down"
        server.restart()
        seen = collector.collect(4000, 120)
        balances = asyncio.run(_redis_balances(server.url, list(offline_balances)))
    finally:
        stream.stop_workers()
        server.stop()
    assert len(seen) == 4000, f"lost {4000 - len(seen)}\n{stream.worker_logs()}"
    for record_id, bodies in seen.items():
        assert len({repr(body) for body in bodies}) == 1, record_id
        assert bodies[0] == expected[record_id], record_id
    assert balances == offline_balances
