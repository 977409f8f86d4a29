"""Real servers for integration tests, started by the project's own code (streams/dev/servers.py).

``REDIS_URL`` in the environment names a server to use instead of starting one.  Servers are started once
per session; every test gets a flushed database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from streams.dev.servers import RedisClusterServers, RedisServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster_nodes() -> Iterator[list[tuple[str, int]]]:
    with RedisClusterServers(masters=3) as cluster:
        yield cluster.startup_nodes


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = await fresh_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cluster_client(redis_cluster_nodes: list[tuple[str, int]]) -> AsyncIterator[RedisCluster]:
    client = fresh_cluster(redis_cluster_nodes)
    yield client
    await client.aclose()


async def fresh_redis(url: str) -> Redis:
    """A client on an emptied database."""
    client = Redis.from_url(url)
    await client.flushdb()
    return client


def fresh_cluster(nodes: list[tuple[str, int]]) -> RedisCluster:
    """A cluster client on emptied nodes."""
    for node_host, node_port in nodes:
        with redis.Redis(host=node_host, port=node_port) as node:
            node.flushall()
    host, port = nodes[0]
    return RedisCluster(host=host, port=port)
