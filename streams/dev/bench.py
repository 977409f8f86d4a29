"""``rater bench kernel``: the Redis draw-down kernel against a trivial script, same server, same run.

Both sides send ``records`` calls in pipelines of ``batch`` (one round trip per batch), from ``clients``
concurrent coroutines on their own connections:

* baseline: a script doing one HINCRBY (EVALSHA), the cheapest call a script can make;
* kernel: ``rater_draw`` for realistic records: a service bucket of two tiers, an account bucket of one and
  a share-plan pool of two with a participation limit, each keeping its tier entries as the resolver's
  counters do (three counters), over ``records / 250`` sharing roots of 10 services,
  so a service bucket sees about 25 records in the run and a period's first draw (which does more work)
  is a few percent of draws, as in a stream.

The figures printed are ``records_per_s``, ``baseline_per_s``, their ``ratio`` and
``round_trips_per_record`` (pipelines executed / records).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from rater.keys import bucket_key, record_key
from rater.redis_store import RedisStore, connect
from rater.state import Counter, DrawRequest
from streams.configuration.topics import EXCEPTIONS, OUTPUTS, RATED, USAGE, TopicSpec, create_topics
from streams.dev.servers import KafkaBroker, RedisServer, stop_process
from streams.kafka import start_producer
from streams.settings import Settings, child_environment

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
            Counter(bucket_key(root, f"{service}/DATA"), 0, allowance=5_000_000_000, tier_ends=(4_000_000_000,)),
            Counter(bucket_key(root, f"{root}/DATA-SHARED"), 0, allowance=20_000_000_000, tier_ends=()),
            Counter(
                bucket_key(root, f"{root}/SP/POOL"),
                0,
                allowance=100_000_000_000,
                rollover=True,
                full_allowance=100_000_000_000,
                limit_field=f"l:0:{service}",
                limit=10_000_000_000,
                tier_ends=(80_000_000_000,),
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
    url = url or Settings.from_env(need=()).redis_url
    if url:
        return asyncio.run(run_kernel_bench(url, records, batch, clients))
    with RedisServer() as server:
        return asyncio.run(run_kernel_bench(server.url, records, batch, clients))


def describe(args: Sequence[str]) -> str:
    return "rater bench kernel " + " ".join(args)


# --- end to end ------------------------------------------------------------------------------------------

E2E_CATALOG = """
owner: {id: OWNER, currency: USD}
usage_classes:
  - {id: SMS, rater: class, unit_type: count}
  - {id: DATA, rater: class, unit_type: data}
rate_plans:
  - id: RP
    precision: 2
    rate_groups:
      - id: G
        currency: USD
        rates:
          - {class: SMS, amount: 0.10, per: message}
          - {class: DATA, amount: 1.00, per: GB}
base_buckets:
  - {id: BB-SMS, unit_type: count, details: [{class: SMS}]}
  - {id: BB-DATA, unit_type: data, details: [{class: DATA}]}
usage_buckets:
  - id: SMS200
    base_buckets: [BB-SMS]
    recur_frequency: 1 month
    overage_rate_plan: RP
    tiers: [{threshold: 100}, {threshold: 100, flat_charge: 5.00}]
  - id: DATA5
    base_buckets: [BB-DATA]
    recur_frequency: 1 month
    overage_rate_plan: RP
    last_tier_repeats: true
    tiers: [{threshold: 4 GB}, {threshold: 1 GB, flat_charge: 2.00}]
services:
  - {id: SVC-PHONE, usage_buckets: [SMS200, DATA5]}
packages:
  - {id: PKG, services: [SVC-PHONE]}
"""


def e2e_scenario(folder: Path, records: int, accounts: int = 400, seed: int = 3) -> list[tuple[bytes, bytes]]:
    """Write a catalog and subscriptions of ``accounts`` phones to ``folder``; return (key, value) records:
    SMS and data sessions over March, each phone's records in time order."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.yaml").write_text(E2E_CATALOG)
    lines = ["accounts:"]
    for n in range(accounts):
        lines += [
            f"  - id: ACC-{n}",
            "    packages:",
            f"      - {{id: AP-{n}, package: PKG, effective: 2026-03-01, services: [{{id: AS-{n}, service: SVC-PHONE, "
            f'usage_identifiers: [{{uid: "U{n}", start: 2026-03-01}}]}}]}}',
        ]
    (folder / "subscriptions.yaml").write_text("\n".join(lines) + "\n")
    rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
    seen = [0] * accounts
    out = []
    for number in range(records):
        phone = rng.randrange(accounts)
        seen[phone] += 1
        minute = seen[phone]
        when = f"2026-03-{1 + minute // 1440:02d}T{(minute // 60) % 24:02d}:{minute % 60:02d}:00Z"
        if rng.random() < 0.6:
            body = {"usage_class": "SMS", "quantity": 1}
        else:
            body = {"usage_class": "DATA", "quantity": str(rng.randrange(1, 200)), "unit": "MB"}
        record = {"record_id": f"b-{number}", "usage_identifier": f"U{phone}", "event_time": when, **body}
        out.append((f"U{phone}".encode(), orjson.dumps(record)))
    return out


@dataclass(frozen=True)
class Phase:
    records_per_s: float
    latencies_ms: list[float]


async def _group_ready(bootstrap: str, group: str, timeout: float = 60.0) -> None:
    """Wait until the worker's consumer group is stable with a member holding the partitions."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        if any(state == "Stable" and members for _, _, state, _, _, members in response.groups):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"consumer group {group} did not become stable in {timeout} s")
        await asyncio.sleep(0.5)


async def _run_phase(
    bootstrap: str, settings_env: dict[str, str], module: str, data: list[tuple[bytes, bytes]], outputs: list[str]
) -> Phase:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    worker = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", module], env=settings_env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        await _group_ready(bootstrap, settings_env["RATER_APP_ID"])
        consumer = AIOKafkaConsumer(*outputs, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        producer = await start_producer(bootstrap, linger_ms=5)
        sent: dict[str, float] = {}
        latencies: list[float] = []
        started = time.perf_counter()
        last = started

        async def produce() -> None:
            for key, value in data:
                sent[orjson.loads(value)["record_id"]] = time.perf_counter()
                await producer.send(settings_env["RATER_TOPIC_PREFIX"] + USAGE, key=key, value=value)
            await producer.flush()

        producing = asyncio.create_task(produce())
        deadline = started + 600
        while len(latencies) < len(data) and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    record_id = orjson.loads(record.value or b"{}").get("record_id")
                    if record_id in sent:
                        latencies.append((now - sent.pop(record_id)) * 1000)
                        last = now
        await producing
        await producer.stop()
        await consumer.stop()
        if len(latencies) < len(data):
            raise RuntimeError(f"{module}: {len(data) - len(latencies)} records without output")
        return Phase(len(data) / (last - started), latencies)
    finally:
        stop_process(worker, timeout=30)
        log.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _e2e(bootstrap: str, redis_url: str, records: int, batch: int, partitions: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = e2e_scenario(folder, records)
        flush = connect(redis_url)
        await flush.flushdb()
        await flush.aclose()
        phases: dict[str, Phase] = {}
        for name, module, consumer, outputs in (
            ("passthrough", "streams.dev.passthrough", "faust", ["rated-charges"]),
            ("lean_passthrough", "streams.dev.passthrough", "lean", ["rated-charges"]),
            ("rating", "streams.worker", "lean", [RATED, EXCEPTIONS]),
        ):
            prefix = f"bench-{name}-{random.randrange(10**8)}-"  # noqa: S311
            env = child_environment(
                {
                    "KAFKA_BOOTSTRAP": bootstrap,
                    "REDIS_URL": redis_url,
                    "RATER_CONFIG": str(folder),
                    "RATER_APP_ID": f"{prefix}group",
                    "RATER_TOPIC_PREFIX": prefix,
                    "RATER_USAGE_PARTITIONS": str(partitions),
                    "RATER_OUTPUT_PARTITIONS": str(partitions),
                    "RATER_BATCH_SIZE": str(batch),
                    "RATER_TICK_INTERVAL": "0",
                    "RATER_LOG_LEVEL": "warning",
                    "RATER_CONSUMER": consumer,
                }
            )
            specs = [TopicSpec(prefix + topic, partitions) for topic in (USAGE, *OUTPUTS)]
            await create_topics(bootstrap, specs)
            phases[name] = await _run_phase(bootstrap, env, module, data, [prefix + topic for topic in outputs])
    rating = phases["rating"]
    passthrough = phases["passthrough"]
    lean = phases["lean_passthrough"]
    return {
        "records_per_s": round(rating.records_per_s),
        "passthrough_per_s": round(passthrough.records_per_s),
        "ratio": round(rating.records_per_s / passthrough.records_per_s, 3),
        "lean_passthrough_per_s": round(lean.records_per_s),
        "lean_ratio": round(rating.records_per_s / lean.records_per_s, 3),
        "latency_ms_p50": round(_percentile(rating.latencies_ms, 0.5), 1),
        "latency_ms_p99": round(_percentile(rating.latencies_ms, 0.99), 1),
        "records": records,
        "batch": batch,
        "partitions": partitions,
        "workers": 1,
    }


def e2e_bench(records: int, batch: int, partitions: int) -> dict[str, float | int]:
    """One rating worker against one pass-through worker, same stack, same records, same run."""
    given = Settings.from_env(need=())
    bootstrap, redis_url = given.kafka_bootstrap, given.redis_url
    with contextlib.ExitStack() as stack:
        if not bootstrap:
            bootstrap = stack.enter_context(KafkaBroker()).bootstrap
        if not redis_url:
            redis_url = stack.enter_context(RedisServer()).url
        return asyncio.run(_e2e(bootstrap, redis_url, records, batch, partitions))
