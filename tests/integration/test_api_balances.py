"""The balance endpoints over HTTP against a real Redis holding E20's usage, rated through the kernel.

E20 (domain-spec §3, R57, R65): P is the usage invoicer of its children C1 and C2 and holds SP-INVOICER
(share level usage invoicer); C3 is P's child but bills its own usage; Q holds SP-ACCOUNT (account level).
Pools: T1 (0, 10 GB] free, T2 1 GB repeating (R19a), so a pool has no end (allowance null).
Usage in March 2026: P 1 GB, C1 2 GB, C2 3 GB, C1 5 GB into P's pool -> 11,000,000,000 B, tier 2
(byte 10,000,000,001 entered it), repeat 0; C3's 1 GB is not in the pool; Q 1 GB into Q's pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from rater.errors import RetriableError
from streams.api.app import build_api
from streams.api.provisioning import CONFIG_STORE
from streams.configuration.store import ConfigStore
from tests.integration._api import E20, OPERATOR, api_context, rate_folder_into

pytestmark = pytest.mark.integration

GB = 10**9
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def http(redis_url: str, redis_client: Redis) -> AsyncIterator[Client]:
    catalog, subscriptions = await rate_folder_into(redis_client, E20)
    client = TestClient(TestServer(build_api(api_context(redis_url, redis_client, catalog, subscriptions))))
    await client.start_server()
    yield client
    await client.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _get(http: Client, path: str, token: str = OPERATOR, status: int = 200) -> Any:
    response = await http.get(path, headers=_auth(token))
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


async def test_share_plan_pool_with_participants(http: Client) -> None:
    """P's pool: 1 + 2 + 3 + 5 GB = 11,000,000,000 B, tier 2, repeat 0; participants P, C1 and C2 (C3 bills
    its own usage, R57).  No participation limit, yet each participant's use is counted (R61): P 1 GB,
    C1 2 + 5 = 7 GB, C2 3 GB (1 + 7 + 3 = the pool's 11 GB); limit and remaining null."""
    body = await _get(http, "/v1/accounts/P/share-plans/SP-INVOICER/balances?at=2026-03-31T12:00:00Z", "p-token")
    assert body["account"] == "P"
    assert body["share_plan"] == "SP-INVOICER"
    assert body["at"] == "2026-03-31T12:00:00Z"
    (pool,) = body["buckets"]
    assert pool["bucket_instance"] == "P/SP-INVOICER/SPB-DATA"
    assert (pool["used"], pool["tier"], pool["repeat"], pool["repeats"]) == (11 * GB, 2, 0, True)
    assert (pool["allowance"], pool["remaining"], pool["tiers"]) == (None, None, [10 * GB, 1 * GB])
    assert (pool["period_start"], pool["period_end"], pool["unit"]) == ("2026-03-01", "2026-04-01", "B")
    assert [(p["participant"], p["account"], p["used"], p["limit"], p["remaining"]) for p in pool["participants"]] == [
        ("P-PHONE", "P", 1 * GB, None, None),
        ("C1-PHONE", "C1", 7 * GB, None, None),
        ("C2-PHONE", "C2", 3 * GB, None, None),
    ]


async def test_service_view_of_a_child_in_consumption_order(http: Client) -> None:
    """C1's phone draws from P's pool (share level usage invoicer, R57); the parent's token sees it."""
    body = await _get(http, "/v1/account-services/C1-PHONE/balances?at=2026-03-10T00:00:00%2B00:00", "p-token")
    assert (body["account_service"], body["service"], body["account"]) == ("C1-PHONE", "SVC-PHONE", "C1")
    (pool,) = body["buckets"]
    assert (pool["level"], pool["holder"], pool["used"]) == ("share_plan", "P", 11 * GB)
    assert pool["participation"] == {
        "participant": "C1-PHONE",
        "catalog_participant": "SVC-PHONE",
        "account": "C1",
        "used": 7 * GB,
        "limit": None,
        "remaining": None,
    }
    alone = await _get(http, "/v1/account-services/C3-PHONE/balances?at=2026-03-10T00:00:00Z", "p-token")
    assert alone["buckets"] == []  # C3 bills its own usage: no pool serves it (R57)


async def test_account_view_and_the_next_period(http: Client) -> None:
    """Q's account view lists its pool (1 GB used of T1); in April the pool starts empty (R62)."""
    march = await _get(http, "/v1/accounts/Q/balances?at=2026-03-31T23:00:00Z", "q-token")
    (pool,) = march["buckets"]
    assert (pool["bucket_instance"], pool["used"], pool["tier"]) == ("Q/SP-ACCOUNT/SPB-DATA", 1 * GB, 1)
    assert [p["participant"] for p in pool["participants"]] == ["Q-PHONE"]
    april = await _get(http, "/v1/accounts/Q/balances?at=2026-04-02T00:00:00Z", "q-token")
    (pool,) = april["buckets"]
    assert (pool["period_start"], pool["used"], pool["tier"]) == ("2026-04-01", 0, 0)


async def test_default_moment_is_now(http: Client) -> None:
    body = await _get(http, "/v1/accounts/P/balances")
    assert body["at"].endswith("Z")
    assert isinstance(body["buckets"], list)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/accounts/P/balances",
        "/v1/account-services/P-PHONE/balances",
        "/v1/accounts/P/share-plans/SP-INVOICER/balances",
    ],
)
async def test_missing_or_wrong_token_is_401(http: Client, path: str) -> None:
    missing = await http.get(path)
    assert missing.status == 401
    assert (await missing.json())["error"]["code"] == "unauthorized"
    wrong = await http.get(path, headers=_auth("nope"))
    assert wrong.status == 401


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/v1/accounts/P/balances", "c1-token"),  # a child may not see its parent
        ("/v1/accounts/C2/balances", "c1-token"),  # nor a sibling
        ("/v1/account-services/C2-PHONE/balances", "c1-token"),
        ("/v1/account-services/P-PHONE/balances", "c1-token"),
        ("/v1/accounts/P/share-plans/SP-INVOICER/balances", "c1-token"),
        ("/v1/accounts/Q/balances", "p-token"),  # another family
        ("/v1/account-services/NOPE/balances", "p-token"),  # unknown: refused, not revealed
        ("/v1/accounts/NOPE/balances", "p-token"),
    ],
)
async def test_cross_account_reads_are_403(http: Client, path: str, token: str) -> None:
    body = await _get(http, path, token, status=403)
    assert body["error"]["code"] == "forbidden"


async def test_own_account_and_children_are_allowed(http: Client) -> None:
    for path in ("/v1/accounts/C1/balances", "/v1/account-services/C1-PHONE/balances"):
        await _get(http, path, "c1-token")
    for account in ("P", "C1", "C2", "C3"):
        await _get(http, f"/v1/accounts/{account}/balances", "p-token")


async def test_unknown_subjects_are_404_for_the_operator(http: Client) -> None:
    for path in (
        "/v1/accounts/NOPE/balances",
        "/v1/account-services/NOPE/balances",
        "/v1/accounts/P/share-plans/NOPE/balances",
    ):
        assert (await _get(http, path, status=404))["error"]["code"] == "not_found"


@pytest.mark.parametrize("at", ["yesterday", "2026-03-01T00:00:00", "2026-13-01T00:00:00Z"])
async def test_bad_moment_is_400(http: Client, at: str) -> None:
    body = await _get(http, f"/v1/accounts/P/balances?at={at}", status=400)
    assert body["error"]["code"] == "bad_request"


async def test_metrics_are_public_and_count_balance_reads(http: Client) -> None:
    await _get(http, "/v1/accounts/P/balances?at=2026-03-31T12:00:00Z")
    response = await http.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert 'rater_redis_seconds_count{operation="read"}' in text
    assert 'rater_api_request_seconds_count{route="/v1/accounts/{account}/balances",status="200"}' in text


async def test_openapi_document_is_served_without_a_token(http: Client) -> None:
    response = await http.get("/openapi.yaml")
    assert response.status == 200
    assert (await response.text()).startswith("openapi: 3.1.0")


async def test_wrong_method_is_405_json_with_allow(http: Client) -> None:
    response = await http.post("/v1/accounts/P/balances", headers=_auth(OPERATOR))
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_unreachable_store_is_503(redis_url: str, redis_client: Redis) -> None:
    """An unreachable state store is a retriable 503 with the JSON error body, never a 500."""
    catalog, subscriptions = await rate_folder_into(redis_client, E20)
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    client = TestClient(TestServer(build_api(api_context(redis_url, dead, catalog, subscriptions))))
    await client.start_server()
    try:
        body = await _get(client, "/v1/accounts/P/balances", status=503)
        assert body["error"]["code"] == "store_unavailable"
    finally:
        await client.close()
        await dead.aclose()


async def test_unreachable_store_is_503_on_configuration(redis_url: str, redis_client: Redis) -> None:
    """``GET /v1/configuration`` with the store down is the same retriable 503, and so is each of its reads
    (the workers and the history included, which once escaped as a 500)."""
    catalog, subscriptions = await rate_folder_into(redis_client, E20)
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    context = api_context(redis_url, dead, catalog, subscriptions)
    store = ConfigStore(dead, "down")
    context.extras[CONFIG_STORE] = store
    client = TestClient(TestServer(build_api(context)))
    await client.start_server()
    try:
        await _get(client, "/v1/configuration?history=5", status=503)
        for read in (store.workers, store.history):
            with pytest.raises(RetriableError):
                await read()
    finally:
        await client.close()
        await dead.aclose()
