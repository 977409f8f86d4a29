"""The running API against its OpenAPI document (docs/openapi.yaml).

The document validates (openapi-spec-validator).  Then schemathesis loads it from the running API's
``/openapi.yaml`` and calls every operation with generated and example requests, checking every response
against the document (status codes, content types, bodies, headers, auth).  The API is ``rater api`` itself,
a process with its configuration store (seeded from E20: share plans at usage-invoicer and account level, a
parent and its children), its provisioner that settles cancellations, its rating-exception index and its
Kafka side (:func:`streams.api.app.background`: the producer reprocessing and settlements send with, the
provisioning and exception consumers), over a real Redis holding E20's usage rated through the Redis kernel
and a few indexed exceptions, and the embedded broker.  So operations are applied for real and reprocessed
records really go to ``usage``.  The live crossing stream never ends, so it is left to
tests/integration/test_api_crossings.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, assume, given, settings
from openapi_spec_validator import validate
from redis.asyncio import Redis
from schemathesis.core.result import Ok
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from streams.api.exceptions_index import ExceptionIndex
from streams.configuration.topics import RATED, USAGE, TopicSpec, create_topics
from streams.dev.servers import KafkaBroker, free_port
from tests.integration._api import E20, OPERATOR, TOKENS, YEARS, rate_folder_into

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STREAMING = {"crossingStream"}
APP = "contract"
OPERATOR_ONLY = {
    "POST /v1/operations",
    "GET /v1/operations/{operation}",
    "GET /v1/configuration",
    "POST /v1/exceptions/reprocess",
}
#: Operations whose schema-valid requests may still be refused (4xx JSON errors, checked against the document
#: like every answer).  The operation schemas are the models' (tests/unit/test_openapi_routes.py), but some
#: checks are in validators no schema states (a catalog ``kind``, a duration such as '1 month'), and whether an
#: operation applies depends on the configuration in force (``invalid_configuration``: an end before its
#: start, overlapping usage identifier windows, ...).
REFUSED_BY_CONTENT = {"submitOperation"}
#: Per operation and kind of request (examples, valid, invalid): the test stays well under its timeout.
MAX_EXAMPLES = 25

#: Exceptions in the index when the API starts: C1's record missing a rate (the document's reprocessing
#: example sends it back), and a record whose usage identifier matched no one.
EXCEPTIONS: list[tuple[dict[str, Any], int]] = [
    (
        {
            "record_id": "C1-NO-RATE",
            "type": "rate_not_found",
            "message": "no rate for DATA in RP-MOBILE",
            "account": "C1",
            "original": '{"record_id": "C1-NO-RATE", "usage_identifier": "+12125550101", "usage_class": "DATA", '
            '"quantity": "1", "unit": "GB", "event_time": "2026-03-05T10:00:00Z"}',
        },
        1_772_704_800_000,  # 2026-03-05T10:00:00Z
    ),
    (
        {
            "record_id": "NOBODY-1",
            "type": "no_usage_identifier_match",
            "message": "no account-service has usage identifier +19999999999 on 2026-03-06",
            "account": None,
            "original": '{"record_id": "NOBODY-1", "usage_identifier": "+19999999999", "usage_class": "DATA", '
            '"quantity": "1", "unit": "GB", "event_time": "2026-03-06T10:00:00Z"}',
        },
        1_772_791_200_000,
    ),
]


def test_openapi_document_validates() -> None:
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    validate(document)
    tags = [operation["tags"][0] for path in document["paths"].values() for operation in path.values()]
    assert tags == sorted(tags, key=[tag["name"] for tag in document["tags"]].index), "paths: grouped by tag"


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    with KafkaBroker() as broker:
        yield broker.bootstrap


async def _prepare(redis_url: str, kafka: str, prefix: str) -> None:
    """E20's usage rated into Redis and a few exceptions in the index; the topics the API produces to exist
    (in a deployment, the ``topics`` service creates them).  ``rater api`` seeds its configuration store
    from ``RATER_CONFIG`` itself."""
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
        await rate_folder_into(client, E20)
        index = ExceptionIndex(client, APP, retention=YEARS)  # its exceptions are of March 2026
        for event, raised_at in EXCEPTIONS:
            await index.record(event, raised_at)
    finally:
        await client.aclose()
    await create_topics(kafka, [TopicSpec(f"{prefix}{name}", 1) for name in (USAGE, RATED)])


@pytest.fixture
def running_api(redis_url: str, kafka_bootstrap: str, tmp_path: Path) -> Iterator[str]:
    """``rater api`` as a process (its configuration store, provisioner, exception index and Kafka side,
    wired by :func:`streams.api.app.run_api`) on a free loopback port; yields its base URL.  A process, not
    a thread of this one: the API's Kafka clients draw on the global ``random`` while Hypothesis generates
    cases, which Hypothesis reports as a strategy using ``random``."""
    prefix = f"contract-{uuid.uuid4().hex}-"
    asyncio.run(_prepare(redis_url, kafka_bootstrap, prefix))
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "RATER_CONFIG": str(E20),
        "RATER_APP_ID": APP,
        "RATER_TOPIC_PREFIX": prefix,
        "RATER_API_PORT": str(port),
        "RATER_OPERATOR_TOKEN": OPERATOR,
        "RATER_ACCOUNT_TOKENS": TOKENS,
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "api"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(base):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# About 10 s per token on a quiet machine (11 operations x 3 kinds of request x MAX_EXAMPLES); the project's
# 120 s default leaves room for a loaded one, and the budget is stated here so it stays deliberate.
@pytest.mark.timeout(120)
@pytest.mark.parametrize("token", [OPERATOR, "c1-token"])
def test_api_conforms_to_its_openapi_document(running_api: str, token: str) -> None:
    """Examples of the document, then schema-valid and schema-invalid generated requests (path ids, query
    parameters, bodies), as the operator (200 and 4xx answers: operations applied and refused, exceptions
    listed and reprocessed) and as C1's app (200 for C1, 403 elsewhere and on every operator operation)."""
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
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        raw = operation.definition.raw
        if raw.get("operationId") in STREAMING:
            continue
        excluded = [positive_data_acceptance] if raw.get("operationId") in REFUSED_BY_CONTENT else []
        seen = statuses.setdefault(operation.label, set())
        # Nothing can be made invalid in an operation without parameters or a body.
        for mode, phase in runs if raw.get("parameters") or raw.get("requestBody") else runs[1:2]:
            _fuzz(operation.as_strategy(mode, phase=phase), running_api, headers, excluded, seen)
    assert len(statuses) == len(operations) - len(STREAMING) >= 10
    # The examples reach the success of provisioning and exceptions: operations applied, exceptions listed
    # and reprocessed; C1's app is refused every operator operation.
    if token == OPERATOR:
        assert all(200 in statuses[label] for label in [*OPERATOR_ONLY, "GET /v1/exceptions"]), statuses
    else:
        assert all(403 in statuses[label] for label in OPERATOR_ONLY), statuses


def _fuzz(strategy: Any, base_url: str, headers: dict[str, str], excluded: list[Any], seen: set[int]) -> None:
    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case[Any]) -> None:
        # A negative case that "adds" a query parameter with an empty list sends nothing of it: the request is
        # a valid one, and its 200 is no acceptance of invalid data (seen: {'history': 0, '': []}).
        assume(not any(value == [] for value in (case.query or {}).values()))
        response = case.call_and_validate(base_url=base_url, headers=headers, excluded_checks=excluded)
        seen.add(response.status_code)

    call()
