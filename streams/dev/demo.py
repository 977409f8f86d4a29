"""``rater demo``: the whole pipeline on the embedded stack, with a generated operator and usage stream.

1. Generate the demo operator and ``records`` usage records (streams/dev/demo_data.py), write the rating folder
   (a copy of ``config/catalog/`` and the generated ``subscriptions.yaml``) to a temporary folder and load
   it (a validation error stops the demo).
2. Start a Kafka-protocol broker and a valkey-server (streams/dev/servers.py), unless ``KAFKA_BOOTSTRAP`` /
   ``REDIS_URL`` name servers to use; create the run's topics (a fresh topic prefix and consumer group per
   run); start ``workers`` worker processes (``python -m streams.worker``) and wait until they have joined
   the consumer group.
3. Produce the records (key: the usage identifier; each value gets ``produced_at``, ms since the epoch)
   while reading ``rated-charges`` and ``rating-exceptions`` from the start, until every record id has an
   outcome or nothing new arrived for ``timeout`` seconds after the last record was produced; then stop
   the workers and read the output topics to their end, so that a re-emission written at any time (at
   shutdown too) is counted.
4. Report, from the outcomes read back: ``records``, ``rated``, ``exceptions`` by type, ``lost`` (produced,
   no outcome), ``duplicated`` (more than one distinct outcome body), ``redelivered`` (identical extra
   copies), throughput (outcomes / time from the first record produced to the last first outcome read),
   latency p50/p99 (time an outcome was read minus its record's ``produced_at``: with the default, unpaced
   producer this includes the time a record waits in the backlog; ``--rate`` paces the producer), total
   charges per currency, tier crossings, and the bucket balances of three accounts read from the Redis
   counters (``RedisStore.fields`` on ``bucket_key``), checked against the last draw the outputs show.

Records whose id cannot be read (bad JSON) come out under ``topic:partition:offset``; the producer's
delivery reports map those back to the record produced there.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import hashlib
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TextIO

import orjson
import redis
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from rater.catalog import Catalog
from rater.instances import sharing_roots
from rater.keys import bucket_key
from rater.money import format_amount
from rater.redis_store import RedisStore, connect
from rater.subscriptions import Subscriptions
from rater.units import UnitType
from streams.configuration.topics import CROSSINGS, EXCEPTIONS, NOTIFICATIONS, RATED, USAGE, TopicSpec, create_topics
from streams.dev.demo_data import (
    DemoRecord,
    build_scenario,
    generate_usage,
    injected_exceptions,
    load_demo,
    write_folder,
)
from streams.dev.servers import KafkaBroker, RedisServer, stop_process
from streams.kafka import start_producer
from streams.settings import Settings, SettingsError, child_environment


@dataclass(frozen=True)
class DemoOptions:
    records: int = 100_000
    workers: int = 1
    partitions: int = 4
    """Partitions of the usage topic (and of each output topic)."""
    seed: int = 7
    rate: float = 0.0
    """Records per second the producer is paced at; 0: as fast as it can."""
    timeout: float = 60.0
    """Seconds without a new outcome, once every record is produced, before the demo gives up waiting."""
    batch_size: int = 200
    """The worker's ``RATER_BATCH_SIZE``."""
    keep: bool = False
    """Keep the generated folder (with ``usage.jsonl``) and the worker logs; their path is printed."""
    progress: bool = True


class DemoError(RuntimeError):
    """The demo could not run (a worker died, a server did not start)."""


# -- progress -------------------------------------------------------------------------------------------------


class Progress:
    """One status line on stderr: rewritten in place on a terminal, else a line every 5 seconds."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.width = 0

    def step(self, text: str) -> None:
        """A phase of the run, on its own line."""
        if self.enabled:
            self._clear()
            self.stream.write(f"rater demo: {text}\n")
            self.stream.flush()

    def update(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if force or now - self.last >= 0.2:
                self.stream.write("\r" + text.ljust(self.width))
                self.width = len(text)
                self.stream.flush()
                self.last = now
        elif force or now - self.last >= 5.0:
            self.stream.write(text + "\n")
            self.stream.flush()
            self.last = now

    def _clear(self) -> None:
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0

    def done(self) -> None:
        if self.enabled and self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


# -- the outcomes read back ---------------------------------------------------------------------------------------


@dataclass
class BucketSeen:
    """The latest period of one bucket instance as the outcomes show it."""

    holder: str
    bucket: str
    level: str
    period_start: str
    period_end: str
    after: int
    allowance: int | None
    money: bool


@dataclass
class Tally:
    """Everything the report needs from the outcome topics, kept small: per record id a digest of the first
    outcome body, the number of copies and when the first was read; sums for the rest."""

    ids: dict[str, int]
    """Record id -> index in the produced stream."""
    showcase: set[str]
    produced_at: array.array[int]
    aliases: dict[str, int] = field(default_factory=dict)
    """``topic:partition:offset`` -> index, for records whose id cannot be read (from delivery reports)."""
    produced: int = 0
    seen: dict[str, tuple[bytes, int, int]] = field(default_factory=dict)
    """Record id as it came out -> (digest of the first body, copies, ms when the first was read)."""
    conflicting: set[str] = field(default_factory=set)
    redelivered: int = 0
    rated: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    totals: dict[str, Decimal] = field(default_factory=dict)
    billed: dict[str, Decimal] = field(default_factory=dict)
    crossings: Counter[str] = field(default_factory=Counter)
    notifications: int = 0
    buckets: dict[str, BucketSeen] = field(default_factory=dict)
    last_outcome_ms: int = 0
    other_events: int = 0

    def add(self, value: bytes, now_ms: int) -> None:
        body = orjson.loads(value)
        schema = body.get("schema", "")
        if schema not in ("rated-charge/1", "rating-exception/1"):
            self.other_events += 1  # adjustments (none in the demo)
            return
        record_id = str(body["record_id"])
        digest = hashlib.blake2b(value, digest_size=16).digest()
        known = self.seen.get(record_id)
        if known is not None:
            first, copies, at = known
            self.seen[record_id] = (first, copies + 1, at)
            if digest == first:
                self.redelivered += 1
            else:
                self.conflicting.add(record_id)
            return
        self.seen[record_id] = (digest, 1, now_ms)
        self.last_outcome_ms = max(self.last_outcome_ms, now_ms)
        if schema == "rating-exception/1":
            self.exceptions[str(body["type"])] += 1
            return
        self.rated += 1
        currency = str(body["currency"])
        self.totals[currency] = self.totals.get(currency, Decimal(0)) + Decimal(body["total_amount"])
        self.billed[currency] = self.billed.get(currency, Decimal(0)) + Decimal(body["billed_amount"])
        for crossing in body.get("crossings", ()):
            self.crossings[str(crossing["kind"])] += 1
        self.notifications += len(body.get("notifications", ()))
        for draw in body.get("draws", ()):
            if draw["holder"] in self.showcase:
                self._bucket(draw)

    def _bucket(self, draw: dict[str, Any]) -> None:
        instance = str(draw["bucket_instance"])
        period = (str(draw["period_start"] or ""), str(draw["period_end"] or ""))
        seen = self.buckets.get(instance)
        if seen is not None and (seen.period_start, seen.period_end) > period:
            return
        if seen is not None and (seen.period_start, seen.period_end) == period and seen.after >= draw["after"]:
            return
        self.buckets[instance] = BucketSeen(
            str(draw["holder"]),
            str(draw["bucket"]),
            str(draw["level"]),
            period[0],
            period[1],
            int(draw["after"]),
            draw["allowance"],
            bool(draw["money"]),
        )

    @property
    def outcomes(self) -> int:
        return len(self.seen)

    def answered(self) -> int:
        """Produced records with an outcome (outcomes under an id that is neither a record id nor a
        known ``topic:partition:offset`` are not counted)."""
        return sum(1 for record_id in self.seen if self.index(record_id) is not None)

    def index(self, record_id: str) -> int | None:
        found = self.ids.get(record_id)
        return found if found is not None else self.aliases.get(record_id)


# -- workers --------------------------------------------------------------------------------------------------


@dataclass
class Workers:
    """Worker processes of one run, each logging to a file in ``logs``."""

    env: dict[str, str]
    logs: Path
    cwd: Path
    processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, count: int) -> None:
        for number in range(count):
            log = (self.logs / f"worker-{number}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.worker"],
                env=self.env,
                cwd=self.cwd,  # Faust keeps its (unused) data folder in the working directory
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.processes.append((process, log))

    def alive(self) -> int:
        return sum(1 for process, _ in self.processes if process.poll() is None)

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log in self.processes:
            stop_process(process, timeout=30)  # already signalled above: all stop in parallel
            log.close()

    def logs_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-2000:] for path in sorted(self.logs.glob("*.log"))
        )


async def _wait_for_group(bootstrap: str, group: str, workers: Workers, count: int, timeout: float) -> None:
    """Until ``count`` members are in the worker group and it is stable (so the clock starts on a running
    pipeline, not on worker start-up)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            if workers.alive() < count:
                raise DemoError(f"a worker exited at start:\n{workers.logs_tail()}")
            (response,) = await admin.describe_consumer_groups([group])
            members = sum(len(entry[-1]) for entry in response.groups)
            states = {str(entry[2]) for entry in response.groups}
            if members >= count and states == {"Stable"}:
                return
            if loop.time() > deadline:
                raise DemoError(f"the workers did not join the consumer group in {timeout:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


# -- one run --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    options: DemoOptions
    bootstrap: str
    prefix: str
    records: list[DemoRecord]
    workers: Workers
    progress: Progress

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"


async def _produce(run: Run, tally: Tally) -> None:
    producer = await start_producer(run.bootstrap, linger_ms=5, max_batch_size=256 * 1024, request_timeout_ms=60_000)
    topic = run.topic(USAGE)
    rate = run.options.rate
    loop = asyncio.get_running_loop()
    started = loop.time()
    futures: list[asyncio.Future[Any]] = []
    unreadable: list[tuple[int, asyncio.Future[Any]]] = []
    try:
        for index, record in enumerate(run.records):
            now_ms = time.time_ns() // 1_000_000
            tally.produced_at[index] = now_ms
            future = await producer.send(topic, record.value(now_ms), key=record.key)
            futures.append(future)
            if record.kind == "bad_json":
                unreadable.append((index, future))
            tally.produced = index + 1
            if rate > 0 and index % 50 == 49:
                ahead = started + (index + 1) / rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            elif index % 2000 == 1999:
                await asyncio.sleep(0)  # let the consumer read while the producer races ahead
        await producer.flush()
        await asyncio.gather(*futures)  # raises if any record was not delivered
        for index, future in unreadable:
            metadata = future.result()
            tally.aliases[f"{metadata.topic}:{metadata.partition}:{metadata.offset}"] = index
    finally:
        await producer.stop()


async def _consume(run: Run, tally: Tally) -> None:
    topics = [run.topic(RATED), run.topic(EXCEPTIONS)]
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=run.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
        fetch_max_wait_ms=20,  # latency: do not let the broker hold a fetch for the default 500 ms
    )
    await consumer.start()
    try:
        producing = asyncio.create_task(_produce(run, tally))
        total = len(run.records)
        loop = asyncio.get_running_loop()
        started = loop.time()
        idle_since = loop.time()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                now_ms = time.time_ns() // 1_000_000
                for messages in batch.values():
                    for message in messages:
                        tally.add(message.value or b"{}", now_ms)
                if batch or not producing.done():
                    idle_since = loop.time()
                elapsed = loop.time() - started
                run.progress.update(
                    f"  produced {tally.produced:,}/{total:,}  outcomes {tally.outcomes:,}/{total:,}  "
                    f"{tally.outcomes / max(elapsed, 1e-9):,.0f} records/s  {elapsed:.1f} s"
                )
                if producing.done():
                    producing.result()
                    if tally.outcomes >= total and tally.answered() >= total:
                        break
                    if loop.time() - idle_since > run.options.timeout:
                        run.progress.step(f"no new outcome for {run.options.timeout:.0f} s: stopping")
                        break
                if run.workers.alive() == 0:
                    raise DemoError(f"every worker exited:\n{run.workers.logs_tail()}")
            elapsed = loop.time() - started
            run.progress.update(
                f"  produced {tally.produced:,}/{total:,}  outcomes {tally.outcomes:,}/{total:,}  {elapsed:.1f} s",
                force=True,
            )
            run.progress.done()
        finally:
            if not producing.done():
                producing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producing
        # Stop the workers, then read the output topics to their end: a re-emission written at any time,
        # shutdown included, is counted (redelivered or duplicated), not missed by stopping early.
        await loop.run_in_executor(None, run.workers.stop)
        await _drain(consumer, tally, deadline=loop.time() + 30)
    finally:
        await consumer.stop()


async def _drain(consumer: AIOKafkaConsumer, tally: Tally, deadline: float) -> None:
    partitions = list(consumer.assignment())
    ends = await consumer.end_offsets(partitions)
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
        if not behind:
            return
        batch = await consumer.getmany(*behind, timeout_ms=200, max_records=5000)
        now_ms = time.time_ns() // 1_000_000
        for messages in batch.values():
            for message in messages:
                tally.add(message.value or b"{}", now_ms)


SHOWN_PER_ACCOUNT = 8
LEVEL_RANK = {"share_plan": 0, "parent": 1, "account": 1, "account_service": 2}


async def _balances(
    redis_url: str, tally: Tally, roots: dict[str, str], showcase: list[str]
) -> tuple[dict[str, Any], int, bool]:
    """The Redis counters of the showcase accounts' bucket instances in their latest period, share-plan and
    account buckets first, at most :data:`SHOWN_PER_ACCOUNT` per account; how many instances were read and
    whether every counter equals the last draw the outputs show for it."""
    client = connect(redis_url)
    store = RedisStore(client)
    out: dict[str, Any] = {}
    checked = 0
    matches = True
    try:
        for account in showcase:
            rows = []
            held = [(instance, seen) for instance, seen in tally.buckets.items() if seen.holder == account]
            held.sort(key=lambda item: (LEVEL_RANK.get(item[1].level, 3), item[0]))
            for instance, seen in held:
                fields = await store.fields(bucket_key(roots[account], instance))
                latest = fields.get("latest", 0)
                consumed = fields.get(f"c:{latest}", 0)
                rows.append(
                    {
                        "instance": instance,
                        "bucket": seen.bucket,
                        "level": seen.level,
                        "period": f"{seen.period_start}..{seen.period_end}" if seen.period_start else "",
                        "consumed": consumed,
                        "allowance": seen.allowance,
                        "carry": fields.get(f"r:{latest}", 0),
                        "money": seen.money,
                    }
                )
                checked += 1
                matches = matches and consumed == seen.after
            out[account] = rows[:SHOWN_PER_ACCOUNT]
    finally:
        await client.aclose()
    return out, checked, matches


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def _percentile(values: list[int], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))])


def _clear_demo_keys(url: str) -> int:
    """On a Redis the demo did not start: delete the demo accounts' keys from an earlier run (every key of a
    demo account carries the hash tag ``{DEMO-...}``), so balances start from zero."""
    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        batch = []
        for key in client.scan_iter(match="rater:{DEMO-*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.delete(*batch))
                batch = []
        if batch:
            deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted


@dataclass
class Servers:
    bootstrap: str
    redis_url: str
    broker: KafkaBroker | None
    """The broker started here (``None`` when ``KAFKA_BOOTSTRAP`` named one)."""
    own_redis: bool


@contextlib.contextmanager
def _servers(progress: Progress) -> Iterator[Servers]:
    """The embedded broker and valkey-server, or the ones ``KAFKA_BOOTSTRAP`` and ``REDIS_URL`` name."""
    with contextlib.ExitStack() as stack:
        try:
            given = Settings.from_env(need=())
        except SettingsError as exc:
            raise DemoError(str(exc)) from exc
        bootstrap, redis_url = given.kafka_bootstrap, given.redis_url
        broker = None
        own_redis = not redis_url
        if not bootstrap:
            progress.step("starting the embedded Kafka-protocol broker (Tansu, memory storage)")
            broker = stack.enter_context(KafkaBroker())
            bootstrap = broker.bootstrap
        if own_redis:
            progress.step("starting the embedded valkey-server")
            redis_url = stack.enter_context(RedisServer()).url
        else:
            _clear_demo_keys(redis_url)
        yield Servers(bootstrap, redis_url, broker, own_redis)


def _rss_mb(broker: KafkaBroker | None) -> float | None:
    """The embedded broker's resident memory (Linux), which holds every message of the run."""
    if broker is None or broker.process is None:
        return None
    try:
        status = Path(f"/proc/{broker.process.pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def run_demo(options: DemoOptions, stderr: TextIO | None = None) -> dict[str, Any]:
    """Run the demo; return the report (see :func:`format_report`)."""
    progress = Progress(options.progress, stderr)
    work = Path(tempfile.mkdtemp(prefix="rater-demo-"))
    try:
        progress.step(f"generating the demo operator and {options.records:,} usage records (seed {options.seed})")
        scenario = build_scenario(options.seed)
        records = generate_usage(scenario, options.records, options.seed)
        folder = work / "operator"
        write_folder(folder, scenario, records if options.keep else None)
        catalog, subscriptions = load_demo(folder)
        progress.step(
            f"{len(subscriptions.accounts)} accounts, {len(subscriptions.services)} account-services, "
            f"{len(subscriptions.uids)} usage identifiers on the example catalog"
        )
        with _servers(progress) as servers:
            tally, balances, broker_rss = _run(
                options, servers, work, folder, records, scenario.showcase, subscriptions, progress
            )
        return _report(options, records, tally, balances, catalog, broker_rss)
    finally:
        if options.keep:  # said even with progress off: the folder is left behind on purpose
            (stderr or sys.stderr).write(f"rater demo: kept the generated folder and the worker logs in {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)


Balances = tuple[dict[str, list[dict[str, Any]]], int, bool]


def _run(
    options: DemoOptions,
    servers: Servers,
    work: Path,
    folder: Path,
    records: list[DemoRecord],
    showcase: list[str],
    subscriptions: Subscriptions,
    progress: Progress,
) -> tuple[Tally, Balances, float | None]:
    prefix = f"demo-{uuid.uuid4().hex[:8]}-"
    partitions = str(options.partitions)
    env = child_environment(
        {
            "KAFKA_BOOTSTRAP": servers.bootstrap,
            "REDIS_URL": servers.redis_url,
            "RATER_CONFIG": str(folder),
            "RATER_APP_ID": f"{prefix}rater",
            "RATER_TOPIC_PREFIX": prefix,
            "RATER_USAGE_PARTITIONS": partitions,
            "RATER_OUTPUT_PARTITIONS": partitions,
            "RATER_BATCH_SIZE": str(options.batch_size),
            "RATER_LOG_LEVEL": "warning",
        }
    )
    topics = [f"{prefix}{name}" for name in (USAGE, RATED, CROSSINGS, NOTIFICATIONS, EXCEPTIONS)]
    asyncio.run(create_topics(servers.bootstrap, [TopicSpec(name, options.partitions) for name in topics]))
    workers = Workers(env, work, work)
    run = Run(options, servers.bootstrap, prefix, records, workers, progress)
    tally = Tally(
        ids={record.record_id: index for index, record in enumerate(records)},
        showcase=set(showcase),
        produced_at=array.array("q", bytes(8 * len(records))),
    )
    try:
        progress.step(f"starting {options.workers} worker(s) on {options.partitions} usage partitions")
        workers.start(options.workers)
        asyncio.run(_wait_for_group(servers.bootstrap, env["RATER_APP_ID"], workers, options.workers, 90))
        pace = f" at {options.rate:,.0f} records/s" if options.rate > 0 else ""
        progress.step(f"producing {len(records):,} records{pace} and reading the outcomes back")
        asyncio.run(_consume(run, tally))
        roots = sharing_roots(subscriptions.accounts)
        balances = asyncio.run(_balances(servers.redis_url, tally, roots, showcase))
        broker_rss = _rss_mb(servers.broker)
    finally:
        workers.stop()
        if servers.broker is None:  # not ours to throw away: delete the run's topics
            with contextlib.suppress(Exception):
                asyncio.run(_delete_topics(servers.bootstrap, topics))
    return tally, balances, broker_rss


def _report(
    options: DemoOptions,
    records: list[DemoRecord],
    tally: Tally,
    balances: Balances,
    catalog: Catalog,
    broker_rss: float | None,
) -> dict[str, Any]:
    answered = [False] * len(records)
    latencies: list[int] = []
    unexpected = 0
    for record_id, (_, _, at) in tally.seen.items():
        index = tally.index(record_id)
        if index is None:
            unexpected += 1
            continue
        answered[index] = True
        latencies.append(at - tally.produced_at[index])
    lost = answered.count(False)
    first = tally.produced_at[0] if records else 0
    span = max(tally.last_outcome_ms - first, 1) / 1000
    currencies = sorted(tally.totals)
    shown, checked, matches = balances
    return {
        "records": len(records),
        "rated": tally.rated,
        "exceptions": dict(sorted(tally.exceptions.items())),
        "lost": lost,
        "duplicated": len(tally.conflicting),
        "redelivered": tally.redelivered,
        "unexpected": unexpected,
        "records_per_s": round(tally.outcomes / span) if tally.outcomes else 0,
        "latency_ms_p50": round(_percentile(latencies, 0.50)),
        "latency_ms_p99": round(_percentile(latencies, 0.99)),
        "elapsed_s": round(span, 2),
        "totals": {code: format_amount(tally.totals[code], code) for code in currencies},
        "billed": {code: format_amount(tally.billed[code], code) for code in currencies},
        "crossings": sum(tally.crossings.values()),
        "crossing_kinds": dict(sorted(tally.crossings.items())),
        "notifications": tally.notifications,
        "injected": injected_exceptions(records),
        "late": sum(1 for record in records if record.kind == "late"),
        "balances": shown,
        "balances_checked": checked,
        "balances_match_outputs": matches,
        "units": _units(catalog, shown),
        "workers": options.workers,
        "partitions": options.partitions,
        "paced_at": options.rate or None,
        "broker_rss_mb": broker_rss,
    }


def _units(catalog: Catalog, balances: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The unit of each bucket in the balances: ``B``, ``ms``, ``event``, or ``micro-<currency>`` for money."""
    plan_buckets = catalog.share_plan_buckets
    out: dict[str, str] = {}
    for rows in balances.values():
        for row in rows:
            bucket = row["bucket"]
            definition = catalog.usage_buckets.get(bucket) or plan_buckets[bucket][1]
            unit_type = catalog.bucket_unit_type(definition)
            out[bucket] = {UnitType.DATA: "B", UnitType.TIME: "ms", UnitType.COUNT: "event"}.get(unit_type, "micro")
    return dict(sorted(out.items()))


# -- the human report ------------------------------------------------------------------------------------------


def _quantity(value: int | None, unit: str) -> str:
    if value is None:
        return "a repeating last tier (no cap)"
    if unit == "B":
        for size, name in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
            if abs(value) >= size:
                return f"{value / size:,.2f} {name}"
        return f"{value} B"
    if unit == "ms":
        return f"{value / 60000:,.1f} min"
    if unit == "micro":
        return f"{value / 1_000_000:,.2f}"
    return f"{value:,}"


def _money(amount: str) -> str:
    """``12345.678901`` -> ``12,345.68`` (the exact amounts are in the JSON report)."""
    return f"{Decimal(amount).quantize(Decimal('0.01')):,}"


def format_report(report: dict[str, Any]) -> str:
    """The human report of :func:`run_demo`'s result."""
    complete = report["rated"] + sum(report["exceptions"].values()) == report["records"]
    ok = report["lost"] == 0 and report["duplicated"] == 0 and complete
    exceptions = sum(report["exceptions"].values())
    workers = f"{report['workers']} worker" + ("s" if report["workers"] > 1 else "")
    latency_note = (
        f"(paced at {report['paced_at']:,.0f} records/s)"
        if report["paced_at"]
        else "(the whole stream is produced at once, so this includes the wait in the backlog; --rate R paces it)"
    )
    lines = [
        "",
        f"rater demo: {report['records']:,} usage records through Kafka ({report['partitions']} usage partitions, "
        f"{workers}) and the Redis kernel",
        "",
        f"  records in      {report['records']:>10,}   ({report['late']:,} late, "
        f"{sum(report['injected'].values()):,} unrateable on purpose)",
        f"  rated           {report['rated']:>10,}",
        f"  exceptions      {exceptions:>10,}   "
        + ", ".join(f"{kind} {count:,}" for kind, count in report["exceptions"].items()),
        f"  lost            {report['lost']:>10,}   (produced, no outcome)",
        f"  duplicated      {report['duplicated']:>10,}   (more than one distinct outcome)",
        f"  redelivered     {report['redelivered']:>10,}   (identical re-emissions of an outcome)",
        f"  throughput      {report['records_per_s']:>10,} records/s   ({report['elapsed_s']:,.1f} s from the first "
        "record produced to the last outcome read)",
        f"  latency         p50 {report['latency_ms_p50']:,} ms, p99 {report['latency_ms_p99']:,} ms, produced to "
        f"outcome read {latency_note}",
        "  total charges   "
        + "; ".join(
            f"{code} {_money(amount)} (billed {_money(report['billed'][code])} after money buckets)"
            for code, amount in report["totals"].items()
        ),
        f"  tier crossings  {report['crossings']:>10,}   "
        + ", ".join(f"{kind} {count:,}" for kind, count in report["crossing_kinds"].items()),
        f"  notifications   {report['notifications']:>10,}",
    ]
    if report.get("broker_rss_mb") is not None:
        lines.append(
            f"  broker memory   {report['broker_rss_mb']:>10,.0f} MB   (the embedded broker keeps every message)"
        )
    lines += [
        "",
        f"  balances: Redis counters of the latest period ({report['balances_checked']} bucket instances read, "
        + ("each equal to the last draw in the outputs)" if report["balances_match_outputs"] else "MISMATCH)"),
    ]
    units = report["units"]
    for account, rows in report["balances"].items():
        lines.append(f"    {account}")
        for row in rows:
            unit = units[row["bucket"]]
            used = _quantity(row["consumed"], unit)
            allowance = _quantity(row["allowance"], unit)
            carry = f" ({_quantity(row['carry'], unit)} rolled over)" if row["carry"] else ""
            period = row["period"] or "open"
            lines.append(f"      {row['instance']:<44} {period:<22} {used} used of {allowance}{carry}")
    lines += ["", "  OK: nothing lost, nothing charged twice" if ok else "  FAILED: records lost or charged twice", ""]
    return "\n".join(lines)
