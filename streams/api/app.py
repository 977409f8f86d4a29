"""The API application: middlewares (JSON errors, bearer auth) and every feature module's routes.

``rater api`` runs it (:func:`run_api`); tests build it with :func:`build_api` around their own context.
Paths under :data:`PUBLIC` need no token (health, the OpenAPI document and the Prometheus metrics); everything
else does.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiokafka import AIOKafkaConsumer

from rater.catalog import Catalog
from rater.errors import RetriableError
from rater.issues import ValidationFailed
from rater.redis_store import RedisStore, connect
from rater.subscriptions import Subscriptions
from streams import metrics
from streams.api import balances, crossings, exceptions, provisioning
from streams.api.auth import PRINCIPAL, Tokens, authenticate
from streams.api.context import CONTEXT, ApiContext
from streams.api.errors import api_error, json_response
from streams.api.exceptions import EXCEPTION_INDEX, USAGE_SENDER
from streams.api.exceptions_index import ExceptionIndex, follow_exceptions
from streams.api.provisioning import CONFIG_STORE, PROVISIONER
from streams.configuration.provisioning_feed import PROVISIONING, PROVISIONING_RESULTS, follow_provisioning
from streams.configuration.settlement import Provisioner
from streams.configuration.store import ConfigStore
from streams.configuration.topics import EXCEPTIONS, RATED, USAGE, TopicSpec, create_topics
from streams.kafka import TopicPublisher
from streams.retry import keep_running
from streams.settings import Settings

log = logging.getLogger("rater.api")

#: The largest request body, bytes (aiohttp's ``client_max_size``): a larger one is refused with ``413``
#: ``payload_too_large`` before it is read whole.  An operation, even ``replace_catalog``, fits well within it.
MAX_BODY = 1024 * 1024

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
        if exc.status == 413:
            message = f"the request body is larger than {MAX_BODY} bytes (1 MiB)"
            raise api_error(413, "payload_too_large", message, max_bytes=MAX_BODY) from exc
        raise api_error(exc.status, _code(exc.status), exc.reason, headers=_kept(exc)) from exc
    except RetriableError as exc:
        log.warning("state store unavailable on %s %s: %s", request.method, request.path, exc)
        raise api_error(
            503, "unavailable", "the state store is unavailable; retry (operation ids make it safe)"
        ) from exc
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
    app = web.Application(middlewares=[timed, json_errors, bearer_auth], client_max_size=MAX_BODY)
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
    """``rater api``: serve until SIGINT/SIGTERM.  The configuration comes from the configuration store
    (seeded from ``settings.config`` on the deployment's first start); the provisioning consumer and the
    rating-exception indexer run beside the handlers (:func:`background`)."""
    try:
        asyncio.run(_seed(settings))
    except ValidationFailed as exc:
        for issue in exc.issues:
            sys.stderr.write(f"{issue}\n")
        return 1

    async def make() -> web.Application:
        client = connect(settings.redis_url)
        store = ConfigStore(client, settings.app_id)

        async def config() -> tuple[Catalog, Subscriptions]:
            _, current = await store.current()
            return current.catalog, current.subscriptions

        context = ApiContext(settings, client, Tokens.parse(settings.operator_token, settings.account_tokens), config)
        context.extras[CONFIG_STORE] = store
        context.extras[PROVISIONER] = Provisioner(
            store, RedisStore(client, result_ttl=settings.result_ttl)
        )  # publishes once Kafka is up
        context.extras[EXCEPTION_INDEX] = ExceptionIndex(client, settings.app_id, settings.exception_retention)
        app = build_api(context)
        app.cleanup_ctx.append(background)

        async def close(_: web.Application) -> None:
            await client.aclose()

        app.on_cleanup.append(close)
        return app

    logging.basicConfig(level=settings.log_level.upper())
    web.run_app(make(), host=settings.api_host, port=settings.api_port, print=None)
    return 0


async def _seed(settings: Settings) -> None:
    client = connect(settings.redis_url)
    try:
        await ConfigStore(client, settings.app_id).bootstrap(settings.config)
    finally:
        await client.aclose()


async def background(app: web.Application) -> AsyncIterator[None]:
    """Kafka beside the handlers: the publishers that reprocessing and cancellations' adjustments send with
    (``usage``; ``rated-charges``, R41; each connects on first use), the ``provisioning`` consumer
    (group ``<app id>-provisioning``) and the ``rating-exceptions`` indexer (group ``<app id>-exceptions``).
    A task that fails (a broker down included) is logged and restarted with backoff (streams/retry.py);
    neither can stop the API."""
    ctx = app[CONTEXT]
    settings = ctx.settings
    usage = TopicPublisher(settings.kafka_bootstrap, settings.topic(USAGE))
    rated = TopicPublisher(settings.kafka_bootstrap, settings.topic(RATED))
    ctx.extras[USAGE_SENDER] = usage
    store = ctx.extras.get(PROVISIONER) or ctx.extras[CONFIG_STORE]
    if isinstance(store, Provisioner):
        store.publish = rated
    index = ctx.extras[EXCEPTION_INDEX]

    async def provisioning() -> None:
        await create_topics(
            settings.kafka_bootstrap,
            [
                TopicSpec(settings.topic(PROVISIONING), 1, settings.replication),
                TopicSpec(settings.topic(PROVISIONING_RESULTS), 1, settings.replication),
            ],
        )
        consumer = _consumer(settings, settings.topic(PROVISIONING), f"{settings.app_id}-provisioning")
        results = TopicPublisher(settings.kafka_bootstrap, settings.topic(PROVISIONING_RESULTS))
        try:  # stopped even when cancelled while they start (joining the group): no leaked connections
            await consumer.start()
            await follow_provisioning(store, consumer, results)
        finally:
            await results.close()
            await consumer.stop()

    async def exceptions() -> None:
        consumer = _consumer(settings, settings.topic(EXCEPTIONS), f"{settings.app_id}-exceptions")
        try:
            await consumer.start()
            await follow_exceptions(index, consumer)
        finally:
            await consumer.stop()

    tasks = [
        asyncio.create_task(keep_running(run, f"the {name} consumer"))
        for name, run in (("provisioning", provisioning), ("exceptions", exceptions))
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await usage.close()
        await rated.close()


def _consumer(settings: Settings, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=1000,
    )
