"""What only RedisBroker can show: entries written by others, lost scripts and groups,
the key layout, unreachable servers, and choosing a broker by URL."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio as aioredis

from celeriac.core import BrokerError, ConfigurationError, MemoryBroker, RedisBroker
from celeriac.core.broker import (
    Completion,
    Delivery,
    Outgoing,
    QueueStats,
    Recovery,
    broker_from_url,
)
from celeriac.core.broker._lua import SCRIPTS
from celeriac.core.keys import GROUP, Keys
from tests.conftest import needs_async_cluster
from tests.redis_server import free_port
from tests.topologies import RedisCluster

pytestmark = pytest.mark.anyio

Q = "q"


@pytest.fixture
async def rb(redis_url: str, prefix: str) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(redis_url, prefix=prefix)
    try:
        yield broker
    finally:
        await broker.aclose()
        broker.sync().close()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Any]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def entries(client: Any, key: str) -> list[tuple[bytes, list[bytes]]]:
    """A stream's entries with their field lists exactly as stored (repeats included)."""
    script = "return redis.call('XRANGE', KEYS[1], '-', '+')"
    return [(entry_id, fields) for entry_id, fields in await client.eval(script, 1, key)]


async def fetch_now(broker: RedisBroker, queue: str = Q, count: int = 10) -> list[Delivery]:
    return await broker.fetch([queue], "c1", count, 0, False)


# -- entries celeriac did not write ----------------------------------------------------------


async def test_entry_without_message_field_round_trips(rb: RedisBroker, raw: Any) -> None:
    stream = rb.keys.stream(Q, 3)
    fields = {"foo": b"bar", "bin": b"\x00\xff\x80", "step": b"x"}
    await raw.xadd(stream, fields)

    (delivery,) = await fetch_now(rb)
    assert delivery.data is None
    assert dict(delivery.raw) == fields
    assert (delivery.queue, delivery.step) == (Q, 3)

    await rb.dead_letter(delivery, "no envelope", "KeyError: m")
    assert await rb.stats(Q) == QueueStats(ready=0, in_flight=0, delayed=0, dead=1)
    (letter,) = await rb.dead_letters(Q)
    assert letter.data is None
    assert dict(letter.raw) == fields
    assert (letter.step, letter.reason, letter.error) == (3, "no envelope", "KeyError: m")

    assert await rb.requeue_dead(Q) == 1
    ((_, stored),) = await entries(raw, stream)
    assert stored == [b"foo", b"bar", b"bin", b"\x00\xff\x80", b"step", b"x"]
    (again,) = await fetch_now(rb)
    assert again.data is None
    assert dict(again.raw) == fields
    assert again.step == 3


async def test_entry_with_message_and_other_fields_round_trips(rb: RedisBroker, raw: Any) -> None:
    stream = rb.keys.stream(Q, 0)
    await raw.xadd(stream, {"m": b"envelope", "extra": b"x"})
    (delivery,) = await fetch_now(rb)
    assert delivery.data == b"envelope"
    assert dict(delivery.raw) == {"extra": b"x"}
    await rb.dead_letter(delivery, "r", "e")
    assert await rb.requeue_dead(Q) == 1
    ((_, stored),) = await entries(raw, stream)
    assert stored == [b"m", b"envelope", b"extra", b"x"]


async def test_garbage_message_bytes_delivered_as_is(rb: RedisBroker, raw: Any) -> None:
    garbage = b"\xff\xfe not json \x00 {"
    await raw.xadd(rb.keys.stream(Q, 9), {"m": garbage})
    (delivery,) = await fetch_now(rb)
    assert delivery.data == garbage
    assert delivery.raw == {}
    assert delivery.step == 9


# -- recovering from lost scripts and groups ------------------------------------------------


async def scripts_loaded(client: Any) -> list[bool]:
    return list(await client.script_exists(*(s.sha for s in SCRIPTS.values())))


async def test_scripts_reloaded_after_script_flush(rb: RedisBroker, raw: Any) -> None:
    await rb.send([Outgoing("1", Q, 0, b"one"), Outgoing("2", Q, 0, b"two")])
    await raw.script_flush()
    assert not any(await scripts_loaded(raw))

    first, second = await fetch_now(rb)
    assert (first.data, second.data) == (b"one", b"two")
    assert await raw.script_exists(SCRIPTS["fetch"].sha) == [True]

    await raw.script_flush()
    await rb.finish(
        [
            Completion(first, "t1", b"r1", None, state="SUCCESS"),
            Completion(second, "t2", b"r2", None, state="SUCCESS"),
        ]
    )
    assert await raw.script_exists(SCRIPTS["commit"].sha) == [True]
    assert await rb.get_result("t1") == b"r1"
    assert await rb.get_result("t2") == b"r2"
    assert await rb.stats(Q) == QueueStats(0, 0, 0, 0)

    await rb.send([Outgoing("3", Q, 0, b"three")])
    await rb.dead_letter((await fetch_now(rb))[0], "r", "e")
    await raw.script_flush()
    assert await rb.requeue_dead(Q) == 1
    assert await raw.script_exists(SCRIPTS["requeue"].sha) == [True]

    await raw.script_flush()
    rb.sync().send([Outgoing("4", Q, 0, b"four")])
    assert [d.data for d in await fetch_now(rb)] == [b"three", b"four"]


@needs_async_cluster
async def test_a_fresh_cluster_takes_many_concurrent_first_calls(
    redis_cluster: RedisCluster, prefix: str
) -> None:
    """No script loaded anywhere, then 60 calls at once from a new client: the scripts are
    loaded once, not by every call on every primary (which exhausted a node's pool)."""
    for port in redis_cluster.ports:
        with redis.Redis(port=port) as node:
            node.script_flush()
    broker = RedisBroker(redis_cluster.cluster_url, prefix=prefix)
    try:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for i in range(30):
                    tg.start_soon(broker.send, [Outgoing(f"t{i}", f"q{i}", 0, b"x")])
                    tg.start_soon(broker.stats, f"q{i}")
        sizes = [(await broker.stats(f"q{i}")).ready for i in range(30)]
        assert sizes == [1] * 30
    finally:
        await broker.aclose()
    for port in redis_cluster.ports:
        with redis.Redis(port=port) as node:
            assert all(node.script_exists(*(s.sha for s in SCRIPTS.values())))


async def test_lost_consumer_group_is_recreated(rb: RedisBroker, raw: Any) -> None:
    await rb.send([Outgoing("1", Q, 0, b"done"), Outgoing("2", Q, 0, b"in-flight")])
    done, in_flight = await fetch_now(rb)
    await rb.finish([Completion(done)])
    for step in rb.priority_steps.steps:
        assert await raw.xgroup_destroy(rb.keys.stream(Q, step), GROUP) == 1

    await rb.send([Outgoing("3", Q, 0, b"after")])
    await raw.xadd(rb.keys.stream(Q, 6), {"m": b"raw-after"})
    got = await fetch_now(rb)
    # nothing lost: the unfinished message comes again, with all that was added
    assert [d.data for d in got] == [b"raw-after", b"in-flight", b"after"]
    await rb.finish([Completion(d) for d in [in_flight, *got]])
    assert await rb.stats(Q) == QueueStats(0, 0, 0, 0)


async def test_consumer_group_lost_during_a_blocking_fetch(rb: RedisBroker, raw: Any) -> None:
    got: list[Delivery] = []

    async def consume() -> None:
        for _ in range(5):  # a fetch may end early with [] when its group vanishes
            got.extend(await rb.fetch([Q], "c1", 10, 1.0, False))
            if got:
                return

    with anyio.fail_after(5):
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.2)  # the consumer is blocked in XREADGROUP by now
            for step in rb.priority_steps.steps:
                await raw.xgroup_destroy(rb.keys.stream(Q, step), GROUP)
            await anyio.sleep(0.1)
            await rb.send([Outgoing("1", Q, 0, b"next")])
        elapsed = time.monotonic() - start
    assert [d.data for d in got] == [b"next"]
    assert elapsed < 2.5


# -- key layout --------------------------------------------------------------------------------


async def test_key_names_follow_the_layout(rb: RedisBroker, raw: Any, prefix: str) -> None:
    queue = f"orders:{uuid.uuid4().hex[:8]}"
    await rb.send(
        [
            Outgoing("1", queue, 9, b"a"),
            Outgoing("2", queue, 0, b"b"),
            Outgoing("3", queue, 0, b"c", due=time.time() + 60),
        ]
    )
    first, second = await fetch_now(rb, queue)
    await rb.finish([Completion(first, "task-1", b"result", 60, state="SUCCESS")])
    await rb.dead_letter(second, "r", "e")

    found = {key.decode() async for key in raw.scan_iter(match=f"{prefix}*", count=1000)}
    tag = "{" + queue + "}"
    expected_types = {
        f"{prefix}:{tag}:stream:0": b"stream",
        f"{prefix}:{tag}:stream:3": b"stream",
        f"{prefix}:{tag}:stream:6": b"stream",
        f"{prefix}:{tag}:stream:9": b"stream",
        f"{prefix}:{tag}:delayed": b"zset",
        f"{prefix}:{tag}:delayed:data": b"hash",
        f"{prefix}:{tag}:wake": b"stream",
        f"{prefix}:{tag}:dead": b"stream",
        f"{prefix}:{tag}:done": b"list",  # task-1 finished: the queue's recent done list
        f"{prefix}:result:{{task-1}}": b"hash",
        # sending marks each task PENDING in its result record
        f"{prefix}:result:{{1}}": b"hash",
        f"{prefix}:result:{{2}}": b"hash",
        f"{prefix}:result:{{3}}": b"hash",
    }
    assert found == set(expected_types)
    for key, kind in expected_types.items():
        assert await raw.type(key) == kind, key

    pattern = re.compile(
        re.escape(prefix)
        + r":(\{(?P<queue>[^{}]+)\}:(stream:\d+|delayed|delayed:data|wake|dead|done)"
        r"|result:\{[^{}]+\})"
    )
    for key in found:
        match = pattern.fullmatch(key)
        assert match is not None, key
        if match["queue"] is not None:
            assert match["queue"] == queue
            assert rb.keys.queue_of(key) == queue

    keys = Keys(prefix)
    assert keys.stream(queue, 9) in found
    assert {keys.delayed(queue), keys.delayed_data(queue), keys.dead(queue)} <= found
    assert keys.result("task-1") in found
    assert keys.done(queue) in found

    # nothing about this queue was written outside the prefix
    anywhere = {key.decode() async for key in raw.scan_iter(match=f"*{queue}*", count=1000)}
    assert anywhere == {key for key in found if ":result:" not in key}


# -- errors -------------------------------------------------------------------------------------


async def test_unreachable_redis_raises_broker_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    broker = RedisBroker(url, prefix="unreachable")
    try:
        with anyio.fail_after(10):
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: broker.send([Outgoing("1", Q, 0, b"x")]),
                lambda: broker.fetch([Q], "c1", 1, 0.1, False),
                lambda: broker.get_result("t"),
                lambda: broker.stats(Q),
            ]
            for call in calls:
                with pytest.raises(BrokerError) as caught:
                    await call()
                message = str(caught.value)
                assert url in message
                assert "cannot reach Redis" in message
        with pytest.raises(BrokerError, match="cannot reach Redis"):
            broker.sync().get_result("t")
    finally:
        await broker.aclose()
        broker.sync().close()


async def test_unreachable_redis_error_masks_the_password() -> None:
    port = free_port()
    broker = RedisBroker(f"redis://:secret@127.0.0.1:{port}/0", prefix="unreachable")
    try:
        with anyio.fail_after(10), pytest.raises(BrokerError) as caught:
            await broker.send([Outgoing("1", Q, 0, b"x")])
        message = str(caught.value)
        assert f"redis://:***@127.0.0.1:{port}/0" in message
        assert "secret" not in message
        assert "cannot reach Redis" in message
        assert "secret" not in repr(broker)

        with pytest.raises(BrokerError) as sync_caught:
            broker.sync().send([Outgoing("1", Q, 0, b"x")])
        assert "***" in str(sync_caught.value)
        assert "secret" not in str(sync_caught.value)
    finally:
        await broker.aclose()
        broker.sync().close()


# -- broker_from_url ------------------------------------------------------------------------


async def test_broker_from_url() -> None:
    name = f"n{uuid.uuid4().hex[:8]}"
    default = broker_from_url("memory://")
    assert isinstance(default, MemoryBroker)
    assert broker_from_url("memory://") is default
    named = broker_from_url(f"memory://{name}")
    assert isinstance(named, MemoryBroker)
    assert named is not default
    assert broker_from_url(f"memory://{name}") is named
    assert broker_from_url(f"memory://{name}x") is not named

    redis_broker = broker_from_url("redis://127.0.0.1:1/3", prefix="p", priority_steps=(0, 5))
    try:
        assert isinstance(redis_broker, RedisBroker)
        assert redis_broker.url == "redis://127.0.0.1:1/3"
        assert redis_broker.keys.prefix == "p"
        assert redis_broker.priority_steps.steps == (0, 5)
    finally:
        await redis_broker.aclose()
        redis_broker.sync().close()


@pytest.mark.parametrize("url", ["amqp://guest:secret@localhost//", "sqs://", "localhost:6379"])
def test_broker_from_url_rejects_other_schemes(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        broker_from_url(url)
    message = str(caught.value)
    for scheme in ("memory://", "redis://", "rediss://", "unix://"):
        assert scheme in message
    assert "secret" not in message


def test_redis_broker_rejects_other_schemes() -> None:
    with pytest.raises(ConfigurationError, match="redis://"):
        RedisBroker("memory://")


async def test_wake_tokens_do_not_pile_up(rb: RedisBroker, raw: Any) -> None:
    """Each delay that becomes the earliest leaves a token on the wake stream; an idle
    worker takes one to wake up, and the next fetch acknowledges what it took."""
    await fetch_now(rb)  # groups exist, as for a running worker
    got: list[Delivery] = []

    async def idle_worker() -> None:
        got.extend(await rb.fetch([Q], "c1", 10, 2.0, False))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(idle_worker)
            await anyio.sleep(0.1)
            for n in range(5):  # each one earlier than the last: five tokens
                due = time.time() + 0.6 - n * 0.1
                await rb.send([Outgoing(f"t{n}", Q, 0, f"m{n}".encode(), due=due)])
    assert [d.data for d in got] == [b"m4"]  # the earliest, as soon as it was due
    await anyio.sleep(0.5)
    assert sorted(d.data for d in await fetch_now(rb)) == [b"m0", b"m1", b"m2", b"m3"]
    pending = await raw.xpending(rb.keys.wake(Q), GROUP)
    assert pending["pending"] == 0


async def test_reclaim_removes_dead_consumers_that_hold_nothing(rb: RedisBroker, raw: Any) -> None:
    await rb.send([Outgoing("t", Q, 0, b"x")])
    (held,) = await rb.fetch([Q], "gone", 10, 0, False)
    await rb.fetch([Q], "idle-and-gone", 10, 0, False)  # a consumer that got nothing
    await rb.heartbeat("me", [Q], [], ttl=5)
    await anyio.sleep(0.1)
    recovery = Recovery(window=60, max_deliveries=5, grace=0.05)
    taken, _ = await rb.reclaim([Q], "me", 10, recovery)
    assert [d.tag for d in taken] == [held.tag]
    names = {
        c["name"].decode()
        for step in rb.priority_steps.steps
        for c in await raw.xinfo_consumers(rb.keys.stream(Q, step), GROUP)
    }
    assert "idle-and-gone" not in names and "gone" not in names
    assert "me" in names
