"""Smoke tests of the Redis Cluster and Sentinel topologies, with raw redis-py clients only.

What redis-py (8.1) needs, as these tests show:

- Cluster: ``redis.cluster.RedisCluster`` / ``redis.asyncio.cluster.RedisCluster`` route each
  command by key slot. A script's keys must share a slot (a ``{hash tag}``): the client
  refuses keys of different slots itself (``RedisClusterException``) before Redis would
  answer ``CROSSSLOT`` (``ClusterCrossSlotError``); a script touching an undeclared key of
  another slot fails in Redis. Pub/sub: both clients have ``pubsub()`` (a ``ClusterPubSub``).
  A classic ``SUBSCRIBE`` holds one connection to the node of the channel's slot and, as
  Redis broadcasts ``PUBLISH`` over the cluster bus, receives what is published on any node.
  Sharded pub/sub (``SSUBSCRIBE`` / ``SPUBLISH``, Redis 7) stays on the slot's shard:
  ``get_sharded_message()`` reads it, ``spublish`` is routed by slot, and a node that does
  not own the slot answers ``MOVED``. The asyncio client learns the slots on its first
  command: ``await client.initialize()`` before ``pubsub()``, or the first ``SUBSCRIBE``
  fails (``KeyError`` on the slot).
- Sentinel: ``Sentinel(...).master_for(name)`` asks the sentinels for the master on every
  (re)connect, but its connections do not get ``redis.Redis``'s default retry: they retry
  nothing. From the kill until the sentinels switch (4-5 s here) they still name the dead
  master, so every command fails at once (connection refused). With
  ``master_for(name, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 40))`` each retry
  asks the sentinels again and commands just wait for the new master; an asyncio client
  needs ``redis.asyncio.retry.Retry`` (given ``redis.retry.Retry``, it silently never
  retries). Without retries, after the failover: the sync pool sees the dead connection on
  checkout and reconnects; an asyncio connection may first fail once with "Connection closed
  by server". A demoted master's ``READONLY`` is turned into a ``ConnectionError`` (retried
  the same way). Replication is asynchronous: a write acknowledged just before the kill can
  be lost, and a retried write can be applied twice.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ClusterCrossSlotError, MovedError, RedisClusterException

from tests.conftest import needs_async_cluster

if TYPE_CHECKING:
    from tests.topologies import RedisCluster, RedisSentinel

# Registers the fixtures (a no-op once tests/conftest.py does). tests.topologies is imported
# lazily here: imported before pytest registers it, it could not have its asserts rewritten,
# which pytest reports as a warning (an error in this suite).
pytest_plugins = ["tests.topologies"]

# the two keys share a slot through their hash tag; KEYS_APART are in different slots
KEYS_TOGETHER = ("{job:1}:state", "{job:1}:result")
KEYS_APART = ("apart:a", "apart:b")
SET_BOTH = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return redis.call('MGET', KEYS[1], KEYS[2])
"""
TOUCH_UNDECLARED = "redis.call('SET', KEYS[1], 1); return redis.call('GET', ARGV[1])"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _node(port: int) -> redis.Redis:
    return redis.Redis("127.0.0.1", port, socket_timeout=5)


def _collect(read: Callable[[], dict[str, object] | None], count: int) -> list[object]:
    """The data of the next ``count`` messages ``read`` returns (≤ 5 s)."""
    received: list[object] = []
    deadline = time.monotonic() + 5
    while len(received) < count and time.monotonic() < deadline:
        message = read()
        if message is not None and message["type"] in {"message", "smessage"}:
            received.append(message["data"])
    return received


async def _acollect(
    read: Callable[[], Awaitable[dict[str, object] | None]], count: int
) -> list[object]:
    received: list[object] = []
    deadline = time.monotonic() + 5
    while len(received) < count and time.monotonic() < deadline:
        message = await read()
        if message is not None and message["type"] in {"message", "smessage"}:
            received.append(message["data"])
    return received


# -- cluster -----------------------------------------------------------------------------------


def test_cluster_is_formed_on_private_ports(redis_cluster: RedisCluster) -> None:
    assert len(redis_cluster.ports) == 3
    assert 6379 not in redis_cluster.ports
    assert redis_cluster.startup_url == f"redis://127.0.0.1:{redis_cluster.ports[0]}/0"
    assert redis_cluster.startup_seconds < 10
    for port in redis_cluster.ports:
        with _node(port) as node:
            info = node.cluster("INFO")
            assert info["cluster_state"] == "ok"
            assert int(info["cluster_known_nodes"]) == 3


def test_cluster_writes_keys_in_every_slot_range(redis_cluster_url: str) -> None:
    with redis.cluster.RedisCluster.from_url(redis_cluster_url) as client:
        keys = [f"key:{index}" for index in range(30)]
        for key in keys:
            client.set(key, key)
        assert client.mget_nonatomic(keys) == [key.encode() for key in keys]
        owners = {client.get_node_from_key(key).port for key in keys}
        assert owners == {node.port for node in client.get_primaries()}


def test_flushall_empties_every_master(redis_cluster: RedisCluster) -> None:
    with redis.cluster.RedisCluster.from_url(redis_cluster.startup_url) as client:
        for index in range(30):
            client.set(f"key:{index}", 1)
    redis_cluster.flushall()
    for port in redis_cluster.ports:
        with _node(port) as node:
            assert node.dbsize() == 0


@pytest.mark.anyio
async def test_async_cluster_writes_keys_in_every_slot_range(redis_cluster_url: str) -> None:
    client = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster_url)
    try:
        keys = [f"key:{index}" for index in range(30)]
        for key in keys:
            await client.set(key, key)
        assert [await client.get(key) for key in keys] == [key.encode() for key in keys]
        owners = {client.get_node_from_key(key).port for key in keys}
        assert owners == {node.port for node in client.get_primaries()}
    finally:
        await client.aclose()


def test_cluster_script_on_keys_of_one_hash_tag(redis_cluster_url: str) -> None:
    with redis.cluster.RedisCluster.from_url(redis_cluster_url) as client:
        assert client.eval(SET_BOTH, 2, *KEYS_TOGETHER, "x") == [b"x", b"x"]
        script = client.register_script(SET_BOTH)  # EVALSHA; loaded on demand
        assert script(keys=KEYS_TOGETHER, args=["y"]) == [b"y", b"y"]


@needs_async_cluster  # the Cluster as celeriac uses it: redis-py 8.0 on
def test_cluster_script_across_slots_is_refused(
    redis_cluster: RedisCluster, redis_cluster_url: str
) -> None:
    with redis.cluster.RedisCluster.from_url(redis_cluster_url) as client:
        # the cluster client checks the slots itself and sends nothing
        with pytest.raises(RedisClusterException, match="same key slot"):
            client.eval(SET_BOTH, 2, *KEYS_APART, "x")
        owner = client.get_node_from_key(KEYS_APART[0]).port
        undeclared_owner = client.get_node_from_key(KEYS_APART[1]).port
    assert owner != undeclared_owner
    with _node(owner) as node:
        # Redis itself: declared keys of different slots
        with pytest.raises(ClusterCrossSlotError):
            node.eval(SET_BOTH, 2, *KEYS_APART, "x")
        # and a key the script did not declare, of another slot
        with pytest.raises(redis.ResponseError, match=r"non local key|same slot"):
            node.eval(TOUCH_UNDECLARED, 1, KEYS_APART[0], KEYS_APART[1])


@pytest.mark.anyio
async def test_async_cluster_scripts(redis_cluster_url: str) -> None:
    client = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster_url)
    try:
        assert await client.eval(SET_BOTH, 2, *KEYS_TOGETHER, "x") == [b"x", b"x"]
        with pytest.raises(RedisClusterException, match="same key slot"):
            await client.eval(SET_BOTH, 2, *KEYS_APART, "x")
    finally:
        await client.aclose()


@needs_async_cluster  # the Cluster as celeriac uses it: redis-py 8.0 on
def test_cluster_pubsub(redis_cluster: RedisCluster, redis_cluster_url: str) -> None:
    with redis.cluster.RedisCluster.from_url(redis_cluster_url) as client:
        pubsub = client.pubsub()
        try:
            # classic pub/sub: published on any node, broadcast to every node
            pubsub.subscribe("news")
            for port in redis_cluster.ports:
                with _node(port) as node:
                    node.publish("news", f"from {port}")
            expected = {f"from {port}".encode() for port in redis_cluster.ports}
            assert set(_collect(lambda: pubsub.get_message(timeout=0.5), 3)) == expected
            # sharded pub/sub: routed by the channel's slot
            pubsub.ssubscribe("jobs")
            client.spublish("jobs", "done")
            assert _collect(lambda: pubsub.get_sharded_message(timeout=0.5), 1) == [b"done"]
            owner = client.get_node_from_key("jobs").port
            stranger = next(port for port in redis_cluster.ports if port != owner)
            with _node(stranger) as node, pytest.raises(MovedError):
                node.spublish("jobs", "lost")
        finally:
            pubsub.close()


@pytest.mark.anyio
@needs_async_cluster  # the Cluster as celeriac uses it: redis-py 8.0 on
async def test_async_cluster_pubsub(redis_cluster: RedisCluster, redis_cluster_url: str) -> None:
    client = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster_url)
    # the asyncio client learns the slots on its first command: a pubsub made before that
    # fails routing its first SUBSCRIBE (KeyError on the slot), so initialise first
    await client.initialize()
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe("news")
        for port in redis_cluster.ports:
            with _node(port) as node:
                node.publish("news", f"from {port}")
        expected = {f"from {port}".encode() for port in redis_cluster.ports}
        assert set(await _acollect(lambda: pubsub.get_message(timeout=0.5), 3)) == expected
        await pubsub.ssubscribe("jobs")
        await client.spublish("jobs", "done")
        assert await _acollect(lambda: pubsub.get_sharded_message(timeout=0.5), 1) == [b"done"]
    finally:
        await pubsub.aclose()
        await client.aclose()


@pytest.mark.slow
def test_cluster_with_replicas_and_stop() -> None:
    from tests.topologies import RedisCluster

    cluster = RedisCluster.start(replicas=1)
    try:
        assert cluster.startup_seconds < 10
        with redis.cluster.RedisCluster.from_url(cluster.startup_url) as client:
            assert len(client.get_primaries()) == 3
            assert len(client.get_replicas()) == 3
            client.set("key", "value")
            owner = client.get_node_from_key("key")
            with _node(owner.port) as node:
                assert node.wait(1, 2000) == 1
        replicas = [port for port in cluster.replica_ports if _node_has(port, "key")]
        assert len(replicas) == 1
    finally:
        cluster.stop()
    assert not cluster.directory.exists()
    assert not any(_answers(port) for port in cluster.ports + cluster.replica_ports)


def _node_has(port: int, key: str) -> bool:
    with _node(port) as node:
        node.execute_command("READONLY")  # a cluster replica serves reads only after this
        try:
            return bool(node.exists(key))
        except redis.ResponseError:  # MOVED: another shard's replica
            return False


# -- sentinel ----------------------------------------------------------------------------------


def test_sentinel_topology(redis_sentinel: RedisSentinel) -> None:
    ports = [port for _, port in redis_sentinel.sentinels]
    assert len(ports) == 3
    assert 6379 not in ports + redis_sentinel.data_ports
    assert redis_sentinel.url == (
        "redis+sentinel://" + ",".join(f"127.0.0.1:{port}" for port in ports) + "/mymaster/0"
    )
    assert redis_sentinel.master_name == "mymaster"
    assert redis_sentinel.master_address()[1] in redis_sentinel.data_ports
    assert redis_sentinel.startup_seconds < 10


def test_sync_sentinel_master_and_replica(
    redis_sentinel: RedisSentinel, redis_sentinel_url: str
) -> None:
    sentinel = redis.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=5)
    try:
        assert sentinel.discover_master("mymaster") == redis_sentinel.master_address()
        with (
            sentinel.master_for("mymaster") as master,
            sentinel.slave_for("mymaster") as replica,
        ):
            master.set("key", "value")
            assert master.wait(1, 2000) == 1
            assert replica.get("key") == b"value"
    finally:
        _close_sentinel(sentinel)


def _close_sentinel(sentinel: redis.sentinel.Sentinel) -> None:
    """Its connections to the sentinels (redis-py 5.0.1 has no Sentinel.close())."""
    for client in sentinel.sentinels:
        client.close()


async def _aclose_sentinel(sentinel: redis.asyncio.sentinel.Sentinel) -> None:
    for client in sentinel.sentinels:
        await client.aclose()


@pytest.mark.anyio
async def test_async_sentinel_master_and_replica(
    redis_sentinel: RedisSentinel, redis_sentinel_url: str
) -> None:
    sentinel = redis.asyncio.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=5)
    master = sentinel.master_for("mymaster")
    replica = sentinel.slave_for("mymaster")
    try:
        await master.set("key", "value")
        assert await master.get("key") == b"value"
        assert await master.wait(1, 2000) == 1
        assert await replica.get("key") == b"value"
    finally:
        await replica.aclose()
        await master.aclose()
        await _aclose_sentinel(sentinel)


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # one failover is enough
@pytest.mark.anyio
async def test_clients_survive_a_failover(
    redis_sentinel: RedisSentinel, redis_sentinel_url: str
) -> None:
    sentinel = redis.asyncio.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=5)
    # master_for() does not take redis.Redis's default retry: its connections retry nothing
    bare = sentinel.master_for("mymaster")
    # retries spanning the failover window, with room for a loaded machine (~39 s of
    # backoff); an asyncio client needs redis.asyncio.retry.Retry: redis.retry.Retry's
    # call_with_retry does not await
    patient = sentinel.master_for(
        "mymaster", retry=AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), 80)
    )
    sync_sentinel = redis.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=5)
    sync_master = sync_sentinel.master_for("mymaster")
    try:
        await bare.set("before", "1")
        assert sync_master.get("before") == b"1"
        assert await bare.wait(1, 2000) == 1
        old = redis_sentinel.master_address()

        writes = 0
        failed_over = anyio.Event()

        async def write_through() -> None:
            """Blocks through the failover window; a retry never raises here."""
            nonlocal writes
            while not failed_over.is_set():
                await patient.incr("writes")
                writes += 1
                await anyio.sleep(0.01)

        started = time.monotonic()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write_through)
            new = await redis_sentinel.afailover()
            failed_over.set()
        assert time.monotonic() - started < 20
        assert new != old
        assert new == redis_sentinel.master_address()
        # an INCR acknowledged but not yet replicated is lost with the master; one executed
        # but not acknowledged is retried on the new master: either way one at most
        assert abs(int(await patient.get("writes") or 0) - writes) <= 1

        # the same client objects, on the new master. A pool that sees its old connection
        # closed on checkout reconnects through the sentinels (the sync pool polls the socket,
        # so it always does); an asyncio connection whose EOF the loop has not read yet sends
        # the command and gets "Connection closed by server": without retries that reaches
        # the caller once, and the caller's retry goes to the new master
        try:
            assert await bare.get("before") == b"1"
        except redis.ConnectionError:
            assert await bare.get("before") == b"1"
        await bare.set("after", "2")
        assert sync_master.get("after") == b"2"
        assert (await bare.info("server"))["tcp_port"] == new[1]
    finally:
        sync_master.close()
        _close_sentinel(sync_sentinel)
        await patient.aclose()
        await bare.aclose()
        await _aclose_sentinel(sentinel)


@pytest.mark.anyio
async def test_topology_usable_after_a_failover(
    redis_sentinel: RedisSentinel, redis_sentinel_url: str
) -> None:
    """Runs after the failover test: the restarted node is a replica with the data."""
    sentinel = redis.asyncio.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=5)
    master = sentinel.master_for("mymaster")
    replica = sentinel.slave_for("mymaster")
    try:
        await master.set("key", "value")
        assert await master.wait(1, 2000) == 1
        assert await replica.get("key") == b"value"
        (replica_address,) = redis_sentinel.replica_addresses()
        assert replica_address != redis_sentinel.master_address()
    finally:
        await replica.aclose()
        await master.aclose()
        await _aclose_sentinel(sentinel)


@pytest.mark.slow
def test_failover_without_restart_revive_and_stop(fresh_redis_sentinel: RedisSentinel) -> None:
    from tests.topologies import TopologyError

    topology = fresh_redis_sentinel
    old = topology.master_address()
    new = topology.failover(restart=False)
    assert new != old
    assert topology.replica_addresses() == []
    topology.wait_stable()  # a master alone is stable too
    with pytest.raises(TopologyError, match="no running replica"):
        topology.failover()
    topology.revive()
    assert topology.replica_addresses() == [old]
    assert topology.master_address() == new
    topology.stop()
    assert not topology.directory.exists()
    ports = topology.data_ports + [port for _, port in topology.sentinels]
    assert not any(_answers(port) for port in ports)
