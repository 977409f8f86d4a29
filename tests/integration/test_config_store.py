"""The configuration store on a real valkey-server: seeding, compare-and-set under concurrent provisioners,
idempotence by operation id, and refusals that change nothing (seed pages' integrity rules)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from rater.keys import config_key
from rater.provisioning import parse_operation
from rater.rating import Rater
from streams.configuration.store import ConfigStore, LiveRater
from tests.unit.provisioning_builders import ACCOUNTS, CATALOG

pytestmark = pytest.mark.integration


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "subscriptions.yaml").write_text(ACCOUNTS)
    return tmp_path


async def stored(client: Redis, app: str) -> tuple[object, object, object]:
    """Everything a change could touch: version, catalog document, accounts."""
    return (
        await client.get(config_key(app, "version")),
        await client.get(config_key(app, "catalog")),
        await client.hgetall(config_key(app, "accounts")),
    )


async def test_seeded_once_from_the_files(redis_client: Redis, folder: Path) -> None:
    store = ConfigStore(redis_client, "app")
    version, config = await store.bootstrap(folder)
    assert version == 1
    assert sorted(config.accounts) == ["TEAM"]
    # a second start (another worker, a restart) uses the store, not the files
    (folder / "subscriptions.yaml").write_text("accounts: []\n")
    again = ConfigStore(redis_client, "app")
    version, config = await again.bootstrap(folder)
    assert version == 1
    assert sorted(config.accounts) == ["TEAM"]


REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({"op": "delete_catalog_entity", "kind": "share_plan", "entity": "SP-TEAM"}, "entity_in_use"),
    ({"op": "delete_catalog_entity", "kind": "usage_bucket", "entity": "SMS200"}, "entity_in_use"),
    ({"op": "delete_catalog_entity", "kind": "base_bucket", "entity": "BB-DATA"}, "entity_in_use"),
    (
        {
            "op": "activate_share_plan",
            "account": "TEAM",
            "share_plan": {"share_plan": "SP-OFF", "effective": "2026-03-05", "tie_break": 2},
        },
        "share_plan_inactive",
    ),
    ({"op": "set_share_plan_active", "share_plan": "SP-EMPTY", "active": True}, "share_plan_without_buckets"),
    (
        {
            "op": "activate_share_plan",
            "account": "TEAM",
            "share_plan": {"share_plan": "SP-EMPTY", "effective": "2026-03-05", "tie_break": 2},
        },
        "share_plan_without_buckets",
    ),
    (
        {"op": "cancel_account_service", "account_service": "TEAM-PHONE1", "cancel": "2026-02-01"},
        "invalid_configuration",
    ),
    ({"op": "cancel_account_service", "account_service": "NOPE", "cancel": "2026-04-01"}, "not_found"),
]


@pytest.mark.parametrize(("body", "code"), REFUSALS)
async def test_a_refused_operation_changes_nothing(
    redis_client: Redis, folder: Path, body: dict[str, Any], code: str
) -> None:
    """Seed pages (Share Plans, Usage Buckets, Base Buckets screens) and R54: each refusal leaves the version
    and both documents byte for byte as they were, and its result is stored under its id."""
    store = ConfigStore(redis_client, "app")
    await store.bootstrap(folder)
    before = await stored(redis_client, "app")
    result = await store.submit(parse_operation({**body, "id": "op-1"}))
    assert result.status == "refused"
    assert result.error is not None
    assert result.error["code"] == code
    assert await stored(redis_client, "app") == before
    kept = await store.result("op-1")
    assert kept is not None
    assert kept.status == "refused"


async def test_deactivating_a_share_plan_keeps_the_account(redis_client: Redis, folder: Path) -> None:
    store = ConfigStore(redis_client, "app")
    await store.bootstrap(folder)
    accounts_before = (await stored(redis_client, "app"))[2]
    result = await store.submit(
        parse_operation({"op": "set_share_plan_active", "share_plan": "SP-TEAM", "active": False})
    )
    assert result.status == "applied"
    version, _catalog, accounts = await stored(redis_client, "app")
    assert version == b"2"
    assert accounts == accounts_before
    _, config = await ConfigStore(redis_client, "app").snapshot()
    assert config.catalog.share_plans["SP-TEAM"].active is False
    assert [s.share_plan for s in config.accounts["TEAM"].share_plans] == ["SP-TEAM"]


async def test_an_operation_id_is_applied_once(redis_client: Redis, folder: Path) -> None:
    store = ConfigStore(redis_client, "app")
    await store.bootstrap(folder)
    body = {"id": "add-1", "op": "update_account", "account": "TEAM", "set": {"name": "Team one"}}
    first = await store.submit(parse_operation(body))
    second = await ConfigStore(redis_client, "app").submit(parse_operation(body))
    assert first.status == second.status == "applied"
    assert first.version == second.version == 2
    assert await store.version() == 2


async def test_concurrent_provisioners_lose_no_update(redis_client: Redis, folder: Path) -> None:
    """Twenty lines added at once through four stores (four API replicas): every one is there, and the version
    counts every change (compare-and-set, never last-writer-wins)."""
    await ConfigStore(redis_client, "app").bootstrap(folder)
    stores = [ConfigStore(redis_client, "app") for _ in range(4)]

    async def add(n: int) -> None:
        body = {
            "id": f"line-{n}",
            "op": "add_account_service",
            "account_package": "TEAM-PKG",
            "account_service": {
                "id": f"TEAM-LINE{n}",
                "service": "SVC-PHONE",
                "usage_identifiers": [{"uid": f"+1666{n:04d}", "start": "2026-03-01"}],
            },
        }
        result = await stores[n % 4].submit(parse_operation(body))
        assert result.status == "applied"

    await asyncio.gather(*(add(n) for n in range(20)))
    version, config = await ConfigStore(redis_client, "app").snapshot()
    assert version == 21
    assert {f"TEAM-LINE{n}" for n in range(20)} <= set(config.subscriptions.services)


async def test_a_worker_follows_the_version(redis_client: Redis, folder: Path) -> None:
    store = ConfigStore(redis_client, "app")
    version, config = await store.bootstrap(folder)
    live = LiveRater(ConfigStore(redis_client, "app"), version, Rater(config.catalog, config.subscriptions))
    first = await live.current()
    assert await live.current() is first  # unchanged version: the same Rater, nothing rebuilt
    await store.submit(
        parse_operation(
            {
                "op": "add_usage_identifier",
                "account_service": "TEAM-PHONE1",
                "usage_identifier": {"uid": "+15550099", "start": "2026-03-01"},
            }
        )
    )
    second = await live.current()
    assert second is not first
    assert "+15550099" in second.subscriptions.uids


async def test_the_seed_files_must_be_valid(redis_client: Redis, tmp_path: Path) -> None:
    from rater.issues import ValidationFailed

    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump({"usage_classes": [{"id": "X"}]}))
    with pytest.raises(ValidationFailed):
        await ConfigStore(redis_client, "app").bootstrap(tmp_path)
    assert await redis_client.get(config_key("app", "version")) is None
