"""``rater worker``: the production entry point, configured from the environment (streams/settings.py).

It reads the configuration in force from the configuration store (streams/configuration/store.py), seeding
it from the ``RATER_CONFIG`` catalog and subscriptions on the deployment's first start (bad files stop that start
with the errors; a store not up yet is waited for, with backoff), follows its version once per batch
(provisioning), creates
missing topics with their partition counts, loads the kernel into Redis, and runs the Faust worker until
SIGTERM/SIGINT.  The consumer is a plain aiokafka consumer group (streams/worker/loop.py) unless
``RATER_CONSUMER=faust`` asks for the Faust agent (streams/worker/faust_agent.py); both keep the same
guarantees.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import faust

from rater.issues import ValidationFailed
from rater.provisioning import Config
from rater.rating import Rater
from rater.redis_store import connect
from streams import metrics
from streams.configuration.store import ConfigStore, LiveRater
from streams.configuration.topics import create_topics, topic_specs
from streams.metrics import TimedRedisStore
from streams.retry import retry
from streams.settings import Settings, run_with_settings
from streams.worker.faust_agent import build_app
from streams.worker.loop import LeanLoop, rating_handler, serve
from streams.worker.pipeline import Pipeline


def run_worker(settings: Settings) -> int:
    logging.basicConfig(level=settings.log_level.upper())
    try:
        version, config = asyncio.run(_configuration(settings))
    except ValidationFailed as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    asyncio.run(create_topics(settings.kafka_bootstrap, topic_specs(settings)))
    client = connect(settings.redis_url)
    store = TimedRedisStore(client, result_ttl=settings.result_ttl)
    metrics.serve(settings.metrics_port)  # Prometheus /metrics on RATER_METRICS_PORT (0: off)
    rater = Rater(config.catalog, config.subscriptions)
    live = LiveRater(ConfigStore(client, settings.app_id), version, rater)
    pipeline = Pipeline(rater, store, settings, live)
    if settings.consumer == "lean":
        asyncio.run(serve(LeanLoop(settings, rating_handler(pipeline)), pipeline))
        return 0
    app = build_app(settings, pipeline)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0


async def _configuration(settings: Settings) -> tuple[int, Config]:
    """The configuration in force, from the store; the ``RATER_CONFIG`` files seed it on the first start.
    A store that is not up yet is waited for with the one retry loop (streams/retry.py), as one that goes
    away later is: a worker started before Redis waits for it rather than exiting."""
    client = connect(settings.redis_url)
    store = ConfigStore(client, settings.app_id)
    try:
        return await retry(lambda: store.bootstrap(settings.config), "reading the configuration store")
    finally:
        await client.aclose()


def main() -> int:
    return run_with_settings(run_worker)


if __name__ == "__main__":
    sys.exit(main())
