"""Provisioning through Kafka: the ``provisioning`` topic, one JSON operation per message.

A group consumer (``<RATER_APP_ID>-provisioning``, started with the API) applies each operation in topic
order through the configuration store, exactly as ``POST /v1/operations`` does (a cancellation settles and
publishes its adjustments first, :mod:`streams.configuration.settlement`), and publishes its result to
``provisioning-results`` (keyed by operation id); the result is also kept by id (``GET /v1/operations/{id}``).
Offsets are committed after the results are on the broker, so a crash re-reads the batch: an operation id
applied before is not applied again (its stored result is published again).  A message without an ``id``
gets ``<topic>:<partition>:<offset>`` as its id, which is just as stable across re-reads.  A message that is
not an operation is refused with ``invalid_operation``, one that fails in any other way with ``internal``
(:func:`apply_message`): nothing on the topic stops the consumer.

The topics have one partition: operations apply in the order they were produced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import orjson
from aiokafka.errors import KafkaError

from rater.errors import RetriableError
from rater.provisioning import ProvisioningError, parse_operation
from streams.configuration.settlement import Publish, Submitter
from streams.configuration.store import OperationResult
from streams.retry import retry

log = logging.getLogger("rater.provisioning")

PROVISIONING = "provisioning"
PROVISIONING_RESULTS = "provisioning-results"


async def apply_message(store: Submitter, value: bytes | None, fallback_id: str) -> OperationResult:
    """The result of one ``provisioning`` message (applied, or refused with the reason).

    Whatever goes wrong with one operation is that operation's refusal, so no message can stop the topic:
    a message that is not an operation is refused with ``invalid_operation``, and any other error while it
    is applied (a software fault) with ``internal``, logged with its traceback.  Only an unavailable store
    (:class:`RetriableError`) or broker (``KafkaError``, publishing a cancellation's adjustments) is not a
    refusal: the caller waits it out and tries the operation again, and its id keeps that safe."""
    body: Any = None
    try:
        body = orjson.loads(value or b"")
        if isinstance(body, dict) and not body.get("id"):
            body = {**body, "id": fallback_id}
        operation = parse_operation(body)
    except (orjson.JSONDecodeError, ProvisioningError) as exc:
        error = (
            exc if isinstance(exc, ProvisioningError) else ProvisioningError("invalid_operation", f"not JSON: {exc}")
        )
        return await _refuse(store, body, fallback_id, error)
    try:
        return await store.submit(operation)
    except (RetriableError, KafkaError):
        raise
    except Exception as exc:
        log.exception("provisioning operation %s failed; refused, the topic goes on", operation.id)
        error = ProvisioningError("internal", f"the operation could not be applied: {type(exc).__name__}: {exc}"[:500])
        return await _refuse(store, body, fallback_id, error)


async def _refuse(store: Submitter, body: Any, fallback_id: str, error: ProvisioningError) -> OperationResult:
    """Keep and answer a refusal.  It is kept under the message's id when that is a string of at most 200
    characters (what a sender waits for, even an id the refusal is about), else under ``fallback_id``; a
    refusal never replaces an applied result (:meth:`ConfigStore.store_refusal`)."""
    given = body.get("id") if isinstance(body, dict) else None
    op_id = given if isinstance(given, str) and 0 < len(given) <= 200 else fallback_id
    op = str(body.get("op"))[:40] if isinstance(body, dict) else ""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    result = OperationResult(op_id, op, "refused", None, at, error.to_dict())
    await store.store_refusal(result)
    return result


async def follow_provisioning(
    store: Submitter, consumer: Any, publish: Publish, *, stop: asyncio.Event | None = None
) -> None:
    """Apply the operations a started aiokafka group consumer (manual commits) reads, publish each result
    (``provisioning-results``, keyed by operation id), then commit.  An unavailable store or broker is waited
    out in place (streams/retry.py): the operation is tried again, and its id keeps that safe."""
    while stop is None or not stop.is_set():
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for message in records:
                fallback = f"{message.topic}:{message.partition}:{message.offset}"
                result = await retry(lambda m=message, f=fallback: apply_message(store, m.value, f), "an operation")  # type: ignore[misc]
                if result.status != "applied":
                    log.warning("provisioning operation %s refused: %s", result.operation, result.error)
                await publish(result.operation.encode(), orjson.dumps(result.to_dict()))
        if batch:
            await consumer.commit()
