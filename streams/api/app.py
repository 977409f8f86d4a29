"""The API application: middlewares (JSON errors, bearer auth) and every feature module's routes.

``rater api`` runs it (:func:`run_api`); tests build it with :func:`build_api` around their own context.
Paths under :data:`PUBLIC` need no token (health and the OpenAPI document); everything else does.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from rater.catalog import Catalog
from rater.issues import ValidationFailed
from rater.offline import load_folder
from rater.redis_store import connect
from rater.subscriptions import Subscriptions
from streams.api import balances, exceptions, provisioning
from streams.api.auth import PRINCIPAL, Tokens, authenticate
from streams.api.context import CONTEXT, ApiContext
from streams.api.errors import api_error, json_response
from streams.settings import Settings

log = logging.getLogger("rater.api")

#: Paths served without a token.
PUBLIC = frozenset({"/health", "/openapi.yaml"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as the API's JSON error body, unexpected ones as a logged ``500``."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        raise api_error(exc.status, _code(exc.status), exc.reason) from exc
    except Exception as exc:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise api_error(500, "internal", "internal error") from exc


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC:
        request[PRINCIPAL] = authenticate(request, request.app[CONTEXT].tokens)
    return await handler(request)


async def health(_: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def build_api(context: ApiContext) -> web.Application:
    app = web.Application(middlewares=[json_errors, bearer_auth])
    app[CONTEXT] = context
    app.router.add_get("/health", health)
    for module in (balances, provisioning, exceptions):
        app.add_routes(module.routes)
    return app


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
