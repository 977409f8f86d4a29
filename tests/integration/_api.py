"""An API over a real Redis holding an example folder's usage, rated through the Redis kernel."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from rater.batch import rate_batch
from rater.catalog import Catalog
from rater.offline import load_folder
from rater.rating import Rater
from rater.redis_store import RedisStore
from rater.subscriptions import Subscriptions
from streams.api.auth import Tokens
from streams.api.context import ApiContext
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
E20 = ROOT / "examples" / "E20-share-level-usage-invoicer"

#: P's app sees P and its children C1, C2, C3; C1's app sees C1 only.
TOKENS = "p-token=P,c1-token=C1,q-token=Q"
OPERATOR = "op-secret"
#: An exception index retention (seconds) longer than the age of the fixed March 2026 timestamps the tests
#: index, whatever day they run (the default, 30 days, would not index them: streams/api/exceptions_index.py).
YEARS = 10 * 365 * 24 * 3600


async def rate_folder_into(client: Redis, folder: Path) -> tuple[Catalog, Subscriptions]:
    """Rate ``folder/usage.jsonl`` one batch at a time into the Redis behind ``client``."""
    catalog, subscriptions = load_folder(folder)
    rater = Rater(catalog, subscriptions)
    lines = [line for line in (folder / "usage.jsonl").read_bytes().splitlines() if line.strip()]
    await rate_batch(rater, RedisStore(client), [(line, f"usage.jsonl:{n}") for n, line in enumerate(lines, 1)])
    return catalog, subscriptions


def api_context(
    redis_url: str,
    client: Redis,
    catalog: Catalog,
    subscriptions: Subscriptions,
    kafka: str = "127.0.0.1:1",
    topic_prefix: str = "",
) -> ApiContext:
    async def config() -> tuple[Catalog, Subscriptions]:
        return catalog, subscriptions

    settings = Settings(kafka, redis_url, config=E20, tick_interval=0, topic_prefix=topic_prefix)
    return ApiContext(settings, client, Tokens.parse(OPERATOR, TOKENS), config)
