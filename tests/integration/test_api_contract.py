"""The running API against its OpenAPI document (docs/openapi.yaml).

The document validates (openapi-spec-validator).  Then schemathesis loads it from the running API's
``/openapi.yaml`` and calls every operation with generated and example requests, checking every response
against the document (status codes, content types, bodies, headers, auth): the API runs on a real aiohttp
server over a real Redis holding E20's usage (share plans at usage-invoicer and account level, a parent and
its children), rated through the Redis kernel.  The live crossing stream never ends, so it is left to
tests/integration/test_api_crossings.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from redis.asyncio import Redis
from schemathesis.core.result import Ok
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.modes import GenerationMode

from streams.api.app import build_api
from tests.integration._api import E20, OPERATOR, api_context, rate_folder_into

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STREAMING = {"crossingStream"}


def test_openapi_document_validates() -> None:
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    validate(document)
    tags = [operation["tags"][0] for path in document["paths"].values() for operation in path.values()]
    assert tags == sorted(tags, key=[tag["name"] for tag in document["tags"]].index), "paths: grouped by tag"


@pytest.fixture
def running_api(redis_url: str) -> Iterator[str]:
    """The API on a free loopback port, in its own thread and event loop; yields its base URL."""
    loop = asyncio.new_event_loop()
    started: list[str] = []
    ready = threading.Event()
    runner_box: list[web.AppRunner] = []
    clients: list[Redis] = []

    async def start() -> None:
        client = Redis.from_url(redis_url)
        clients.append(client)
        await client.flushdb()
        catalog, subscriptions = await rate_folder_into(client, E20)
        runner = web.AppRunner(build_api(api_context(redis_url, client, catalog, subscriptions)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runner_box.append(runner)
        host, port = runner.addresses[0][:2]
        started.append(f"http://{host}:{port}")

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield started[0]

    async def stop() -> None:
        await runner_box[0].cleanup()
        await clients[0].aclose()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


@pytest.mark.parametrize("token", [OPERATOR, "c1-token"])
def test_api_conforms_to_its_openapi_document(running_api: str, token: str) -> None:
    """Examples of the document, then schema-valid and schema-invalid generated requests (path ids, ``at``),
    as the operator (200 and 404 answers) and as C1's app (200 for C1, 403 elsewhere)."""
    schema = schemathesis.openapi.from_url(f"{running_api}/openapi.yaml")
    headers = {"Authorization": f"Bearer {token}"}
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    runs = [
        (GenerationMode.POSITIVE, TestPhase.EXAMPLES),
        (GenerationMode.POSITIVE, TestPhase.FUZZING),
        (GenerationMode.NEGATIVE, TestPhase.FUZZING),
    ]
    tested = set()
    for operation in operations:
        if operation.definition.raw.get("operationId") in STREAMING:
            continue
        # Nothing can be made invalid in an operation without parameters.
        for mode, phase in runs if operation.definition.raw.get("parameters") else runs[1:2]:

            @given(case=operation.as_strategy(mode, phase=phase))
            @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def call(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(base_url=running_api, headers=headers)

            call()
        tested.add(operation.label)
    assert len(tested) == len(operations) - len(STREAMING) >= 5
