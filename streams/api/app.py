"""The API application: middlewares (JSON errors, bearer auth) and every feature module's routes.

``rater api`` runs it (:func:`run_api`); tests build it with :func:`build_api` around their own context.
Paths under :data:`PUBLIC` need no token (health and the OpenAPI document); everything else does.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rater.catalog import Catalog
from rater.errors import RetriableError
from rater.issues import ValidationFailed
from rater.redis_store import RedisStore, connect
from rater.subscriptions import Subscriptions
from streams.api import balances, exceptions, provisioning
from streams.api.auth import PRINCIPAL, Tokens, authenticate
from streams.api.context import CONTEXT, ApiContext
from streams.api.errors import api_error, json_response
from streams.api.exceptions import EXCEPTION_INDEX, USAGE_SENDER
from streams.api.provisioning import CONFIG_STORE, PROVISIONER
from streams.config_store import ConfigStore
from streams.exceptions_index import ExceptionIndex, follow_exceptions
from streams.provisioning_feed import PROVISIONING, PROVISIONING_RESULTS, follow_provisioning
from streams.settings import Settings
from streams.settlement import RATED_CHARGES, Provisioner
from streams.topics import TopicSpec, create_topics

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
        context.extras[EXCEPTION_INDEX] = ExceptionIndex(client, settings.app_id)
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
    """Kafka beside the handlers: the producer that reprocessing and cancellations' adjustments send with
    (``usage``; ``rated-charges``, R41), the ``provisioning`` consumer
    (group ``<app id>-provisioning``) and the ``rating-exceptions`` indexer (group ``<app id>-exceptions``).
    A task that fails is logged and restarted after a pause; neither can stop the API."""
    ctx = app[CONTEXT]
    settings = ctx.settings
    await create_topics(
        settings.kafka_bootstrap,
        [
            TopicSpec(settings.topic(PROVISIONING), 1, settings.replication),
            TopicSpec(settings.topic(PROVISIONING_RESULTS), 1, settings.replication),
        ],
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    usage = settings.topic("usage")

    async def send(key: bytes | None, value: bytes) -> None:
        await producer.send_and_wait(usage, key=key, value=value)

    ctx.extras[USAGE_SENDER] = send
    rated = settings.topic(RATED_CHARGES)

    async def publish(key: bytes, value: bytes) -> None:
        await producer.send_and_wait(rated, key=key, value=value)

    store = ctx.extras.get(PROVISIONER) or ctx.extras[CONFIG_STORE]
    if isinstance(store, Provisioner):
        store.publish = publish
    index = ctx.extras[EXCEPTION_INDEX]

    async def provisioning() -> None:
        consumer = _consumer(settings, settings.topic(PROVISIONING), f"{settings.app_id}-provisioning")
        await consumer.start()
        try:
            await follow_provisioning(store, consumer, producer, settings.topic(PROVISIONING_RESULTS))
        finally:
            await consumer.stop()

    async def exceptions() -> None:
        consumer = _consumer(settings, settings.topic("rating-exceptions"), f"{settings.app_id}-exceptions")
        await consumer.start()
        try:
            await follow_exceptions(index, consumer)
        finally:
            await consumer.stop()

    tasks = [
        asyncio.create_task(_forever(name, run))
        for name, run in (("provisioning", provisioning), ("exceptions", exceptions))
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()


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


async def _forever(name: str, run: Callable[[], Awaitable[None]]) -> None:
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the %s consumer failed; restarting in 5 s", name)
            await asyncio.sleep(5)
