"""Redis URLs for a single server, Sentinel and Cluster, and the broker across a failover."""

from __future__ import annotations

import anyio
import pytest

from celeriac.core import ConfigurationError, RedisBroker
from celeriac.core.broker import Completion, Outgoing
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


@pytest.mark.parametrize("url", ["redis://h:1/0", "rediss://h:1/0", "unix:///run/redis.sock"])
def test_async_connections_pack_commands_in_c_into_the_same_bytes(url: str) -> None:
    """The asyncio client's connections pack with hiredis (as redis-py's blocking client
    does) and keep their kind (TLS, Unix socket); the bytes are redis-py's own."""
    pytest.importorskip("hiredis")
    pool = async_client(parse(url), {}).connection_pool
    packing, plain = pool.connection_class, pool.connection_class.__mro__[1]
    assert issubclass(packing, plain) and packing.pack_command is not plain.pack_command
    args = ("EVALSHA", "f" * 40, 2, "k:{a}", "k:{b}", "R", 1, 86400000, "SUCCESS", b"\xc1\x00{}")
    connection = packing(**pool.connection_kwargs)
    assert b"".join(connection.pack_command(*args)) == b"".join(
        plain.pack_command(connection, *args)
    )


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
