"""Balances read from Redis equal balances computed over the offline path's memory store, record by record.

Every example folder without control lines (share plans, parents, tiers, repeats, rollover, proration, money
buckets) is rated one record at a time twice: through :func:`rater.batch.rate_batch` against the Redis
kernel, and record by record through the same pipeline against the in-memory twin (:class:`MemoryStore`).
After each record every account, account-service and share-plan view at the record's time must be equal when
computed from the Redis counters (one atomic read per view, :func:`rater.redis_store.read_hashes`) and from
the memory counters; and every draw the rated charge reports must show in the service view as that bucket's
``used`` (the draw's ``after``), ``allowance`` and ``carry`` (R15, R36), and a share-plan participant's
``used``, limited or not, as the sum of what its records drew from that pool in that period (R61).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from rater.balances import Balances, BalanceView, Selection
from rater.batch import rate_batch
from rater.events import RatedCharge
from rater.memory_store import MemoryStore
from rater.offline import load_folder
from rater.rating import Rater
from rater.redis_store import RedisStore, read_hashes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(
    folder.name
    for folder in (ROOT / "examples").iterdir()
    if (folder / "usage.jsonl").exists() and b'"control"' not in (folder / "usage.jsonl").read_bytes()
)


def _selections(balances: Balances) -> list[Selection]:
    subscriptions = balances.subscriptions
    out = [balances.account(account) for account in subscriptions.accounts]
    out += [balances.service(service) for service in subscriptions.services]
    for account in subscriptions.accounts.values():
        for share in account.share_plans:
            out.append(balances.share_plan(account.id, share.share_plan))
    return out


async def _view(balances: Balances, client: Redis, selection: Selection, at: dt.datetime) -> BalanceView:
    return balances.view(selection, await read_hashes(client, selection.keys), at)


@pytest.mark.parametrize("name", FOLDERS)
async def test_balances_over_redis_equal_offline_after_every_record(redis_client: Redis, name: str) -> None:
    folder = ROOT / "examples" / name
    catalog, subscriptions = load_folder(folder)
    offline = Rater(catalog, subscriptions)
    memory = MemoryStore()
    streamed = Rater(catalog, subscriptions)
    store = RedisStore(redis_client)
    balances = Balances(catalog, subscriptions)
    selections = _selections(balances)
    lines = [line for line in (folder / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    checked = 0
    drawn: dict[tuple[str, str, str], int] = {}  # what each participant drew of a pool in a period
    for number, line in enumerate(lines, start=1):
        ((_, expected),) = await rate_batch(offline, memory, [(line, f"usage.jsonl:{number}")])
        ((_, outcome),) = await rate_batch(streamed, store, [(line, f"usage.jsonl:{number}")])
        assert orjson.dumps(outcome.to_dict()) == orjson.dumps(expected.to_dict())
        body = orjson.loads(line)
        at = dt.datetime.fromisoformat(body["event_time"]) if "event_time" in body else dt.datetime.now(dt.UTC)
        for selection in selections:
            from_redis = await _view(balances, redis_client, selection, at)
            from_memory = balances.view(selection, memory.hashes, at)
            assert from_redis.to_dict() == from_memory.to_dict(), (name, number, selection.subject)
            checked += 1
        if isinstance(outcome, RatedCharge):
            view = await _view(balances, redis_client, balances.service(outcome.account_service), at)
            shown = {bucket.bucket_instance: bucket for bucket in view.buckets}
            for draw in outcome.draws:
                bucket = shown[draw.bucket_instance]
                assert (bucket.used, bucket.allowance, bucket.carry) == (draw.after, draw.allowance, draw.carry)
                assert bucket.period_start.isoformat() == draw.period_start
                if draw.participant is not None:
                    key = (draw.bucket_instance, draw.period_start, draw.participant)
                    drawn[key] = drawn.get(key, 0) + draw.quantity
                    assert bucket.participation is not None
                    assert bucket.participation.participant == draw.participant
                    assert bucket.participation.used == drawn[key], (name, number, key)
    assert checked >= len(lines)


async def test_balances_read_the_same_on_redis_cluster(cluster_client: RedisCluster) -> None:
    """Architecture property 5: a view's keys share one hash tag, so the one-script read runs on the node
    holding them.  E20's views over a 3-node cluster equal those over the offline memory store."""
    folder = ROOT / "examples" / "E20-share-level-usage-invoicer"
    catalog, subscriptions = load_folder(folder)
    offline = Rater(catalog, subscriptions)
    memory = MemoryStore()
    store = RedisStore(cluster_client)
    lines = [line for line in (folder / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        await rate_batch(offline, memory, [(line, str(number))])
    await rate_batch(Rater(catalog, subscriptions), store, [(line, str(n)) for n, line in enumerate(lines, 1)])
    balances = Balances(catalog, subscriptions)
    at = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    for selection in _selections(balances):
        from_cluster = balances.view(selection, await read_hashes(cluster_client, selection.keys), at)
        from_memory = balances.view(selection, memory.hashes, at)
        assert from_cluster.to_dict() == from_memory.to_dict()
    pool = balances.view(
        balances.share_plan("P", "SP-INVOICER"),
        await read_hashes(cluster_client, balances.share_plan("P", "SP-INVOICER").keys),
        at,
    )
    assert pool.buckets[0].used == 11 * 10**9
    # no participation limit, each phone counted: P 1 GB, C1 2 + 5 GB, C2 3 GB (R61)
    assert [(p.participant, p.used, p.limit) for p in pool.buckets[0].participants] == [
        ("P-PHONE", 1 * 10**9, None),
        ("C1-PHONE", 7 * 10**9, None),
        ("C2-PHONE", 3 * 10**9, None),
    ]
