"""docs/openapi.yaml describes every route the API serves (method and path), and no other."""

from __future__ import annotations

from pathlib import Path

import yaml
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.subscriptions import Subscriptions
from streams.api.app import build_api
from streams.api.auth import Tokens
from streams.api.context import ApiContext
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


async def _never() -> tuple[Catalog, Subscriptions]:
    raise AssertionError("building the application reads no configuration")


def served() -> set[tuple[str, str]]:
    settings = Settings("127.0.0.1:1", "redis://127.0.0.1:1/0", config=ROOT / "config")
    context = ApiContext(settings, Redis.from_url(settings.redis_url), Tokens.parse("op", None), _never)
    app = build_api(context)
    # aiohttp answers HEAD for every GET route by itself; the document describes the GETs.
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def documented() -> set[tuple[str, str]]:
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item if method in METHODS}


def test_every_served_route_is_documented_and_every_documented_one_served() -> None:
    routes = served()
    assert len(routes) >= 12
    assert documented() == routes


def test_the_served_document_is_the_documented_one() -> None:
    packaged = ROOT / "streams" / "api" / "openapi.yaml"
    assert packaged.read_bytes() == (ROOT / "docs" / "openapi.yaml").read_bytes()
