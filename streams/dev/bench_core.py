"""``rater bench core``: the pure rating core on the demo stream, against the in-memory store, one process."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from rater.batch import rate_batch
from rater.events import RatedCharge
from rater.memory_store import MemoryStore
from rater.offline import load_folder
from rater.rating import Rater
from streams.dev.demo_data import build_scenario, generate_usage, write_folder


def core_bench(records: int, batch: int, seed: int = 7) -> dict[str, float | int]:
    """Rate the demo stream of ``records`` records (the operator of ``rater demo``: families on a Fixed share
    plan, enterprises with Variable pools, GeoTree calls, rollover, money buckets; 1% unrateable on purpose)
    through :func:`rater.batch.rate_batch` in batches of ``batch``, against :class:`MemoryStore`: decoding,
    resolution, claims, draws and pricing, the whole core and nothing of Kafka or Redis.  Generating the
    stream and loading the configuration are not timed."""
    scenario = build_scenario(seed)
    generated = generate_usage(scenario, records, seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, scenario, generated)
        catalog, subscriptions = load_folder(folder)
        lines = [line for line in (folder / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    items = [(line, f"usage.jsonl:{number}") for number, line in enumerate(lines, start=1)]

    async def run() -> tuple[float, int]:
        rater = Rater(catalog, subscriptions)
        store = MemoryStore()
        rated = 0
        started = time.perf_counter()
        for first in range(0, len(items), batch):
            for _, outcome in await rate_batch(rater, store, items[first : first + batch]):
                rated += isinstance(outcome, RatedCharge)
        return time.perf_counter() - started, rated

    seconds, rated = asyncio.run(run())
    return {
        "records_per_s": round(len(items) / seconds),
        "us_per_record": round(seconds / len(items) * 1e6, 1),
        "records": len(items),
        "rated": rated,
        "exceptions": len(items) - rated,
        "batch": batch,
        "seconds": round(seconds, 2),
    }
