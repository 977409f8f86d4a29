"""Provisioning over HTTP (operator token): one operation per request, the same operations as the
``provisioning`` topic and ``rater provision`` (docs/provisioning.md).

* ``POST /v1/operations``: apply one operation; ``200`` with its result once it is in force (every record a
  worker rates in a batch started after this answer sees it), or a JSON error that changed nothing.  A
  ``cancel_account_service`` has settled its prorated buckets and published their adjustments on
  ``rated-charges`` by then (R41, :mod:`streams.configuration.settlement`).
  Idempotent: an operation ``id`` applied before answers with its stored result.
* ``GET /v1/operations/{id}``: the result of an operation, whichever way it came (HTTP, topic, CLI).
* ``GET /v1/configuration``: the version and both documents in force, the version each worker rates with
  (``workers``), and with ``?history=N`` the last N operations applied.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from rater.provisioning import ProvisioningError, accounts_document, parse_operation
from streams.api.auth import require_operator
from streams.api.context import ApiContext, context
from streams.api.errors import api_error, json_response, only_query
from streams.configuration.settlement import Provisioner
from streams.configuration.store import ConfigStore, OperationResult

routes = web.RouteTableDef()

#: HTTP status of each refusal code.
STATUS = {
    "invalid_operation": 400,
    "not_found": 404,
    "already_exists": 409,
    "entity_in_use": 409,
    "share_plan_inactive": 409,
    "share_plan_without_buckets": 409,
    "invalid_configuration": 422,
}

#: The most operations ``?history=`` lists (the store's log keeps this many).
HISTORY = 1000

CONFIG_STORE = "config_store"
PROVISIONER = "provisioner"


def config_store(ctx: ApiContext) -> ConfigStore:
    store = ctx.extras.get(CONFIG_STORE)
    if not isinstance(store, ConfigStore):
        raise api_error(503, "unavailable", "the configuration store is not configured")
    return store


def provisioner(ctx: ApiContext) -> Provisioner | ConfigStore:
    """What applies operations: the :class:`Provisioner` (it also settles cancellations, R41) when the
    application has one, else the configuration store alone."""
    found = ctx.extras.get(PROVISIONER)
    return found if isinstance(found, Provisioner) else config_store(ctx)


def refusal(result: OperationResult) -> web.HTTPException:
    error = result.error or {"code": "invalid_operation", "message": "refused"}
    details = {"operation": result.operation, "issues": error.get("issues", [])}
    return api_error(STATUS.get(error["code"], 400), error["code"], error["message"], **details)


@routes.post("/v1/operations")
async def submit(request: web.Request) -> web.Response:
    require_operator(request)
    only_query(request)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise api_error(400, "invalid_operation", f"the body is not JSON: {exc}") from exc
    try:
        operation = parse_operation(body)
    except ProvisioningError as exc:
        raise api_error(400, exc.code, exc.message, issues=[str(issue) for issue in exc.issues]) from exc
    result = await provisioner(context(request)).submit(operation)
    if result.status != "applied":
        raise refusal(result)
    return json_response(result.to_dict())


@routes.get("/v1/operations/{operation}")
async def operation_result(request: web.Request) -> web.Response:
    require_operator(request)
    only_query(request)
    result = await config_store(context(request)).result(request.match_info["operation"])
    if result is None:
        raise api_error(404, "not_found", f"no operation {request.match_info['operation']!r}")
    return json_response(result.to_dict())


@routes.get("/v1/configuration")
async def configuration(request: web.Request) -> web.Response:
    require_operator(request)
    only_query(request, "history")
    store = config_store(context(request))
    version, config = await store.current()
    body = {
        "version": version,
        "workers": await store.workers(),
        "catalog": config.catalog_document,
        **accounts_document(config.accounts.values()),
    }
    history = request.query.get("history")
    if history is not None:
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses (that was a 500).
        if not (history.isascii() and history.isdigit()) or int(history) > HISTORY:
            raise api_error(400, "bad_request", f"history is a number of operations from 0 to {HISTORY}")
        body["history"] = await store.history(int(history)) if int(history) else []
    return json_response(body)
