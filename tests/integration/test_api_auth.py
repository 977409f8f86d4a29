"""The API's bearer auth and JSON errors against a real aiohttp server and a real Redis (no handlers of the
feature modules needed): 401 without or with a wrong token, the operator and account principals, and the
account scope (an account sees itself and its children, R-free: §1.2 parent hierarchy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.offline import load_folder
from rater.subscriptions import Subscriptions
from streams.api.app import build_api
from streams.api.auth import Tokens, in_scope, principal_of, require_account
from streams.api.context import ApiContext, context
from streams.api.errors import json_response
from streams.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _folder() -> Path:
    """An example with a parent and a child account."""
    for folder in sorted((ROOT / "examples").iterdir()):
        if not (folder / "subscriptions.yaml").exists():
            continue
        _, subscriptions = load_folder(folder)
        if any(account.parent for account in subscriptions.accounts.values()):
            return folder
    raise AssertionError("no example with a parent account")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Subscriptions]]:
    catalog, subscriptions = load_folder(_folder())

    async def config() -> tuple[Catalog, Subscriptions]:
        return catalog, subscriptions

    child = next(account for account in subscriptions.accounts.values() if account.parent)
    assert child.parent is not None
    redis = Redis.from_url(redis_url)
    tokens = Tokens.parse("op-secret", f"parent-token={child.parent},child-token={child.id}")
    ctx = ApiContext(Settings("127.0.0.1:1", redis_url), redis, tokens, config)
    app = build_api(ctx)

    async def whoami(request: web.Request) -> web.Response:
        _, subs = await context(request).config()
        require_account(request, request.match_info["account"], subs)
        return json_response({"account": principal_of(request).account})

    app.router.add_get("/probe/{account}", whoami)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client, subscriptions
    await test_client.close()
    await redis.aclose()


async def test_health_needs_no_token(client: tuple[TestClient[web.Request, web.Application], Subscriptions]) -> None:
    http, _ = client
    response = await http.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_missing_and_wrong_tokens_get_401_json(
    client: tuple[TestClient[web.Request, web.Application], Subscriptions],
) -> None:
    http, subscriptions = client
    account = next(iter(subscriptions.accounts))
    missing = await http.get(f"/probe/{account}")
    assert missing.status == 401
    assert (await missing.json())["error"]["code"] == "unauthorized"
    wrong = await http.get(f"/probe/{account}", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    basic = await http.get(f"/probe/{account}", headers={"Authorization": "Basic op-secret"})
    assert basic.status == 401


async def test_account_scope(client: tuple[TestClient[web.Request, web.Application], Subscriptions]) -> None:
    """The parent's token sees the child; the child's token does not see the parent (403, JSON)."""
    http, subscriptions = client
    child = next(account for account in subscriptions.accounts.values() if account.parent)
    assert child.parent is not None
    as_parent = await http.get(f"/probe/{child.id}", headers={"Authorization": "Bearer parent-token"})
    assert as_parent.status == 200
    assert await as_parent.json() == {"account": child.parent}
    as_child = await http.get(f"/probe/{child.parent}", headers={"Authorization": "Bearer child-token"})
    assert as_child.status == 403
    assert (await as_child.json())["error"]["code"] == "forbidden"
    as_operator = await http.get(f"/probe/{child.parent}", headers={"Authorization": "Bearer op-secret"})
    assert as_operator.status == 200
    assert await as_operator.json() == {"account": None}


async def test_unknown_path_is_json_404(client: tuple[TestClient[web.Request, web.Application], Subscriptions]) -> None:
    http, _ = client
    response = await http.get("/nowhere", headers={"Authorization": "Bearer op-secret"})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


def test_scope_of_unknown_account_is_refused() -> None:
    _, subscriptions = load_folder(_folder())
    principal = Tokens.parse(None, "t=X").principal("t")
    assert principal is not None
    assert not in_scope(principal, "NOPE", subscriptions)


def test_tokens_are_not_in_repr() -> None:
    tokens = Tokens.parse("op-secret", "a-token=ACC-1")
    assert "op-secret" not in repr(tokens)
    assert "a-token" not in repr(tokens)
