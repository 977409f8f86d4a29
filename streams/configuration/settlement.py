"""Provisioning that settles what it changes: a prorated cancellation's adjustments in the stream (R41, E13).

``cancel_account_service``, ``cancel_account_package`` and ``cancel_account`` through any way in
(``POST /v1/operations``, the ``provisioning`` topic, ``rater provision``) go through :class:`Provisioner`,
which does, in this order:

1. **Settle** against the configuration *before* the cancellation (the one workers still rate with): each
   prorated bucket of every account-service the operation cancels (or cancels earlier) is cut once per
   operation, and its ``rated-adjustment/1`` event is kept with the cut in the same atomic step
   (:func:`rater.cancellation.settle_cancellation`, ``rater_adjust``).  The events of the whole operation are
   then kept by operation id in the configuration store.
2. **Apply** the operation (compare-and-set, :meth:`ConfigStore.submit`): the service is cancelled.
3. **Publish** the kept events on ``rated-charges``, keyed by account, as offline rating writes them
   after the records before the cancellation.

A crash anywhere is repaired by sending the same operation id again: a settlement already kept is not
computed again (1 is skipped), an applied operation is not applied again (2 answers its stored result),
and the kept events are published again, identical (same ``event_id``), so consumers dedupe them.  Only
the events are published at least once; the counters and the configuration change exactly once.

Settling first keeps the pre-cancellation configuration available to price the cut after a crash
between 1 and 2 (once applied, the old tiers are gone).  The cost is a window: records a worker rates
between 1 and the worker's next batch after 2 still draw with the uncut tiers (at most one batch per
worker; docs/provisioning.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson

from rater.cancellation import cancel_targets, settle_cancellation
from rater.errors import RetriableError
from rater.keys import settlement_key
from rater.provisioning import (
    CancelAccount,
    CancelAccountPackage,
    CancelAccountService,
    Operation,
    ProvisioningError,
    apply,
    cancelled_services,
)
from rater.rating import Rater
from rater.redis_store import guarded
from rater.state import Store
from streams.configuration.store import RESULT_TTL, ConfigStore, OperationResult

#: The operations that can cancel an account-service, directly or through its package or account.
SETTLING = (CancelAccountService, CancelAccountPackage, CancelAccount)

#: Sends one event: (key, value).
Publish = Callable[[bytes, bytes], Awaitable[None]]


class Submitter(Protocol):
    """What the ways in need: apply an operation, keep a refusal that never reached :meth:`submit`."""

    async def submit(self, operation: Operation) -> OperationResult: ...

    async def store_refusal(self, result: OperationResult) -> None: ...


class Provisioner:
    """:meth:`ConfigStore.submit` plus the settlement of cancellations (R41) on ``state`` and the publication
    of their adjustments with ``publish`` (``None``: no broker, a cancellation with adjustments is refused
    as retriable before anything changes)."""

    def __init__(self, config: ConfigStore, state: Store, publish: Publish | None = None) -> None:
        self.config = config
        self.state = state
        self.publish = publish

    async def store_refusal(self, result: OperationResult) -> None:
        await self.config.store_refusal(result)

    async def submit(self, operation: Operation) -> OperationResult:
        if not isinstance(operation, SETTLING):
            return await self.config.submit(operation)
        if operation.id is None:
            operation = operation.model_copy(update={"id": uuid.uuid4().hex})
        op_id = operation.id
        assert op_id is not None
        stored = await self.config.result(op_id)
        if stored is not None and stored.status == "applied":
            await self._publish(await self.settled(op_id) or [])
            return stored
        events = await self.settled(op_id)
        if events is None:
            _, config = await self.config.snapshot()
            try:
                cut = cancelled_services(config, apply(operation, config))
            except ProvisioningError:
                return await self.config.submit(operation)  # refused: it stores and answers the refusal
            rater = Rater(config.catalog, config.subscriptions)
            if self.publish is None and any(cancel_targets(rater, service, day) for service, day in cut):
                raise RetriableError(f"{op_id}: a prorated bucket to settle and no broker to publish it on")
            computed: list[bytes] = []
            for service, day in cut:
                computed += [done.event for done in await settle_cancellation(rater, self.state, service, day, op_id)]
            events = await self._keep(op_id, computed)
        result = await self.config.submit(operation)
        if result.status == "applied":
            await self._publish(events)
        return result

    async def settled(self, operation: str) -> list[bytes] | None:
        """The events operation ``operation`` settled, as published; ``None`` before it settled."""
        raw = await guarded(self.config.client.get(settlement_key(self.config.app, operation)))
        return None if raw is None else [event.encode() for event in orjson.loads(raw)]

    async def _keep(self, operation: str, events: list[bytes]) -> list[bytes]:
        """Keep the first settlement of ``operation`` (``SET NX``) and answer the one kept."""
        body = orjson.dumps([event.decode() for event in events])
        await guarded(self.config.client.set(settlement_key(self.config.app, operation), body, nx=True, ex=RESULT_TTL))
        kept = await self.settled(operation)
        assert kept is not None
        return kept

    async def _publish(self, events: list[bytes]) -> None:
        if not events:
            return
        if self.publish is None:
            raise RetriableError("adjustments to publish and no broker to publish them")
        for event in events:
            await self.publish(str(orjson.loads(event)["account"]).encode(), event)
