"""``rater worker``: the production entry point, configured from the environment (streams/settings.py).

It loads and validates the catalog and subscriptions (a bad catalog stops the start with the errors), creates
missing topics with their partition counts, loads the kernel into Redis, and runs the Faust worker until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import faust

from rater.engine import Rater
from rater.issues import ValidationFailed
from rater.offline import load_folder
from rater.redis_store import connect
from streams import metrics
from streams.app import Pipeline, build_app, topic_specs
from streams.metrics import TimedRedisStore
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
    store = TimedRedisStore(connect(settings.redis_url), result_ttl=settings.result_ttl)
    metrics.serve(settings.metrics_port)  # Prometheus /metrics on RATER_METRICS_PORT (0: off)
    pipeline = Pipeline(Rater(catalog, subscriptions), store, settings)
    app = build_app(settings, pipeline)
    logging.basicConfig(level=settings.log_level.upper())
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
