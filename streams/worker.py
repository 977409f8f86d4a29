"""``rater worker``: the production entry point, configured from the environment (streams/settings.py).

It loads and validates the catalog and subscriptions (a bad catalog stops the start with the errors), creates
missing topics with their partition counts, loads the kernel into Redis, and runs the Faust worker until
SIGTERM/SIGINT.  The consumer is a plain aiokafka consumer group (streams/lean.py) unless
``RATER_CONSUMER=faust`` asks for the Faust agent (streams/app.py); both keep the same guarantees.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import faust

from rater.engine import Rater
from rater.issues import ValidationFailed
from rater.offline import load_folder
from rater.redis_store import RedisStore, connect
from streams.app import Pipeline, build_app, topic_specs
from streams.lean import LeanLoop, rating_handler, serve
from streams.settings import Settings, SettingsError
from streams.topics import create_topics


def run_worker(settings: Settings) -> int:
    try:
        catalog, subscriptions = load_folder(settings.config)
    except ValidationFailed as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    asyncio.run(create_topics(settings.kafka_bootstrap, topic_specs(settings)))
    store = RedisStore(connect(settings.redis_url), result_ttl=settings.result_ttl)
    pipeline = Pipeline(Rater(catalog, subscriptions), store, settings)
    logging.basicConfig(level=settings.log_level.upper())
    if settings.consumer == "lean":
        asyncio.run(serve(LeanLoop(settings, rating_handler(pipeline)), pipeline))
        return 0
    app = build_app(settings, pipeline)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_worker(settings)


if __name__ == "__main__":
    sys.exit(main())
