"""Rating exceptions (§1.20, R31): listing and reprocessing (streams/api/exceptions_index.py).

* ``GET /v1/exceptions?type=&account=&since=&until=&status=&limit=&cursor=``: the exceptions raised in
  ``[since, until)`` (ISO 8601), oldest first, at most ``limit`` (default 100, at most 1000), and
  ``next_cursor`` for the next page.  The operator sees all; an account token only its accounts' (give
  ``account``).
* ``POST /v1/exceptions/reprocess`` (operator), body ``{"ids": [...]}`` and/or a filter ``{"type", "account",
  "since", "until", "status"}`` (status defaults to ``open``), optional ``"force": true``: the records go back
  to the ``usage`` topic; the answer lists those sent and those skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from rater.errors import ExceptionType
from streams.api.auth import principal_of, require_account, require_operator
from streams.api.context import ApiContext, context
from streams.api.errors import api_error, json_response, only_query
from streams.api.exceptions_index import MAX_LIMIT, STATUSES, ExceptionFilter, ExceptionIndex, public, reprocess

routes = web.RouteTableDef()

EXCEPTION_INDEX = "exception_index"
USAGE_SENDER = "usage_sender"
TYPES = tuple(t.value for t in ExceptionType)
#: The largest ``cursor`` (an offset in a sorted set; 2**53 - 1 stays exact in every JSON client).
MAX_CURSOR = 2**53 - 1
FILTERS = ("type", "account", "since", "until", "status")


def exception_index(ctx: ApiContext) -> ExceptionIndex:
    index = ctx.extras.get(EXCEPTION_INDEX)
    if not isinstance(index, ExceptionIndex):
        raise api_error(503, "unavailable", "the rating-exception index is not configured")
    return index


def parse_time(name: str, text: object) -> int | None:
    """ISO 8601 (a zone is required; ``Z`` accepted) -> epoch ms."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise api_error(400, "bad_request", f"{name} is an ISO 8601 time such as 2026-03-01T00:00:00Z")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise api_error(400, "bad_request", f"{name}={text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise api_error(400, "bad_request", f"{name}={text!r} needs a time zone (e.g. Z)")
    return int(moment.timestamp() * 1000)


def parse_filter(values: Mapping[str, Any], *, limit: int = 100, cursor: int = 0) -> ExceptionFilter:
    for name in FILTERS:  # a number, null or "" would otherwise pass as a filter, or as none
        if name in values and not (isinstance(values[name], str) and values[name]):
            raise api_error(400, "bad_request", f"{name} is a non-empty string")
    kind = values.get("type") or None
    if kind is not None and kind not in TYPES:
        raise api_error(400, "bad_request", f"unknown exception type {kind!r} (one of {', '.join(TYPES)})")
    status = values.get("status") or None
    if status is not None and status not in STATUSES:
        raise api_error(400, "bad_request", f"status is one of {', '.join(STATUSES)}")
    account = values.get("account") or None
    return ExceptionFilter(
        type=kind,
        account=str(account) if account is not None else None,
        since_ms=parse_time("since", values.get("since")),
        until_ms=parse_time("until", values.get("until")),
        status=status,
        limit=limit,
        cursor=cursor,
    )


def _number(text: str | None, name: str, default: int, low: int, high: int) -> int:
    """A query number in ``[low, high]``: ASCII digits only (``str.isdigit`` also takes '²', which ``int``
    refuses), bounded (a cursor past Redis' 64-bit offsets was a 500)."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise api_error(400, "bad_request", f"{name} is a whole number from {low} to {high}")
    return int(text)


@routes.get("/v1/exceptions")
async def list_exceptions(request: web.Request) -> web.Response:
    ctx = context(request)
    only_query(request, *FILTERS, "limit", "cursor")
    where = parse_filter(
        request.query,
        limit=_number(request.query.get("limit"), "limit", 100, 1, MAX_LIMIT),
        cursor=_number(request.query.get("cursor"), "cursor", 0, 0, MAX_CURSOR),
    )
    if not principal_of(request).operator:
        if where.account is None:
            raise api_error(403, "forbidden", "an account token lists one account's exceptions: give account=")
        _, subscriptions = await ctx.config()
        require_account(request, where.account, subscriptions)
    found, cursor = await exception_index(ctx).find(where)
    return json_response({"exceptions": [public(entry) for entry in found], "next_cursor": cursor})


@routes.post("/v1/exceptions/reprocess")
async def reprocess_exceptions(request: web.Request) -> web.Response:
    require_operator(request)
    only_query(request)
    ctx = context(request)
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise api_error(400, "bad_request", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise api_error(400, "bad_request", "the body is a JSON object")
    unknown = set(body) - {"ids", "type", "account", "since", "until", "status", "force"}
    if unknown:
        raise api_error(400, "bad_request", f"unknown fields {sorted(unknown)}")
    ids = body.get("ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise api_error(400, "bad_request", "ids is a list of record ids")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise api_error(400, "bad_request", "force is true or false")
    filtering = any(name in body for name in FILTERS)
    if not ids and not filtering:
        raise api_error(400, "bad_request", "give ids, or a filter (type, account, since, until, status)")
    where = parse_filter(body) if filtering else None
    send = ctx.extras.get(USAGE_SENDER)
    if send is None:
        raise api_error(503, "unavailable", "no producer for the usage topic")
    report = await reprocess(
        exception_index(ctx),
        send,
        ids=ids,
        where=where,
        force=force,
        now_ms=int(dt.datetime.now(dt.UTC).timestamp() * 1000),
        result_ttl_s=ctx.settings.result_ttl,
    )
    return json_response(report.to_dict())
