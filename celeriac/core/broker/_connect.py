"""Redis clients from URLs: a single server, a Sentinel-watched master, or a Cluster.

* ``redis://`` / ``rediss://`` (TLS) / ``unix://``: one server (as redis-py reads them);
* ``redis+sentinel://[:password@]host:port[,host:port...]/<master name>[/<db>]``: the
  master the sentinels name; after a failover, commands retry until the new master
  answers (redis-py gives such clients no retries of its own);
* ``redis+cluster://[:password@]host:port[,host:port...]``: a Redis Cluster, reached
  through any of the nodes given.
"""

from __future__ import annotations

import codecs
import functools
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
import redis.connection as redis_connection
import redis.utils as redis_utils
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from ..errors import ConfigurationError

__all__ = ["SCHEMES", "Endpoint", "async_client", "parse", "safe_url", "sync_client"]

SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")
# redis-py leaves these untyped
_SyncSentinel: Any = Sentinel
_AsyncSentinel: Any = AsyncSentinel
_SyncClusterNode: Any = ClusterNode

# A Sentinel failover takes a few seconds: retry for about 20.
FAILOVER_RETRIES = 40

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """Where Redis is: the kind, the nodes (sentinels or cluster nodes), and more."""

    url: str
    kind: str  # "single", "sentinel" or "cluster"
    nodes: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    password: str | None = None

    @property
    def cluster(self) -> bool:
        return self.kind == "cluster"


def safe_url(url: str) -> str:
    """The URL with any password replaced by asterisks, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse(url: str) -> Endpoint:
    """Where a ``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://`` or
    ``redis+cluster://`` URL points (a :class:`ConfigurationError` when it cannot)."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"a Redis URL starts with one of {', '.join(s + '://' for s in SCHEMES)}; "
            f"got {safe_url(url)!r}"
        )
    if scheme in ("redis", "rediss", "unix"):
        return Endpoint(url, "single")
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    password = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        password = unquote(credentials.split(":", 1)[-1]) or None
    nodes = tuple(_host_port(part, url) for part in netloc.split(",") if part)
    if not nodes:
        raise ConfigurationError(f"no host in Redis URL {safe_url(url)!r}")
    path = [p for p in urlsplit(url).path.split("/") if p]
    if scheme == "redis+cluster":
        return Endpoint(url, "cluster", nodes, password=password)
    if not path:
        raise ConfigurationError(
            f"a Sentinel URL names the master after the hosts: {safe_url(url)!r} has none "
            "(redis+sentinel://host:26379/mymaster/0)"
        )
    if len(path) > 1 and not path[1].isdigit():
        raise ConfigurationError(f"the database in {safe_url(url)!r} is not a number")
    db = int(path[1]) if len(path) > 1 else 0
    return Endpoint(url, "sentinel", nodes, path[0], db, password)


def _host_port(part: str, url: str) -> tuple[str, int]:
    host, _, port = part.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(
            f"expected host:port in Redis URL {safe_url(url)!r}, got {part.rpartition('@')[2]!r}"
        )
    return host, int(port)


def async_client(endpoint: Endpoint, options: dict[str, Any]) -> Any:
    """An asyncio client (call ``await client.initialize()`` first for a cluster)."""
    if endpoint.kind == "single":
        client = aioredis.Redis.from_url(endpoint.url, **options)
        _pack_with_hiredis(client.connection_pool)
        return client
    if endpoint.kind == "sentinel":
        retry = AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), FAILOVER_RETRIES)
        sentinel = _AsyncSentinel(list(endpoint.nodes), **_sentinel_options(options))
        client = sentinel.master_for(
            endpoint.master, db=endpoint.db, password=endpoint.password, retry=retry, **options
        )
        _pack_with_hiredis(client.connection_pool)
        client.celeriac_sentinels = sentinel.sentinels  # closed with the client
        return client
    if not hasattr(AsyncRedisCluster, "pubsub"):
        raise ConfigurationError(
            f"redis+cluster:// needs redis-py 8.0 or newer, whose asyncio Cluster client has "
            f"the pub/sub that result waits and remote control use; this is redis-py "
            f"{redis.__version__}: pip install 'redis>=8'"
        )
    nodes = [aioredis.cluster.ClusterNode(host, port) for host, port in endpoint.nodes]
    return AsyncRedisCluster(startup_nodes=nodes, password=endpoint.password, **options)


def _pack_with_hiredis(pool: Any) -> None:
    """Have an asyncio pool's connections pack commands in C, straight from the arguments:
    redis-py's asyncio connection packs in Python before 8.2, and from 8.2 encodes each
    argument in Python before hiredis packs them: the script storing 10 results packs in
    18 us that way, in 4-7 us here (bench/packing.py). The bytes are the same. Made before
    the pool opens any connection; only for text encoded as UTF-8 (strict), as hiredis
    encodes it. (A Cluster client makes its nodes' pools itself: it keeps redis-py's.)"""
    kwargs = pool.connection_kwargs
    if codecs.lookup(kwargs.get("encoding") or "utf-8").name != "utf-8":
        return
    if (kwargs.get("encoding_errors") or "strict") != "strict":
        return
    packer = hiredis_packer()
    if packer is not None:
        pool.connection_class = _hiredis_packing(pool.connection_class, packer)


# What one command packs to in RESP: a packer is used only if it gives these bytes.
_PROBE = (("SET", b"key", 1, 2.5, memoryview(b"v")), b"*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n"
          b"$1\r\n1\r\n$3\r\n2.5\r\n$1\r\nv\r\n")  # fmt: skip


@functools.cache
def hiredis_packer() -> Any:
    """redis-py's hiredis command packer, made to pack arguments as they come; None (with
    the reason at debug level) where redis-py's own packing is kept: hiredis is not
    installed, or the packer, an undocumented class of redis-py, is gone, cannot be made
    so, or packs other bytes than redis-py's own."""
    if not getattr(redis_utils, "HIREDIS_AVAILABLE", False):
        return _keep_own("hiredis is not installed")
    serializer: Any = getattr(redis_connection, "HiredisRespSerializer", None)
    if serializer is None:
        return _keep_own("it has no HiredisRespSerializer")
    args, expected = _PROBE
    try:
        packer = serializer()
        packed = b"".join(packer.pack(*args))
    except Exception as exc:
        return _keep_own(f"its HiredisRespSerializer fails ({exc!r})")
    if packed != expected:
        return _keep_own(f"its HiredisRespSerializer packs {packed!r}, not {expected!r}")
    return packer


def _keep_own(reason: str) -> None:
    logger.debug("asyncio Redis commands keep redis-py %s's own packing: %s",
                 redis.__version__, reason)  # fmt: skip


@functools.cache
def _hiredis_packing(connection_class: type[Any], packer: Any) -> type[Any]:
    """``connection_class`` (plain, TLS, Unix socket, Sentinel-managed), packing with
    ``packer``."""

    def pack_command(self: Any, *args: Any) -> list[bytes]:
        packed: list[bytes] = packer.pack(*args)
        return packed

    return type(connection_class.__name__, (connection_class,), {"pack_command": pack_command})


def sync_client(endpoint: Endpoint, options: dict[str, Any]) -> Any:
    """A blocking, thread-safe client."""
    if endpoint.kind == "single":
        return redis.Redis.from_url(endpoint.url, **options)
    if endpoint.kind == "sentinel":
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), FAILOVER_RETRIES)
        sentinel = _SyncSentinel(list(endpoint.nodes), **_sentinel_options(options))
        client = sentinel.master_for(
            endpoint.master, db=endpoint.db, password=endpoint.password, retry=retry, **options
        )
        client.celeriac_sentinels = sentinel.sentinels  # closed with the client
        return client
    nodes = [_SyncClusterNode(host, port) for host, port in endpoint.nodes]
    return RedisCluster(startup_nodes=nodes, password=endpoint.password, **options)


async def aclose_client(client: Any) -> None:
    """Close an asyncio client, and for Sentinel the connections to the sentinels too."""
    await client.aclose()
    for sentinel in getattr(client, "celeriac_sentinels", ()):
        await sentinel.aclose()


def close_client(client: Any) -> None:
    """Close a blocking client, and for Sentinel the connections to the sentinels too."""
    client.close()
    for sentinel in getattr(client, "celeriac_sentinels", ()):
        sentinel.close()


def _sentinel_options(options: dict[str, Any]) -> dict[str, Any]:
    """Timeouts for talking to the sentinels themselves."""
    keep = ("socket_connect_timeout", "socket_timeout")
    return {"sentinel_kwargs": {k: options[k] for k in keep if k in options}}
