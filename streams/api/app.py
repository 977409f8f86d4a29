"""The API application: middlewares (JSON errors, bearer auth) and every feature module's routes.

``rater api`` runs it (:func:`run_api`); tests build it with :func:`build_api` around their own context.
Paths under :data:`PUBLIC` need no token (health and the OpenAPI document); everything else does.
"""

from __future__ import annotations

import importlib.resources
import logging
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from rater.catalog import Catalog
from rater.issues import ValidationFailed
from rater.offline import load_folder
from rater.redis_store import connect
from rater.subscriptions import Subscriptions
from streams import metrics
from streams.api import balances, crossings, exceptions, provisioning
from streams.api.auth import PRINCIPAL, Tokens, authenticate
from streams.api.context import CONTEXT, ApiContext
from streams.api.errors import api_error, json_response
from streams.settings import Settings

log = logging.getLogger("rater.api")

#: Paths served without a token.
PUBLIC = frozenset({"/health", "/openapi.yaml", "/metrics"})

#: The OpenAPI document (docs/openapi.yaml; packaged as streams/api/openapi.yaml, a link to it).
OPENAPI = importlib.resources.files("streams.api").joinpath("openapi.yaml")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as the API's JSON error body, unexpected ones as a logged ``500``."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        raise api_error(exc.status, _code(exc.status), exc.reason, headers=_kept(exc)) from exc
    except Exception as exc:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise api_error(500, "internal", "internal error") from exc


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC:
        request[PRINCIPAL] = authenticate(request, request.app[CONTEXT].tokens)
    return await handler(request)


@web.middleware
async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``rater_api_request_seconds`` by route template (not the raw path: ids would explode the labels)."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.observe_api(route, status, time.perf_counter() - start)


async def health(_: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def openapi(_: web.Request) -> web.Response:
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/yaml")


async def prometheus(_: web.Request) -> web.Response:
    body, content_type = metrics.exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def build_api(context: ApiContext) -> web.Application:
    app = web.Application(middlewares=[timed, json_errors, bearer_auth])
    app[CONTEXT] = context
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.yaml", openapi)
    app.router.add_get("/metrics", prometheus)
    for module in (balances, crossings, provisioning, exceptions):
        app.add_routes(module.routes)
    app.cleanup_ctx.append(crossings.crossing_feed)
    return app


def _kept(exc: web.HTTPException) -> dict[str, str]:
    """Headers of aiohttp's own errors worth keeping on the JSON error (``Allow`` of a ``405``)."""
    return {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}


def _code(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
        status, "error"
    )


def run_api(settings: Settings) -> int:
    """``rater api``: serve until SIGINT/SIGTERM, with the configuration loaded from ``settings.config``."""
    try:
        catalog, subscriptions = load_folder(settings.config)
    except ValidationFailed as exc:
        for issue in exc.issues:
            sys.stderr.write(f"{issue}\n")
        return 1

    async def config() -> tuple[Catalog, Subscriptions]:
        return catalog, subscriptions

    async def make() -> web.Application:
        client = connect(settings.redis_url)
        context = ApiContext(settings, client, Tokens.parse(settings.operator_token, settings.account_tokens), config)
        app = build_api(context)

        async def close(_: web.Application) -> None:
            await client.aclose()

        app.on_cleanup.append(close)
        return app

    logging.basicConfig(level=settings.log_level.upper())
    web.run_app(make(), host=settings.api_host, port=settings.api_port, print=None)
    return 0
