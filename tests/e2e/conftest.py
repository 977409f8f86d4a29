"""The embedded stack for end-to-end tests: a Kafka-protocol broker and a valkey-server, started by the
project's own code (streams/dev/servers.py) once per session; ``KAFKA_BOOTSTRAP`` / ``REDIS_URL`` name others."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from streams.dev.servers import KafkaBroker, RedisServer


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    with KafkaBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def e2e_redis_url() -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    with RedisServer() as server:
        yield server.url
