"""What the async Redis broker and its sync twin share: the URL, the key layout, the
plans of script calls, and how Redis errors are worded."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from ..errors import BrokerError, CeleriacError, DependencyError
from ..keys import GROUP, Keys
from ._connect import parse, safe_url
from ._lua import MS, Commit
from .base import (
    DEFAULT_PRIORITY_STEPS,
    DeadLetter,
    Outgoing,
    PrioritySteps,
    QueueStats,
)

__all__ = [
    "Invocation",
    "RedisBase",
    "commit_calls",
    "dead_letter_from",
    "safe_url",
    "stats_from",
    "stream_entries",
]

Invocation = tuple[str, list[str], Sequence[Any]]  # script name, KEYS, ARGV
GRAPH_ERROR = "celeriac graph:"  # how commit.lua starts the errors about parents

# What redis-py raises (a Cluster's errors included); NoScriptError is handled before.
REDIS_ERRORS = (redis.RedisError, RedisClusterException)

# A Redis that hangs (paused, partitioned) must raise, never leave a client waiting for
# ever: every read and connect has a timeout; blocking reads stay shorter (see fetch).
CLIENT_DEFAULTS: dict[str, Any] = {
    "socket_connect_timeout": 5.0,
    "socket_timeout": 10.0,
    "socket_keepalive": True,
    "health_check_interval": 30,
}


class RedisBase:
    """What the async broker and its sync twin share: layout, URL, error wording."""

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "celeriac",
        priority_steps: Sequence[int] = DEFAULT_PRIORITY_STEPS,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.endpoint = parse(url)
        self.cluster = self.endpoint.cluster
        self.keys = Keys(prefix)
        self.priority_steps = PrioritySteps(tuple(priority_steps))
        self._options: dict[str, Any] = {**CLIENT_DEFAULTS, **(client_options or {})}
        self._setup()

    def _setup(self) -> None:
        """What each subclass adds to the construction."""

    def _longest_block_ms(self, wanted_ms: int) -> int:
        """A blocking read must return before the socket timeout would call it dead."""
        timeout = self._options.get("socket_timeout")
        if not timeout:
            return wanted_ms
        return max(1, min(wanted_ms, int((float(timeout) - 0.5) * 1000)))

    def _broker_error(self, exc: Exception) -> CeleriacError:
        text = str(exc)
        if GRAPH_ERROR in text:  # commit.lua refused a task's parents
            return DependencyError(text.split(GRAPH_ERROR, 1)[1].strip())
        if isinstance(exc, DependencyError):
            return exc
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            return BrokerError(
                f"cannot reach Redis at {safe_url(self.url)}: {exc} "
                "(is redis-server running, and is the URL right?)"
            )
        return BrokerError(f"Redis at {safe_url(self.url)} refused a command: {exc}")

    def _commit(self) -> Commit:
        return Commit(self.keys, self.priority_steps, linked=not self.cluster)

    def _send_plan(self, items: Sequence[Outgoing]) -> Commit:
        commit = self._commit()
        now = time.time()
        for item in items:
            due_now = item.due is not None and item.due <= now
            commit.send(replace(item, due=None) if due_now else item)
        return commit

    def _stats_pipeline(self, pipe: Any, queue: str) -> Any:
        """The commands behind ``stats(queue)``, queued on ``pipe``."""
        for step in self.priority_steps.steps:
            key = self.keys.stream(queue, step)
            pipe.xlen(key)
            pipe.xpending(key, GROUP)
        pipe.zcard(self.keys.delayed(queue))
        pipe.xlen(self.keys.dead(queue))
        return pipe

    def _result_plan(self, task_id: str, state: str, data: bytes, ttl: float | None) -> Commit:
        commit = self._commit()
        commit.result(task_id, state, data, ttl)
        return commit


def commit_calls(commit: Commit) -> list[Invocation]:
    return [("commit", keys, args) for keys, args in commit.invocations()]


def dead_letter_from(queue: str, entry_id: bytes, fields: Mapping[bytes, bytes]) -> DeadLetter:
    named = {k.decode(): v for k, v in fields.items()}
    raw = {k[4:]: v for k, v in named.items() if k.startswith("raw:")}
    return DeadLetter(
        id=entry_id.decode(),
        queue=queue,
        step=int(named.get("step", b"0")),
        data=named.get("m"),
        reason=named.get("reason", b"").decode(errors="replace"),
        error=named.get("error", b"").decode(errors="replace"),
        time=int(named.get("time", b"0")) / MS,
        raw=raw,
    )


def stats_from(res: Sequence[Any]) -> QueueStats:
    *per_stream, delayed, dead = res
    length = in_flight = 0
    for i in range(0, len(per_stream), 2):
        xlen, pending = per_stream[i], per_stream[i + 1]
        length += xlen if isinstance(xlen, int) else 0
        in_flight += pending["pending"] if isinstance(pending, dict) else 0
    return QueueStats(
        ready=length - in_flight,
        in_flight=in_flight,
        delayed=delayed if isinstance(delayed, int) else 0,
        dead=dead if isinstance(dead, int) else 0,
    )


def stream_entries(reply: Any) -> list[tuple[str, list[Any]]]:
    """An XREAD or XREADGROUP reply as (key, entries), whichever protocol the client speaks:
    RESP2 gives ``[[key, entries]]``, RESP3 ``{key: [entries]}``."""
    if not reply:
        return []
    if isinstance(reply, Mapping):
        pairs = [(key, value[0] if value else []) for key, value in reply.items()]
    else:
        pairs = [(key, entries) for key, entries in reply]
    return [(key.decode() if isinstance(key, bytes) else key, list(e)) for key, e in pairs]
