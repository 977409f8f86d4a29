"""The kernel under concurrency (issue acceptance): 2 processes x 8 async clients draw against one share-plan
pool with participation limits; the pool and every limit are never exceeded, the sum of draws equals the
counters, and a redelivery of every record changes nothing.

One pool (allowance 150,000, period 0) shared by 500 participants, each limited to 400 (field ``l:0:<p>``).
20,000 records ask for 1..30 units each (a seeded RNG per process, so a worker regenerates any slice), about
310,000 in all: the pool runs dry, and 10 hot participants (a tenth of the records) reach their limit early.
Every 20th record of the other process is also sent in the first pass (a redelivery racing the first
delivery); in the second pass each process redelivers the other's whole slice.

Because every draw reports its before/after on the pool and on its participant's limit, the parent checks
more than the totals: the positive takes tile the pool's range ``[0, c:0)`` and each participant's range
``[0, l:0:<p>)`` without gap or overlap (the draws were serialized), and each take is exactly
``min(quantity, allowance - before, limit - limit_before)``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import random
import traceback
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from typing import Any, NamedTuple

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from rater.keys import bucket_key, record_key
from rater.redis_store import RedisStore
from rater.state import Counter, DrawRequest
from tests.integration.conftest import fresh_cluster, fresh_redis

pytestmark = pytest.mark.integration

PROCESSES = 2
CLIENTS = 8
"""Async clients (each its own connection) per process."""
RECORDS_PER_PROCESS = 10_000
BATCH = 50
"""Draw requests per pipeline (one ``draw_many``)."""
ALLOWANCE = 150_000
PARTICIPANTS = 500
LIMIT = 400
HOT = 10
"""Participants that get a tenth of the records between them (about 3,100 units asked each)."""
MAX_QUANTITY = 30
RACE_EVERY = 20
"""Every 20th record of the other process is sent again in the first pass, racing its first delivery."""
SEED = 20_240_601
WAIT = 90.0
"""Seconds the parent waits for a worker's pass."""

Target = str | list[tuple[str, int]]
"""Where the workers connect: a Redis URL, or the startup nodes of a cluster."""


class Record(NamedTuple):
    number: int
    participant: str
    quantity: int


class Row(NamedTuple):
    """One draw as a worker saw it (plain data, pickled back to the parent)."""

    record_id: str
    participant: str
    quantity: int
    before: int
    after: int
    carry: int
    allowance: int
    limit_before: int
    limit_after: int
    remaining: int
    replayed: bool

    @property
    def taken(self) -> int:
        return self.after - self.before

    def outcome(self) -> tuple[Any, ...]:
        """Everything but ``replayed``: what a redelivery must reproduce."""
        return tuple(self)[:-1]


def _record_id(proc: int, number: int) -> str:
    return f"p{proc}-r{number}"


def _records(proc: int) -> list[Record]:
    """Process ``proc``'s slice, regenerated identically wherever it is needed."""
    rng = random.Random(SEED + proc)
    records = []
    for number in range(RECORDS_PER_PROCESS):
        index = rng.randrange(HOT) if rng.random() < 0.1 else rng.randrange(PARTICIPANTS)
        records.append(Record(number, f"AS-{index:03d}", rng.randint(1, MAX_QUANTITY)))
    return records


def _pool(root: str) -> str:
    return bucket_key(root, f"{root}/SP/POOL")


def _request(root: str, proc: int, record: Record) -> DrawRequest:
    counter = Counter(_pool(root), 0, allowance=ALLOWANCE, limit_field=f"l:0:{record.participant}", limit=LIMIT)
    return DrawRequest(record_key(root, _record_id(proc, record.number)), record.quantity, (counter,))


def _first_pass(proc: int) -> list[tuple[int, Record]]:
    """The process's own slice, with every ``RACE_EVERY``-th record of the other process next to its twin."""
    other = (proc + 1) % PROCESSES
    theirs = _records(other)
    work: list[tuple[int, Record]] = []
    for record in _records(proc):
        work.append((proc, record))
        if record.number % RACE_EVERY == 0:
            work.append((other, theirs[record.number]))
    return work


def _second_pass(proc: int) -> list[tuple[int, Record]]:
    """Redelivery: the other process's whole slice, last record first."""
    other = (proc + 1) % PROCESSES
    return [(other, record) for record in reversed(_records(other))]


def _client(target: Target) -> Redis | RedisCluster:
    if isinstance(target, str):
        return Redis.from_url(target)
    host, port = target[0]
    return RedisCluster(host=host, port=port)


async def _lane(store: RedisStore, root: str, lane: list[tuple[int, Record]]) -> list[Row]:
    rows = []
    for start in range(0, len(lane), BATCH):
        chunk = lane[start : start + BATCH]
        results = await store.draw_many([_request(root, proc, record) for proc, record in chunk])
        for (proc, record), result in zip(chunk, results, strict=True):
            (draw,) = result.draws
            rows.append(
                Row(
                    _record_id(proc, record.number),
                    record.participant,
                    record.quantity,
                    draw.before,
                    draw.after,
                    draw.carry,
                    -1 if draw.allowance is None else draw.allowance,
                    draw.limit_before,
                    draw.limit_after,
                    result.remaining,
                    result.replayed,
                )
            )
    return rows


async def _run_pass(target: Target, root: str, work: list[tuple[int, Record]], start: Barrier) -> list[Row]:
    """``CLIENTS`` clients, connected and loaded before the barrier, each drawing its share of ``work``."""
    clients = [_client(target) for _ in range(CLIENTS)]
    try:
        stores = [RedisStore(client) for client in clients]
        for store in stores:
            await store.load()
        await asyncio.to_thread(start.wait, WAIT)
        lanes = await asyncio.gather(*(_lane(store, root, work[index::CLIENTS]) for index, store in enumerate(stores)))
    finally:
        for client in clients:
            await client.aclose()
    return [row for lane in lanes for row in lane]


def _worker(proc: int, target: Target, root: str, start: Barrier, again: Event, out: Queue[Any]) -> None:
    """One process: the first pass, then (when the parent says so) the redelivery pass."""
    try:
        out.put((proc, "first", asyncio.run(_run_pass(target, root, _first_pass(proc), start))))
        if not again.wait(WAIT):
            raise TimeoutError("the parent never started the redelivery pass")
        out.put((proc, "again", asyncio.run(_run_pass(target, root, _second_pass(proc), start))))
    except BaseException:
        out.put((proc, "error", traceback.format_exc()))


async def _collect(out: Queue[Any], stage: str) -> list[Row]:
    rows: list[Row] = []
    for _ in range(PROCESSES):
        try:
            proc, got, payload = await asyncio.to_thread(out.get, True, WAIT)
        except queue.Empty:
            pytest.fail(f"no {stage} result from a worker in {WAIT} s")
        if got == "error":
            pytest.fail(f"worker {proc} failed:\n{payload}")
        assert got == stage
        rows += payload
    return rows


def _tiles(spans: Iterable[tuple[int, int]], end: int) -> bool:
    """The non-empty spans [before, after) cover [0, end) exactly, without gap or overlap."""
    position = 0
    for before, after in sorted(span for span in spans if span[1] > span[0]):
        if before != position:
            return False
        position = after
    return position == end


@pytest.fixture(params=["redis", "cluster"])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Target, RedisStore]]:
    """Connection data for the workers, and a store on the flushed server for the parent's reads."""
    where: Target
    client: Redis | RedisCluster
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        where, client = url, await fresh_redis(url)
    else:
        nodes: list[tuple[str, int]] = request.getfixturevalue("redis_cluster_nodes")
        where, client = nodes, fresh_cluster(nodes)
    yield where, RedisStore(client)
    await client.aclose()


async def test_concurrent_draws_never_exceed_the_pool_or_a_limit_and_redelivery_changes_nothing(
    target: tuple[Target, RedisStore],
) -> None:
    where, reader = target
    root = f"HOLDER-{uuid.uuid4().hex}"
    pool = _pool(root)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    again = context.Event()
    out: Queue[Any] = context.Queue()
    workers = [
        context.Process(target=_worker, args=(proc, where, root, start, again, out), daemon=True)
        for proc in range(PROCESSES)
    ]
    try:
        for worker in workers:
            worker.start()
        first = await _collect(out, "first")
        after_first = await reader.fields(pool)
        again.set()
        second = await _collect(out, "again")
        after_second = await reader.fields(pool)
        for worker in workers:
            await asyncio.to_thread(worker.join, WAIT)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
        out.close()
        out.join_thread()

    records = {_record_id(proc, record.number): record for proc in range(PROCESSES) for record in _records(proc)}
    assert len(records) == PROCESSES * RECORDS_PER_PROCESS

    # The first pass: each record drawn once; its racing twin (if any) got the same result back, replayed.
    sightings: dict[str, list[Row]] = defaultdict(list)
    for row in first:
        sightings[row.record_id].append(row)
    assert sightings.keys() == records.keys()
    raced = 0
    drawn: dict[str, Row] = {}
    for record_id, rows in sightings.items():
        fresh = [row for row in rows if not row.replayed]
        assert len(fresh) == 1, (record_id, rows)
        assert all(row.outcome() == fresh[0].outcome() for row in rows), (record_id, rows)
        raced += len(rows) - 1
        drawn[record_id] = fresh[0]
    assert raced == PROCESSES * len(range(0, RECORDS_PER_PROCESS, RACE_EVERY))

    # Each draw did exactly what the contract says, given the state it saw.
    for record_id, row in drawn.items():
        record = records[record_id]
        assert (row.participant, row.quantity, row.carry, row.allowance) == (
            record.participant,
            record.quantity,
            0,
            ALLOWANCE,
        )
        assert row.taken == min(row.quantity, ALLOWANCE - row.before, LIMIT - row.limit_before), row
        assert row.limit_after - row.limit_before == row.taken, row
        assert row.remaining == row.quantity - row.taken, row

    # The draws were serialized: the takes tile the pool and every participant's limit.
    taken = sum(row.taken for row in drawn.values())
    by_participant: dict[str, list[Row]] = defaultdict(list)
    for row in drawn.values():
        by_participant[row.participant].append(row)
    assert _tiles(((row.before, row.after) for row in drawn.values()), taken)
    for rows in by_participant.values():
        assert _tiles(((row.limit_before, row.limit_after) for row in rows), sum(row.taken for row in rows))

    # (1) the pool equals the sum of the takes and never exceeds its allowance; (4) the pool ran dry.
    assert after_first["c:0"] == taken == ALLOWANCE
    # (2) every limit equals its participant's takes and never exceeds the limit; (4) some limits were reached.
    # A limit field is written only when its participant takes something (absent reads as 0).
    limits = {name.removeprefix("l:0:"): value for name, value in after_first.items() if name.startswith("l:0:")}
    assert limits.keys() <= by_participant.keys()
    assert {participant: limits.get(participant, 0) for participant in by_participant} == {
        participant: sum(row.taken for row in rows) for participant, rows in by_participant.items()
    }
    assert max(limits.values()) == LIMIT
    reached = [participant for participant, used in limits.items() if used == LIMIT]
    assert {f"AS-{index:03d}" for index in range(HOT)} <= set(reached)
    # A limit cut a draw while the pool still had room (the limit, not the pool, was binding).
    assert any(row.taken < row.quantity and row.before < ALLOWANCE for row in drawn.values())
    # The pool has no rollover: no r:/a: fields.
    assert after_first.keys() == {"c:0", "latest"} | {f"l:0:{p}" for p in limits}
    assert after_first["latest"] == 0
    # (3) nothing lost: taken + overflow == asked.
    assert taken + sum(row.remaining for row in drawn.values()) == sum(record.quantity for record in records.values())

    # (5) redelivery of every record: each replayed, identical to its first draw, and nothing changed.
    assert len(second) == len(records)
    assert {row.record_id for row in second} == records.keys()
    for row in second:
        assert row.replayed, row
        assert row.outcome() == drawn[row.record_id].outcome(), (row, drawn[row.record_id])
    assert after_second == after_first
