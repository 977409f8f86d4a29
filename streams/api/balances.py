"""Balances for customer apps: per account, per account-service and per account share plan.

Each handler checks the caller may see the account (an account token: its own account and the accounts
below it, ``403`` otherwise), picks what to show with the pure :class:`rater.balances.Balances`, reads every
counter hash of that view in one atomic script call (one sharing root, one slot:
:func:`rater.redis_store.read_hashes`), and returns the view computed at ``?at=`` (default: now).  A read
never sees half of a record's draw.  An unreachable store is ``503``, retried by the client.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from aiohttp import web

from rater.balances import Balances, Selection, UnknownSubject
from rater.catalog import Catalog
from rater.errors import RetriableError
from rater.redis_store import read_hashes
from rater.subscriptions import Subscriptions
from streams import metrics
from streams.api.auth import principal_of, require_account
from streams.api.context import ApiContext, context
from streams.api.errors import api_error, json_response, only_query

routes = web.RouteTableDef()

_CACHE = "balances"


def balances_for(ctx: ApiContext, catalog: Catalog, subscriptions: Subscriptions) -> Balances:
    """One :class:`Balances` (and its resolver index) per configuration in force, rebuilt when it changes."""
    cached = ctx.extras.get(_CACHE)
    if isinstance(cached, Balances) and cached.catalog is catalog and cached.subscriptions is subscriptions:
        return cached
    balances = Balances(catalog, subscriptions)
    ctx.extras[_CACHE] = balances
    return balances


def parse_moment(text: str | None, now: dt.datetime | None = None) -> dt.datetime:
    """``?at=``: an ISO 8601 time with a UTC offset (``2026-03-15T12:00:00Z``); default now."""
    if text is None:
        return now if now is not None else dt.datetime.now(dt.UTC)
    malformed = api_error(
        400, "bad_request", "at must be an ISO 8601 time with a UTC offset, e.g. 2026-03-15T12:00:00Z"
    )
    try:
        moment = dt.datetime.fromisoformat(text.upper())  # RFC 3339 allows a lowercase t and z
        if moment.tzinfo is None:
            raise malformed
    except ValueError:
        raise malformed from None
    return moment


async def _respond(request: web.Request, balances: Balances, selection: Selection) -> web.Response:
    only_query(request, "at")  # a misspelt ?at= would otherwise silently show now
    moment = parse_moment(request.query.get("at"))
    start = time.perf_counter()
    try:
        fields = await read_hashes(context(request).redis, selection.keys)
    except RetriableError as exc:
        raise api_error(503, "store_unavailable", "the balance store is unavailable, retry later") from exc
    metrics.observe_redis("read", time.perf_counter() - start)
    return json_response(balances.view(selection, fields, moment).to_dict())


async def _account_view(request: web.Request, select: Callable[[Balances, str], Selection]) -> web.Response:
    """A view of the path's ``{account}``: ``403`` outside the caller's scope, ``404`` for what it lacks."""
    ctx = context(request)
    catalog, subscriptions = await ctx.config()
    account = request.match_info["account"]
    require_account(request, account, subscriptions)
    balances = balances_for(ctx, catalog, subscriptions)
    try:
        selection = select(balances, account)
    except UnknownSubject as exc:
        raise api_error(404, "not_found", str(exc)) from exc
    return await _respond(request, balances, selection)


@routes.get("/v1/accounts/{account}/balances")
async def account_balances(request: web.Request) -> web.Response:
    """The buckets the account holds: its account-services' own, its account-level ones, and the pools of
    the share plans it holds with every participant (R11, R59, R61)."""
    return await _account_view(request, lambda balances, account: balances.account(account))


@routes.get("/v1/account-services/{account_service}/balances")
async def service_balances(request: web.Request) -> web.Response:
    """Everything the account-service may draw from, in consumption order (R11-R13), each share-plan pool
    with the service's own participation (R61)."""
    ctx = context(request)
    catalog, subscriptions = await ctx.config()
    service = request.match_info["account_service"]
    owner = subscriptions.services.get(service)
    if owner is None:
        if not principal_of(request).operator:  # an account token learns nothing outside its scope
            raise api_error(403, "forbidden", f"this token may not see account-service {service}")
        raise api_error(404, "not_found", f"no account-service {service!r}")
    require_account(request, owner.account.id, subscriptions)
    balances = balances_for(ctx, catalog, subscriptions)
    return await _respond(request, balances, balances.service(service))


@routes.get("/v1/accounts/{account}/share-plans/{share_plan}/balances")
async def share_plan_balances(request: web.Request) -> web.Response:
    """The pools of one account share plan with every participant instance's use and limit (R59, R61)."""
    plan = request.match_info["share_plan"]
    return await _account_view(request, lambda balances, account: balances.share_plan(account, plan))
