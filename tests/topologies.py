"""Real Redis Cluster and Redis Sentinel topologies for the tests, from ``redis-server``.

Every process listens on a free loopback port (never 6379), keeps its files in a private
temporary directory, and is killed, reaped and cleaned up by ``stop()``.

``RedisCluster``
    N masters (3 by default, optionally a replica each), each a ``redis-server
    --cluster-enabled yes`` with an explicit ``--cluster-port`` (the bus port is a second free
    port rather than port + 10000, which can overflow for high ephemeral ports). The cluster is
    formed directly, faster than ``redis-cli --cluster create`` (which sleeps a second per
    check): each node gets a distinct config epoch and its own slot range
    (``CLUSTER ADDSLOTSRANGE``), every pair of nodes ``CLUSTER MEET``s (meeting through one
    node only left the others to gossip, up to 3 s more), replicas ``CLUSTER REPLICATE``
    their master; then the start waits until every node reports ``cluster_state:ok``, knows
    every node, and lists every replica in ``CLUSTER SLOTS``. A master refuses to report
    ``ok`` during its first 2 s (Redis's ``CLUSTER_WRITABLE_DELAY``): the start takes ~2.1 s.
    Cluster mode has database 0 only.

``RedisSentinel``
    One master, one replica (``--replicaof``) and 3 sentinels (``redis-server <conf>
    --sentinel``, each with its own writable config file, quorum 2, down-after 2 s,
    failover-timeout 3 s, parallel-syncs 1). The sentinels are started only once the replica
    is in sync, so their first ``INFO`` of the master already lists it; the start then waits
    until every sentinel knows the master, the replica and the 2 other sentinels (hello
    messages go out every 2 s, which is most of the start time). ``failover()`` SIGKILLs the
    master, waits until every sentinel names the promoted replica and it accepts writes, then
    by default restarts the killed node (empty) as a replica of the new master and waits until
    the sentinels see it healthy: afterwards the topology has a master and a replica again, so
    it stays usable (also for another failover); only the master's address has changed.
    Start ~2.1 s, failover 4-5 s.

    Why down-after 2 s and not 1 s: with 1 s (= Sentinel's ping period), back-to-back
    failovers made a sentinel declare the *new* master down ~1.05 s after switching to it
    (its link to the new address is reconnected at most once a second, so the first PONG came
    too late); stale "down" votes from the previous round gave it a quorum at once, and it
    failed the healthy master over again. With 2 s, 30 failovers in a row were all clean.

Fixtures: register this module as a plugin with ``pytest_plugins = ["tests.topologies"]``
in ``tests/conftest.py`` (tests/test_topologies.py does so too, which is then a no-op).
Importing the fixtures by name into the conftest instead would import this module before
pytest registers it, and pytest then errors ("Module already imported so cannot be
rewritten").

- ``redis_cluster`` (session): the shared ``RedisCluster``, started on first use.
- ``redis_cluster_url`` (function): flushes every master, returns its ``startup_url``.
- ``redis_sentinel`` (session): the shared ``RedisSentinel``, started on first use. A test
  may ``failover()`` it: that returns with the topology stable again (new master, old one
  back as a replica), so later tests only see another master address. A test that kills
  nodes by other means (``failover(restart=False)``) should ``revive()`` them before it ends,
  or use ``fresh_redis_sentinel``.
- ``redis_sentinel_url`` (function): waits until the shared topology is healthy, flushes
  the master, returns its ``redis+sentinel://`` URL.
- ``fresh_redis_sentinel`` (function): a private ``RedisSentinel`` for a test that wants to
  do what it likes to its nodes (costs a start, ~2-3 s).

All skip with a reason when ``redis-server`` is not installed.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.redis_server import free_port

__all__ = [
    "RedisCluster",
    "RedisSentinel",
    "TopologyError",
    "fresh_redis_sentinel",
    "redis_cluster",
    "redis_cluster_url",
    "redis_sentinel",
    "redis_sentinel_url",
]

HOST = "127.0.0.1"
CLUSTER_SLOTS = 16384
# the machine's shared Redis (and its cluster bus / sentinel ports): never ours
_NEVER = frozenset({6379, 16379, 26379})
# ports held by live nodes of this process, so two topologies never pick the same one
_PORTS_IN_USE: set[int] = set()
_LIVE: set[_Topology] = set()
_T = TypeVar("_T")


class TopologyError(RuntimeError):
    """A topology did not start or did not reach the state it waited for."""


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise TopologyError("redis-server is not installed: run scripts/test, which installs it")
    return binary


def _take_port() -> int:
    while True:
        port = free_port()
        if port not in _NEVER and port not in _PORTS_IN_USE:
            _PORTS_IN_USE.add(port)
            return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def _client(port: int) -> Iterator[redis.Redis]:
    """A short-lived admin connection: decoded replies, short timeouts, no retries."""
    client = redis.Redis(
        HOST,
        port,
        decode_responses=True,
        protocol=2,  # redis-py 8 speaks RESP3 by default; RESP2 replies are flat, as parsed here
        socket_timeout=2,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        client.close()


def _pairs(reply: list[str]) -> dict[str, str]:
    """A flat ``[key, value, ...]`` reply (SENTINEL MASTER, REPLICAS) as a dict."""
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _info(port: int, section: str) -> dict[str, str]:
    with _client(port) as client:
        info: dict[str, object] = client.info(section)
    return {key: str(value) for key, value in info.items()}


def _wait_until(
    check: Callable[[], object], *, timeout: float, what: str, logs: Callable[[], str]
) -> None:
    """Poll ``check`` until it returns a truthy value; Redis/socket errors count as not yet."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return
        except (redis.RedisError, OSError) as error:
            last = error
        if time.monotonic() > deadline:
            raise TopologyError(f"{what}: not within {timeout:g} s (last: {last!r})\n{logs()}")
        time.sleep(0.05)


@dataclass(eq=False)
class _Node:
    """One ``redis-server`` process, data node or sentinel, with its own directory."""

    name: str
    directory: Path
    args: list[str] = field(default_factory=list)
    cluster: bool = False
    sentinel_config: str | None = None
    port: int = 0
    bus_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return (
                f"--- {self.name} :{self.port} ---\n"
                + self.log.read_text(errors="replace")[-chars:]
            )
        except OSError:
            return f"--- {self.name} :{self.port}: no log ---"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, attempts: int = 3) -> None:
        """Start on fresh free ports; if one was taken in between, try again on others."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            self._release_ports()
            self.port = _take_port()
            self.bus_port = _take_port() if self.cluster else 0
            try:
                self.restart()
                return
            except TopologyError:
                if attempt == attempts - 1 or "in use" not in self.log_tail():
                    raise

    def restart(self) -> None:
        """(Re)start the process on its ports and wait until it answers PING (≤ 10 s)."""
        assert not self.running, f"{self.name} is running"
        if self.sentinel_config is not None:
            config = self.directory / "sentinel.conf"
            config.write_text(
                f"port {self.port}\nbind {HOST}\ndir {self.directory}\n"
                f"logfile {self.log}\n{self.sentinel_config}"
            )
            command = [_binary(), str(config), "--sentinel"]
        else:
            command = [
                _binary(),
                "--port", str(self.port),
                "--bind", HOST,
                "--dir", str(self.directory),
                "--logfile", str(self.log),
                "--save", "",
                "--appendonly", "no",
                # a replica's full sync starts at once, not after the default 5 s wait
                "--repl-diskless-sync-delay", "0",
                *(
                    [
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", str(self.directory / f"nodes-{self.port}.conf"),
                        "--cluster-port", str(self.bus_port),
                        "--cluster-node-timeout", "2000",
                        "--cluster-announce-ip", HOST,
                    ]
                    if self.cluster
                    else []
                ),
                *self.args,
            ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise TopologyError(f"{self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.01)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the process (SIGKILL: no shutdown) and reap it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def _release_ports(self) -> None:
        _PORTS_IN_USE.discard(self.port)
        _PORTS_IN_USE.discard(self.bus_port)

    def stop(self) -> None:
        self.kill()
        self._release_ports()


class _Topology:
    """Processes in one temporary directory; ``stop()`` kills and reaps them all."""

    def __init__(self, prefix: str) -> None:
        _binary()
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        self._nodes: list[_Node] = []
        #: seconds ``start()`` took until the topology was ready
        self.startup_seconds = 0.0
        _LIVE.add(self)

    def _node(self, name: str, *, cluster: bool = False) -> _Node:
        node = _Node(name, self.directory / name, cluster=cluster)
        self._nodes.append(node)
        return node

    def _logs(self) -> str:
        return "\n".join(node.log_tail(600) for node in self._nodes)

    def stop(self) -> None:
        """Kill (SIGKILL) and reap every process, remove the directory. Idempotent."""
        for node in self._nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> _Topology:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisCluster(_Topology):
    """A Redis Cluster of ``masters`` masters, each with ``replicas`` replicas."""

    def __init__(self, masters: int = 3, replicas: int = 0) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError("a cluster needs at least one master")
        super().__init__("celeriac-cluster-")
        self.masters = [self._node(f"master{i}", cluster=True) for i in range(masters)]
        self.replicas = [
            self._node(f"replica{i}-{j}", cluster=True)
            for i in range(masters)
            for j in range(replicas)
        ]
        self.replicas_per_master = replicas

    @classmethod
    def start(cls, masters: int = 3, replicas: int = 0, timeout: float = 20.0) -> RedisCluster:
        """Start the nodes, form the cluster, wait (≤ ``timeout``) until every node is ok."""
        began = time.monotonic()
        cluster = cls(masters, replicas)
        try:
            cluster._form(timeout)
        except BaseException:
            cluster.stop()
            raise
        cluster.startup_seconds = time.monotonic() - began
        return cluster

    # -- what tests use ------------------------------------------------------------------------

    @property
    def ports(self) -> list[int]:
        """The masters' ports."""
        return [node.port for node in self.masters]

    @property
    def replica_ports(self) -> list[int]:
        return [node.port for node in self.replicas]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self.ports]

    @property
    def urls(self) -> list[str]:
        """One URL per master (cluster mode has only db 0)."""
        return [f"redis://{HOST}:{port}/0" for port in self.ports]

    @property
    def startup_url(self) -> str:
        return self.urls[0]

    @property
    def cluster_url(self) -> str:
        """A ``redis+cluster://`` URL naming every master (celeriac's Cluster URL)."""
        return "redis+cluster://" + ",".join(f"{host}:{port}" for host, port in self.startup_nodes)

    def flushall(self) -> None:
        """Empty every master (replicas follow)."""
        for port in self.ports:
            with _client(port) as client:
                client.flushall()

    # -- forming -------------------------------------------------------------------------------

    def _form(self, timeout: float) -> None:
        nodes = self.masters + self.replicas
        for node in nodes:
            node.start()
        for epoch, node in enumerate(nodes, start=1):
            with _client(node.port) as client:
                # distinct epochs up front: no epoch-collision round later
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        step = CLUSTER_SLOTS // len(self.masters)
        for index, node in enumerate(self.masters):
            last = CLUSTER_SLOTS - 1 if index == len(self.masters) - 1 else (index + 1) * step - 1
            with _client(node.port) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", index * step, last)
        for index, node in enumerate(nodes):
            # every pair meets: no waiting for gossip to introduce the nodes to each other
            with _client(node.port) as client:
                for other in nodes[index + 1 :]:
                    client.execute_command("CLUSTER", "MEET", HOST, other.port, other.bus_port)
        if self.replicas:
            self._replicate(timeout)
            _wait_until(
                lambda: all(
                    _info(node.port, "replication").get("master_link_status") == "up"
                    for node in self.replicas
                ),
                timeout=timeout,
                what="replicas in sync",
                logs=self._logs,
            )
            # CLUSTER SLOTS leaves out a replica until its replication offset is above 0, and a
            # master's offset only moves on a write (or its replica ping every 10 s): FLUSHALL
            # (keyless, replicated) on the new, empty masters moves it
            for node in self.masters:
                with _client(node.port) as client:
                    client.flushall()
        _wait_until(
            self._ready, timeout=timeout, what="cluster_state:ok on every node", logs=self._logs
        )

    def _replicate(self, timeout: float) -> None:
        ids = {}
        for node in self.masters:
            with _client(node.port) as client:
                ids[node.name] = client.execute_command("CLUSTER", "MYID")
        for index, master in enumerate(self.masters):
            per = self.replicas_per_master
            for replica in self.replicas[index * per : (index + 1) * per]:

                def replicate(replica: _Node = replica, master_id: str = ids[master.name]) -> bool:
                    # "Unknown node" until gossip has told the replica about its master
                    with _client(replica.port) as client:
                        client.execute_command("CLUSTER", "REPLICATE", master_id)
                    return True

                _wait_until(
                    replicate,
                    timeout=timeout,
                    what=f"{replica.name}: CLUSTER REPLICATE",
                    logs=self._logs,
                )

    def _ready(self) -> bool:
        total = len(self.masters) + len(self.replicas)
        for node in self.masters + self.replicas:
            with _client(node.port) as client:
                info = _pairs_info(client.execute_command("CLUSTER", "INFO"))
                if (
                    info.get("cluster_state") != "ok"
                    or info.get("cluster_known_nodes") != str(total)
                    or info.get("cluster_slots_ok") != str(CLUSTER_SLOTS)
                ):
                    return False
                lines = client.execute_command("CLUSTER", "NODES").splitlines()
                flags = [line.split()[2] for line in lines]
                if sum("slave" in flag for flag in flags) != len(self.replicas) or any(
                    bad in flag for flag in flags for bad in ("fail", "handshake", "noaddr")
                ):
                    return False
        return self._replicas_listed()

    def _replicas_listed(self) -> bool:
        if not self.replicas:
            return True
        for node in self.masters + self.replicas:
            with _client(node.port) as client:
                ranges = client.execute_command("CLUSTER", "SLOTS")
            if any(len(entry) - 3 != self.replicas_per_master for entry in ranges):
                return False
        return True


def _pairs_info(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


class RedisSentinel(_Topology):
    """One master, one replica, ``sentinels`` sentinels (quorum: a majority)."""

    master_name = "mymaster"

    def __init__(self, sentinels: int = 3, down_after_ms: int = 2000) -> None:
        super().__init__("celeriac-sentinel-")
        self._data = [self._node("redis0"), self._node("redis1")]
        self._sentinels = [self._node(f"sentinel{i}") for i in range(sentinels)]
        self.quorum = sentinels // 2 + 1
        self.down_after_ms = down_after_ms

    @classmethod
    def start(
        cls, sentinels: int = 3, down_after_ms: int = 2000, timeout: float = 20.0
    ) -> RedisSentinel:
        """Start master, replica, sentinels; wait (≤ ``timeout``) until all know each other."""
        began = time.monotonic()
        topology = cls(sentinels, down_after_ms)
        try:
            topology._form(timeout)
        except BaseException:
            topology.stop()
            raise
        topology.startup_seconds = time.monotonic() - began
        return topology

    # -- what tests use ------------------------------------------------------------------------

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(HOST, node.port) for node in self._sentinels]

    @property
    def url(self) -> str:
        """``redis+sentinel://host:port,host:port,.../mymaster/0``."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.master_name}/0"

    @property
    def data_ports(self) -> list[int]:
        """Ports of the master and the replica (which is which changes on failover)."""
        return [node.port for node in self._data]

    def master_address(self) -> tuple[str, int]:
        """The master's address as the first sentinel that answers tells it."""
        for node in self._sentinels:
            with contextlib.suppress(redis.RedisError, OSError), _client(node.port) as client:
                host, port = client.execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name
                )
                return host, int(port)
        raise TopologyError(f"no sentinel answers\n{self._logs()}")

    def replica_addresses(self) -> list[tuple[str, int]]:
        """The running replicas."""
        master = self.master_address()[1]
        return [(HOST, node.port) for node in self._data if node.running and node.port != master]

    def flushall(self) -> None:
        """Empty the master and wait (≤ 2 s) until its replicas have done the same."""
        with _client(self.master_address()[1]) as client:
            client.flushall()
            client.execute_command("WAIT", len(self.replica_addresses()), 2000)

    def failover(self, timeout: float = 20.0, *, restart: bool = True) -> tuple[str, int]:
        """SIGKILL the master; wait until the sentinels promote the replica; return its address.

        With ``restart`` (the default) the killed node comes back, empty, as a replica of the
        new master, and the call returns once the sentinels see a healthy master and replica:
        the topology is then as before, but for which node is the master. Without it the
        topology has a master alone (``revive()`` brings the node back later). A failover takes
        4-5 s: 2 s until the sentinels call the master down, up to 1 s of random delay, the
        vote, the promotion. To act during it, run ``afailover()`` in a task.
        """
        old = self.master_address()
        if not self.replica_addresses():
            raise TopologyError("no running replica to promote: revive() the killed node first")
        victim = self._data_node(old[1])
        victim.kill(signal.SIGKILL)
        new: list[tuple[str, int]] = []

        def promoted() -> bool:
            addresses = {self._master_of(node) for node in self._sentinels}
            if len(addresses) != 1:
                return False
            host, port = addresses.pop()
            if port == old[1] or _info(port, "replication").get("role") != "master":
                return False
            with _client(port) as client:  # accepts writes
                client.set("__celeriac_topology_probe__", "1")
                client.delete("__celeriac_topology_probe__")
            new[:] = [(host, port)]
            return True

        _wait_until(promoted, timeout=timeout, what="failover", logs=self._logs)
        if restart:
            self.revive(timeout)
        return new[0]

    def revive(self, timeout: float = 20.0) -> None:
        """Restart every killed data node as a replica of the master; wait until stable."""
        master = self.master_address()
        for node in self._data:
            if not node.running:
                node.args = ["--replicaof", HOST, str(master[1])]
                node.restart()
        self.wait_stable(timeout)

    async def afailover(self, timeout: float = 20.0, *, restart: bool = True) -> tuple[str, int]:
        """``failover()`` from async code, in a worker thread (the event loop keeps running)."""
        return await anyio.to_thread.run_sync(lambda: self.failover(timeout, restart=restart))

    def wait_stable(self, timeout: float = 20.0) -> None:
        """Wait until every sentinel agrees on a running master, sees every running replica
        healthy and in sync, and knows every other sentinel."""
        _wait_until(self._stable, timeout=timeout, what="sentinels stable", logs=self._logs)

    # -- forming -------------------------------------------------------------------------------

    def _form(self, timeout: float) -> None:
        master, replica = self._data
        master.start()
        replica.args = ["--replicaof", HOST, str(master.port)]
        replica.start()
        _wait_until(
            lambda: _info(replica.port, "replication").get("master_link_status") == "up",
            timeout=timeout,
            what="replica in sync",
            logs=self._logs,
        )
        # started after the replica synced: a sentinel's first INFO of the master lists it
        for node in self._sentinels:
            node.sentinel_config = (
                f"sentinel monitor {self.master_name} {HOST} {master.port} {self.quorum}\n"
                f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.master_name} 3000\n"
                f"sentinel parallel-syncs {self.master_name} 1\n"
            )
            node.start()
        self.wait_stable(timeout)

    def _data_node(self, port: int) -> _Node:
        return next(node for node in self._data if node.port == port)

    def _master_of(self, sentinel: _Node) -> tuple[str, int]:
        with _client(sentinel.port) as client:
            host, port = client.execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name
            )
        return host, int(port)

    def _state(self, sentinel: _Node) -> tuple[dict[str, str], list[dict[str, str]]]:
        """What a sentinel knows of the master, and of its replicas."""
        with _client(sentinel.port) as client:
            master = client.execute_command("SENTINEL", "MASTER", self.master_name)
            replicas = client.execute_command("SENTINEL", "REPLICAS", self.master_name)
        return _pairs(master), [_pairs(replica) for replica in replicas]

    def _stable(self) -> bool:
        running = {node.port for node in self._data if node.running}
        masters = set()
        for sentinel in self._sentinels:
            state, replicas = self._state(sentinel)
            if (
                state["flags"] != "master"
                or int(state["num-other-sentinels"]) != len(self._sentinels) - 1
            ):
                return False
            masters.add(int(state["port"]))
            healthy = {
                int(replica["port"])
                for replica in replicas
                if replica["flags"] == "slave"
                and replica["master-link-status"] == "ok"
                and int(replica["master-port"]) == int(state["port"])
            }
            if int(state["port"]) not in running or healthy != running - {int(state["port"])}:
                return False
        if len(masters) != 1:
            return False
        (master,) = masters
        return _info(master, "replication").get("role") == "master"


# -- fixtures --------------------------------------------------------------------------------------


def _start_or_skip(start: Callable[[], _T]) -> _T:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    return start()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-master Redis Cluster shared by the session, started on first use."""
    cluster = _start_or_skip(RedisCluster.start)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    """The shared cluster, emptied, as a startup URL (``redis://``, for redis-py)."""
    redis_cluster.flushall()
    return redis_cluster.startup_url


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    """A Sentinel topology shared by the session, started on first use."""
    topology = _start_or_skip(RedisSentinel.start)
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture
def redis_sentinel_url(redis_sentinel: RedisSentinel) -> str:
    """The shared Sentinel topology, healthy and emptied, as a ``redis+sentinel://`` URL."""
    redis_sentinel.wait_stable()
    redis_sentinel.flushall()
    return redis_sentinel.url


@pytest.fixture
def fresh_redis_sentinel() -> Iterator[RedisSentinel]:
    """A Sentinel topology of the test's own, stopped after it."""
    topology = _start_or_skip(RedisSentinel.start)
    try:
        yield topology
    finally:
        topology.stop()


@atexit.register
def _stop_leftovers() -> None:
    """Safety net: a topology whose fixture never finalised (interrupted run)."""
    for topology in list(_LIVE):
        topology.stop()
