"""Shared fixtures: a private redis-server, unique key prefixes, both brokers, both loops.

The Redis used here is started by the tests on a free port and stopped at the end; the
machine's own Redis (port 6379) is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from celeriac.core import App, Broker, MemoryBroker, RedisBroker
from tests.redis_server import RedisServer

# redis_cluster, redis_sentinel and their fixtures (started only when a test asks)
pytest_plugins = ["tests.topologies"]

# asyncio with and without uvloop; trio is not a goal (redis-py's async client is asyncio-only)
LOOPS = [
    pytest.param(("asyncio", {"use_uvloop": False}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
]


@pytest.fixture(params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    backend: tuple[str, dict[str, bool]] = request.param
    return backend


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


# the brokers every broker test runs on; modules that test what Sentinel and Cluster
# change (the broker contract, the graph, revoke) widen ``broker_kind`` to ALL_BROKERS
BROKERS = ["memory", "redis", "redis-resp3"]
ALL_BROKERS = [*BROKERS, "sentinel", "cluster"]
# a cluster broker needs redis-py 8.0's asyncio Cluster pub/sub (scripts/test --lowest
# runs on older releases; there it is refused, and its tests skipped)
ASYNC_CLUSTER = hasattr(AsyncRedisCluster, "pubsub")
NO_ASYNC_CLUSTER = "redis+cluster:// needs redis-py 8.0 (asyncio Cluster pub/sub)"
needs_async_cluster = pytest.mark.skipif(not ASYNC_CLUSTER, reason=NO_ASYNC_CLUSTER)


@pytest.fixture(params=BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def broker_url(broker_kind: str, request: pytest.FixtureRequest) -> str:
    """The Redis URL for the broker kind (the topologies start on first use)."""
    if broker_kind == "memory":
        return "memory://"
    if broker_kind == "cluster":
        if not ASYNC_CLUSTER:
            pytest.skip(NO_ASYNC_CLUSTER)
        # (tests.topologies is a plugin: importing it here would stop pytest rewriting it)
        cluster_url: str = request.getfixturevalue("redis_cluster").cluster_url
        return cluster_url  # keys differ by test prefix: no flush needed
    url: str = request.getfixturevalue(
        "redis_sentinel_url" if broker_kind == "sentinel" else "redis_url"
    )
    return url


@pytest.fixture
async def broker(broker_kind: str, broker_url: str, prefix: str) -> AsyncIterator[Broker]:
    """Each broker; Redis also with a client speaking RESP3 (its replies differ in shape)."""
    if broker_kind == "memory":
        yield MemoryBroker()
        return
    options = {"protocol": 3} if broker_kind == "redis-resp3" else {}
    redis_broker = RedisBroker(broker_url, prefix=prefix, client_options=options)
    try:
        yield redis_broker
    finally:
        await redis_broker.aclose()
        redis_broker.sync().close()


@pytest.fixture
async def app(broker: Broker) -> AsyncIterator[App]:
    application = App(broker, main="tests")
    try:
        yield application
    finally:
        application.close()
        await application.aclose()
