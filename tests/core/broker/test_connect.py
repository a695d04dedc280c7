"""Redis URLs for a single server, Sentinel and Cluster, and the broker across a failover."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import pytest
import redis.asyncio as aioredis

from celeriac.core import ConfigurationError, RedisBroker
from celeriac.core.broker import Completion, Outgoing, _connect
from celeriac.core.broker._connect import async_client, parse, safe_url
from tests.topologies import RedisSentinel


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost:6379/2", ("single", (), "", 0, None)),
        ("rediss://h:1/0", ("single", (), "", 0, None)),
        ("unix:///run/redis.sock", ("single", (), "", 0, None)),
        (
            "redis+sentinel://a:26379,b:26380/mymaster/3",
            ("sentinel", (("a", 26379), ("b", 26380)), "mymaster", 3, None),
        ),
        ("redis+sentinel://:s%40cret@a:1/m", ("sentinel", (("a", 1),), "m", 0, "s@cret")),
        ("redis+cluster://a:7000,b:7001", ("cluster", (("a", 7000), ("b", 7001)), "", 0, None)),
        ("redis+cluster://u:pw@a:7000/", ("cluster", (("a", 7000),), "", 0, "pw")),
    ],
)
def test_parse(url: str, expected: tuple[object, ...]) -> None:
    """Kind, nodes, master (sentinel), db (sentinel) and password of each URL form."""
    endpoint = parse(url)
    master = endpoint.master if endpoint.kind == "sentinel" else ""
    assert (endpoint.kind, endpoint.nodes, master, endpoint.db, endpoint.password) == expected
    assert endpoint.cluster == (endpoint.kind == "cluster")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:secret@h//", "starts with one of"),
        ("redis+sentinel://:secret@a:1", "names the master"),
        ("redis+sentinel://:secret@a:1/m/x", "not a number"),
        ("redis+sentinel://:secret@a/m", "expected host:port"),
        ("redis+cluster://:secret@", "no host"),
        ("redis+cluster://:secret@a:b", "expected host:port"),
    ],
)
def test_bad_urls_are_clear_and_hide_the_password(url: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected) as caught:
        parse(url)
    assert "secret" not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.fixture
def packing(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A fresh look at redis-py's packer (it is looked at once per process), for a test
    that changes what redis-py appears to have; the look is made anew after it too."""
    _connect.hiredis_packer.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    _connect.hiredis_packer.cache_clear()


ARGS = ("EVALSHA", "f" * 40, 2, "k:{a}", "k:{b}", "R", 1, 86400000, 2.5, b"\xc1\x00{}", "é")


@pytest.mark.parametrize("url", ["redis://h:1/0", "rediss://h:1/0", "unix:///run/redis.sock"])
def test_async_connections_pack_commands_in_c_into_the_same_bytes(url: str) -> None:
    """The asyncio client's connections pack with hiredis, straight from the arguments,
    and keep their kind (TLS, Unix socket); the bytes are redis-py's own."""
    pytest.importorskip("hiredis")
    pool = async_client(parse(url), {}).connection_pool
    packs, plain = pool.connection_class, pool.connection_class.__mro__[1]
    assert issubclass(packs, plain) and packs.pack_command is not plain.pack_command
    connection = packs(**pool.connection_kwargs)
    for args in (ARGS, ("CONFIG GET", "maxmemory"), ("SET", b"k", memoryview(b"v"))):
        assert b"".join(connection.pack_command(*args)) == b"".join(
            plain.pack_command(connection, *args)
        )


@pytest.mark.parametrize(
    "options", [{"encoding": "latin-1"}, {"encoding_errors": "replace"}, {"encoding": "utf-16"}]
)
def test_text_not_encoded_as_utf8_keeps_redis_pys_packing(options: dict[str, str]) -> None:
    """hiredis encodes text as strict UTF-8: a client told otherwise packs as redis-py
    does, with its encoding."""
    pytest.importorskip("hiredis")
    client = async_client(parse("redis://h:1/0"), options)
    assert client.connection_pool.connection_class is aioredis.Connection
    utf8 = async_client(parse("redis://h:1/0"), {"encoding": "UTF8"})
    assert utf8.connection_pool.connection_class is not aioredis.Connection


class _Refuses:
    def __init__(self, fallback: object, encode: object) -> None: ...


class _Differs:
    def pack(self, *args: object) -> list[bytes]:
        return [b"*1\r\n$4\r\nPING\r\n"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"utils.HIREDIS_AVAILABLE": False}, "hiredis is not installed"),
        ({"connection.HiredisRespSerializer": None}, "has no HiredisRespSerializer"),
        ({"connection.HiredisRespSerializer": _Refuses}, "HiredisRespSerializer fails"),
        ({"connection.HiredisRespSerializer": _Differs}, "HiredisRespSerializer packs"),
    ],
)
@pytest.mark.anyio
async def test_redis_py_packs_when_its_hiredis_packer_is_gone_or_changed(
    change: dict[str, object],
    reason: str,
    packing: pytest.MonkeyPatch,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hiredis packer is an undocumented class of redis-py: when a release moves or
    changes it, redis-py's own packing is kept (said at debug level) and commands still
    reach Redis intact."""
    for where, value in change.items():
        module, name = where.split(".")
        target = {"utils": _connect.redis_utils, "connection": _connect.redis_connection}[module]
        if value is None:
            packing.delattr(target, name, raising=False)
        else:
            packing.setattr(target, name, value, raising=False)
    with caplog.at_level(logging.DEBUG, logger=_connect.__name__):
        client = async_client(parse(redis_url), {})
    assert client.connection_pool.connection_class is aioredis.Connection
    assert reason in caplog.text and "own packing" in caplog.text
    try:
        await client.set("celeriac-test:packing", memoryview(b"\xc1\x00"))
        assert await client.get("celeriac-test:packing") == b"\xc1\x00"
    finally:
        await client.delete("celeriac-test:packing")
        await client.aclose()


@pytest.mark.anyio
async def test_commands_packed_with_hiredis_reach_redis_intact(redis_url: str) -> None:
    pytest.importorskip("hiredis")
    client = async_client(parse(redis_url), {})
    assert client.connection_pool.connection_class is not aioredis.Connection
    key = "celeriac-test:hiredis"
    try:
        for value, stored in ((2.5, b"2.5"), (7, b"7"), ("é", "é".encode()), (b"\x00", b"\x00")):
            await client.set(key, value)
            assert await client.get(key) == stored
        assert await client.execute_command("CONFIG GET", "maxmemory")
    finally:
        await client.delete(key)
        await client.aclose()


def test_a_cluster_on_a_redis_py_without_asyncio_cluster_pub_sub_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-py before 8.0 has no pub/sub on its asyncio Cluster client: a clear error
    naming the fix, not a worker that cannot wait for results."""
    monkeypatch.delattr(_connect.AsyncRedisCluster, "pubsub", raising=False)
    with pytest.raises(ConfigurationError, match=r"needs redis-py 8\.0 or newer.*redis>=8"):
        async_client(parse("redis+cluster://127.0.0.1:7000"), {})


def test_safe_url_masks_only_the_password() -> None:
    assert safe_url("redis+sentinel://u:pw@a:1,b:2/m") == "redis+sentinel://u:***@a:1,b:2/m"
    assert safe_url("redis://a:1/0") == "redis://a:1/0"


@pytest.mark.anyio
async def test_send_and_fetch_keep_working_across_a_sentinel_failover(
    fresh_redis_sentinel: RedisSentinel, prefix: str
) -> None:
    """The master dies; the sentinels promote the replica; the broker follows it, so a
    producer and a consumer in the middle of their work carry on (what was sent before
    the failover may be lost with the master: Redis replication is asynchronous)."""
    broker = RedisBroker(fresh_redis_sentinel.url, prefix=prefix)
    try:
        await broker.send([Outgoing("before", "q", 0, b"before")])
        (got,) = await broker.fetch(["q"], "c1", 10, 0, False)
        await broker.finish([Completion(got)])
        old = fresh_redis_sentinel.master_address()
        new = await fresh_redis_sentinel.afailover(restart=False)
        assert new != old
        with anyio.fail_after(30):
            await broker.send([Outgoing(f"t{n}", "q", 0, b"%d" % n) for n in range(5)])
            taken = []
            while len(taken) < 5:
                taken += await broker.fetch(["q"], "c1", 10, 1.0, False)
        assert sorted(d.data for d in taken) == [b"%d" % n for n in range(5)]
        await broker.finish([Completion(d) for d in taken])
        stats = await broker.stats("q")
        assert (stats.ready, stats.in_flight) == (0, 0)
    finally:
        await broker.aclose()
