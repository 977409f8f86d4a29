"""``rater bench kernel``: the Redis draw-down kernel against a trivial script, same server, same run.

Both sides send ``records`` calls in pipelines of ``batch`` (one round trip per batch), from ``clients``
concurrent coroutines on their own connections:

* baseline: a script doing one HINCRBY (EVALSHA), the cheapest call a script can make;
* kernel: ``rater_draw`` for realistic records: a service bucket, an account bucket and a share-plan pool
  with a participation limit each (three counters), over ``records / 250`` sharing roots of 10 services,
  so a service bucket sees about 25 records in the run and a period's first draw (which does more work)
  is a few percent of draws, as in a stream.

The figures printed are ``records_per_s``, ``baseline_per_s``, their ``ratio`` and
``round_trips_per_record`` (pipelines executed / records).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from rater.keys import bucket_key, record_key
from rater.redis_store import RedisStore, connect
from rater.state import Counter, DrawRequest
from streams.servers import RedisServer

BASELINE = "return redis.call('HINCRBY', KEYS[1], 'n', 1)"


@dataclass(frozen=True)
class KernelBench:
    records_per_s: float
    baseline_per_s: float
    round_trips_per_record: float
    batch: int
    records: int
    clients: int

    @property
    def ratio(self) -> float:
        return self.records_per_s / self.baseline_per_s

    def to_dict(self) -> dict[str, float | int]:
        return {
            "records_per_s": round(self.records_per_s),
            "baseline_per_s": round(self.baseline_per_s),
            "ratio": round(self.ratio, 3),
            "round_trips_per_record": round(self.round_trips_per_record, 4),
            "batch": self.batch,
            "records": self.records,
            "clients": self.clients,
        }


def _requests(records: int, roots: int, seed: int = 7) -> list[DrawRequest]:
    rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
    out = []
    for number in range(records):
        root = f"ACC-{rng.randrange(roots)}"
        service = f"AS-{rng.randrange(10)}"
        counters = (
            Counter(bucket_key(root, f"{service}/DATA"), 0, allowance=5_000_000_000),
            Counter(bucket_key(root, f"{root}/DATA-SHARED"), 0, allowance=20_000_000_000),
            Counter(
                bucket_key(root, f"{root}/SP/POOL"),
                0,
                allowance=100_000_000_000,
                rollover=True,
                full_allowance=100_000_000_000,
                limit_field=f"l:0:{service}",
                limit=10_000_000_000,
            ),
        )
        out.append(DrawRequest(record_key(root, f"r-{number}"), rng.randrange(1, 50_000_000), counters))
    return out


async def _clients_run(url: str, clients: int, work: Callable[[Redis, int], Awaitable[int]]) -> tuple[float, int]:
    connections = [connect(url) for _ in range(clients)]
    try:
        started = time.perf_counter()
        trips = await asyncio.gather(*(work(client, index) for index, client in enumerate(connections)))
        return time.perf_counter() - started, sum(trips)
    finally:
        for client in connections:
            await client.aclose()


async def run_kernel_bench(url: str, records: int, batch: int, clients: int, rounds: int = 5) -> KernelBench:
    """``rounds`` alternating rounds of baseline then kernel, each over ``records / rounds`` fresh records;
    the figures are the medians, so a burst of load on the machine hits both sides alike."""
    per_round = max(batch, records // rounds)
    requests = _requests(per_round * rounds, roots=max(1, records // 250))

    def baseline(offset: int) -> Callable[[Redis, int], Awaitable[int]]:
        async def work(client: Redis, index: int) -> int:
            script = client.register_script(BASELINE)
            trips = 0
            for start in range(index * batch, per_round, batch * clients):
                pipe = client.pipeline(transaction=False)
                for number in range(start, min(start + batch, per_round)):
                    await script(keys=[f"bench:{{{(offset + number) % 997}}}"], client=pipe)
                await pipe.execute()
                trips += 1
            return trips

        return work

    def kernel(offset: int) -> Callable[[Redis, int], Awaitable[int]]:
        async def work(client: Redis, index: int) -> int:
            store = RedisStore(client)
            trips = 0
            for start in range(index * batch, per_round, batch * clients):
                await store.draw_many(requests[offset + start : offset + min(start + batch, per_round)])
                trips += 1
            return trips

        return work

    flush = connect(url)
    await flush.flushdb()
    await RedisStore(flush).load()
    await flush.aclose()
    await _clients_run(url, clients, baseline(0))  # warm-up: load the script, open connections
    base_rates: list[float] = []
    kernel_rates: list[float] = []
    trips = 0
    for round_index in range(rounds):
        seconds, _ = await _clients_run(url, clients, baseline(round_index * per_round))
        base_rates.append(per_round / seconds)
        seconds, round_trips = await _clients_run(url, clients, kernel(round_index * per_round))
        kernel_rates.append(per_round / seconds)
        trips += round_trips
    return KernelBench(
        records_per_s=statistics.median(kernel_rates),
        baseline_per_s=statistics.median(base_rates),
        round_trips_per_record=trips / (per_round * rounds),
        batch=batch,
        records=per_round * rounds,
        clients=clients,
    )


def kernel_bench(records: int, batch: int, clients: int, url: str | None = None) -> KernelBench:
    """Run against ``url`` (``REDIS_URL``), or an embedded valkey-server started for the run."""
    url = url or os.environ.get("REDIS_URL")
    if url:
        return asyncio.run(run_kernel_bench(url, records, batch, clients))
    with RedisServer() as server:
        return asyncio.run(run_kernel_bench(server.url, records, batch, clients))


def describe(args: Sequence[str]) -> str:
    return "rater bench kernel " + " ".join(args)
