"""``rater balances`` reads the real Redis with the API's pure function: same numbers, as JSON or a table.

E20 (R57, R59): after March's usage, P's usage-invoicer pool holds 1 + 2 + 3 + 5 = 11,000,000,000 B, tier 2
(T1 10 GB, T2 1 GB repeating, so no end: allowance unlimited)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

import orjson
import pytest
from redis.asyncio import Redis

from rater.balances import Balances
from rater.offline import load_folder
from rater.redis_store import read_hashes
from streams.cli.main import main, parser
from streams.configuration.store import ConfigStore
from tests.integration._api import E20, rate_folder_into
from tests.integration.conftest import fresh_redis

pytestmark = pytest.mark.integration

AT = "2026-03-31T12:00:00Z"


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    async def seed() -> None:
        client = await fresh_redis(redis_url)
        try:
            await rate_folder_into(client, E20)
        finally:
            await client.aclose()

    asyncio.run(seed())
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RATER_CONFIG", str(E20))
    return redis_url


def _expected(redis_url: str, account: str) -> dict[str, object]:
    catalog, subscriptions = load_folder(E20)
    balances = Balances(catalog, subscriptions)
    selection = balances.account(account)

    async def read() -> dict[str, dict[str, int]]:
        client = Redis.from_url(redis_url)
        try:
            return await read_hashes(client, selection.keys)
        finally:
            await client.aclose()

    return balances.view(selection, asyncio.run(read()), dt.datetime.fromisoformat(AT)).to_dict()


def test_json_equals_the_pure_view(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["balances", "P", "--at", AT, "--json"]) == 0
    body = orjson.loads(capsys.readouterr().out)
    assert body == _expected(env, "P")
    (pool,) = body["buckets"]
    assert (pool["used"], pool["tier"], pool["allowance"]) == (11_000_000_000, 2, None)


def test_table_of_a_share_plan_and_of_a_service(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["balances", "--share-plan", "P/SP-INVOICER", "--at", AT]) == 0
    table = capsys.readouterr().out
    assert "P/SP-INVOICER/SPB-DATA" in table
    assert "11,000,000,000" in table
    assert "unlimited" in table
    (c1,) = [line for line in table.splitlines() if "participant C1-PHONE" in line]
    assert c1.split()[2:] == ["7,000,000,000", "unlimited", "unlimited"]  # 2 + 5 GB, no limit (R61)
    assert main(["balances", "--service", "C3-PHONE", "--at", AT]) == 0
    assert "no bucket is active" in capsys.readouterr().out


def test_errors(env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["balances", "NOPE"]) == 1
    assert "no account 'NOPE'" in capsys.readouterr().err
    assert main(["balances", "P", "--at", "2026-03-31"]) == 2
    monkeypatch.delenv("REDIS_URL")
    assert main(["balances", "P"]) == 2
    assert "REDIS_URL" in capsys.readouterr().err


def test_help_names_its_environment() -> None:
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = commands.choices["balances"].format_help()
    assert "REDIS_URL" in text
    assert "RATER_CONFIG" in text


def test_the_configuration_store_wins_over_the_files(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once provisioning has seeded the configuration store, the balances use it: the files are not read."""

    async def seed() -> None:
        client = Redis.from_url(env)
        try:
            assert await ConfigStore(client, "rater").seed(E20)
        finally:
            await client.aclose()

    asyncio.run(seed())
    monkeypatch.setenv("RATER_CONFIG", "/nonexistent")
    assert main(["balances", "P", "--at", AT, "--json"]) == 0
    (pool,) = orjson.loads(capsys.readouterr().out)["buckets"]
    assert pool["used"] == 11_000_000_000
