"""The README's HTTP API table lists exactly the endpoints of docs/openapi.yaml, and its balance example is
true: its curl, against ``config/`` with ``config/usage.jsonl`` rated through the Redis kernel, answers exactly
the JSON the README shows (R59 pool of 6.1 GB from the contributions, 1 GB used; R61 participation limits
and use), and its metric names exist."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.subscriptions import Subscriptions
from streams import metrics
from streams.api.app import build_api
from streams.api.auth import Tokens
from streams.api.context import ApiContext
from streams.settings import Settings
from tests.integration._api import rate_folder_into

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_endpoint_table_lists_every_documented_endpoint() -> None:
    listed = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/\S*)` \|", _section("HTTP API"), re.M)
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    documented = [(method.upper(), path) for path, item in document["paths"].items() for method in item]
    assert sorted(listed) == sorted(documented)


async def test_balance_api_example_answers_as_shown(redis_url: str, redis_client: Redis) -> None:
    section = _section("HTTP API")
    shown = orjson.loads(re.findall(r"```json\n(.*?)```", section, re.S)[0])
    tokens = re.search(r'RATER_ACCOUNT_TOKENS="([^"]+)"', section)
    assert tokens is not None
    curl = re.search(r'curl -s -H "Authorization: Bearer (\S+)" \\\n\s+"http://127.0.0.1:8080(\S+)"', section)
    assert curl is not None
    token, path = curl.groups()
    catalog, subscriptions = await rate_folder_into(redis_client, ROOT / "config")

    async def config() -> tuple[Catalog, Subscriptions]:
        return catalog, subscriptions

    parsed = Tokens.parse("op", tokens.group(1))
    context = ApiContext(Settings("127.0.0.1:1", redis_url, tick_interval=0), redis_client, parsed, config)
    client = TestClient(TestServer(build_api(context)))
    await client.start_server()
    try:
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200
        assert await response.json() == shown
    finally:
        await client.close()


def test_metric_names_in_the_readme_exist() -> None:
    body, _ = metrics.exposition()
    families = {line.split(" ")[2] for line in body.decode().splitlines() if line.startswith("# TYPE")}
    for name in re.findall(r"^(rater_[a-z_]+)", _section("Metrics"), re.M):
        assert any(name.startswith(family) for family in families), name
