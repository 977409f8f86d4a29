"""docs/openapi.yaml describes every route the API serves (method and path), and no other; the schemas of
provisioning operations in it are those of the models that parse them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.provisioning import OPERATION
from rater.subscriptions import Subscriptions
from streams.api.app import build_api
from streams.api.auth import Tokens
from streams.api.context import ApiContext
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "openapi.yaml"
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


# --- the operations' request schemas, generated from the models that parse them ----------------------------

#: Marks the generated end of docs/openapi.yaml: the schemas of every operation, from :data:`OPERATION`.
GENERATED = "    # --- generated from rater.provisioning.OPERATION: python -m tests.unit.test_openapi_routes ---\n"


def operation_schemas() -> dict[str, Any]:
    """``Operation`` (one of the ops, told apart by ``op``) and every model it refers to, as OpenAPI 3.1
    component schemas (pydantic's JSON Schema, titles left out)."""
    schema = OPERATION.json_schema(ref_template="#/components/schemas/{model}")
    defs = _untitled(schema.pop("$defs"))
    return {
        "Operation": {
            "description": "One provisioning operation, told apart by `op` (docs/provisioning.md, Operations).",
            **_untitled(schema),
        },
        **dict(sorted(defs.items())),
    }


def generated_block() -> str:
    text = yaml.safe_dump(operation_schemas(), sort_keys=False, width=110, allow_unicode=True, default_flow_style=None)
    return GENERATED + "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())


def _untitled(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untitled(v) for k, v in value.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(value, list):
        return [_untitled(v) for v in value]
    return value


def test_the_operation_schemas_are_the_models() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert GENERATED in text, "docs/openapi.yaml ends with the generated operation schemas"
    assert text[text.index(GENERATED) :] == generated_block(), "run: python -m tests.unit.test_openapi_routes"


if __name__ == "__main__":  # rewrite the generated end of docs/openapi.yaml
    current = DOC.read_text(encoding="utf-8")
    head = current[: current.index(GENERATED)] if GENERATED in current else current
    DOC.write_text(head + generated_block(), encoding="utf-8")
