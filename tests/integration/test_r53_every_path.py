"""R53 on every path: the records of examples/E14-billing-activation-contributes-to-pool rated offline, rated as
the stream rates them (one batch through the Redis kernel), and the balance API reading what the stream left,
all agree with the hand computation in the folder's expected.yaml.

A billing-activation package (AP-IOT, sensor S1) contributes 2 MB to a Variable Single Tier pool once it is
activated.  Its first record (1.5 MB, Mar 2) activates it and is rated before activation: 1.50.  The next record
(S0, 3 MB, Mar 3) then sees a 4,000,000 B pool: all inside, 0.00; S1's 1.5 MB on Mar 4 takes the last 1 MB and
0.5 MB overflows at 1.00/MB: 0.50.  Total 2.00.  Before the stream read activation marks, the same three
records cost 4.00 on the stream (a 2 MB pool: 1.50 + 1.00 + 1.50) and 2.00 offline.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from rater.batch import rate_batch
from rater.events import RatedCharge
from rater.offline import load_folder, rate_folder
from rater.rating import Rater
from rater.redis_store import RedisStore
from streams.api.app import build_api
from tests.integration._api import OPERATOR, api_context

pytestmark = pytest.mark.integration

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "E14-billing-activation-contributes-to-pool"


async def test_activated_package_contributes_offline_on_the_stream_and_in_the_balance_api(
    redis_url: str, redis_client: Redis
) -> None:
    offline, summary = rate_folder(FOLDER)
    assert summary.totals["USD"] == Decimal("2.00")
    catalog, subscriptions = load_folder(FOLDER)
    lines = [line for line in (FOLDER / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    streamed = await rate_batch(
        Rater(catalog, subscriptions),
        RedisStore(redis_client),
        [(line, f"usage:0:{n}") for n, line in enumerate(lines)],
    )
    assert [orjson.dumps(o.to_dict()) for _, o in streamed] == [orjson.dumps(o.to_dict()) for o in offline]
    charges = [o for _, o in streamed if isinstance(o, RatedCharge)]
    assert [o.total_amount for o in charges] == [Decimal("1.50"), Decimal("0.00"), Decimal("0.50")]
    assert charges[1].draws[0].allowance == 4_000_000

    client = TestClient(TestServer(build_api(api_context(redis_url, redis_client, catalog, subscriptions))))
    await client.start_server()
    try:
        response = await client.get(
            "/v1/accounts/ACC/share-plans/SP-POOL/balances?at=2026-03-31T12:00:00Z",
            headers={"Authorization": f"Bearer {OPERATOR}"},
        )
        assert response.status == 200, await response.text()
        body: Any = await response.json()
    finally:
        await client.close()
    (pool,) = body["buckets"]
    assert (pool["allowance"], pool["used"], pool["remaining"]) == (4_000_000, 4_000_000, 0)
    assert [(p["participant"], p["used"]) for p in pool["participants"]] == [("AS-S0", 3_000_000), ("AS-S1", 1_000_000)]
