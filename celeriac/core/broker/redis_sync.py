"""`RedisSyncBroker`: the blocking twin of `RedisBroker`, for sync producers (Django
views, scripts). Thread-safe: redis-py's connection pool is."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from redis.exceptions import NoScriptError

from ._cluster import commit_steps
from ._connect import close_client, sync_client
from ._lua import SCRIPTS, Commit
from ._pubsub import SyncResultWaiter
from ._redis_base import (
    REDIS_ERRORS,
    Invocation,
    RedisBase,
    commit_calls,
    dead_letter_from,
    stats_from,
)
from .base import DeadLetter, Outgoing, QueueStats

__all__ = ["RedisSyncBroker"]


class RedisSyncBroker(RedisBase):
    """The blocking twin of :class:`RedisBroker`: send and read results. Thread-safe."""

    def _setup(self) -> None:
        self._redis: Any = sync_client(self.endpoint, self._options)
        self._waiter = SyncResultWaiter(self._redis)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except REDIS_ERRORS as exc:
            raise self._broker_error(exc) from exc

    def _run(self, invocations: Sequence[Invocation]) -> list[Any]:
        """The blocking twin of :meth:`RedisBroker._run` (on a Cluster, one by one)."""
        with self._errors():
            if len(invocations) == 1 or self.cluster:
                return [self._call(*invocation) for invocation in invocations]
            pipe = self._redis.pipeline(transaction=False)
            for name, keys, args in invocations:
                pipe.evalsha(SCRIPTS[name].sha, len(keys), *keys, *args)
            results: list[Any] = pipe.execute(raise_on_error=False)
            for i, res in enumerate(results):
                if isinstance(res, NoScriptError):
                    results[i] = self._call(*invocations[i])
                elif isinstance(res, Exception):
                    raise res
            return results

    def _call(self, name: str, keys: list[str], args: Sequence[Any]) -> Any:
        script = SCRIPTS[name]
        try:
            return self._redis.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            self._redis.script_load(script.source)
            return self._redis.evalsha(script.sha, len(keys), *keys, *args)

    def _apply(self, commit: Commit) -> None:
        """The blocking twin of :meth:`RedisBroker._apply`."""
        if not self.cluster:
            commit.absorb(self._run(commit_calls(commit)))
            return
        steps = commit_steps(commit)
        replies: list[Any] | None = None
        while True:
            try:
                calls = steps.send(replies)  # type: ignore[arg-type]  # None starts it
            except StopIteration:
                return
            replies = self._run(calls)

    def send(self, items: Sequence[Outgoing]) -> dict[str, str]:
        commit = self._send_plan(items)
        self._apply(commit)
        return commit.existing

    def store_result(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None:
        self._apply(self._result_plan(task_id, state, data, ttl))

    def get_result(self, task_id: str) -> bytes | None:
        with self._errors():
            data: bytes | None = self._redis.hget(self.keys.result(task_id), "d")
            return data

    def get_state(self, task_id: str) -> str | None:
        with self._errors():
            state = self._redis.hget(self.keys.result(task_id), "s")
        return None if state is None else state.decode() if isinstance(state, bytes) else state

    def forget(self, task_id: str) -> None:
        with self._errors():
            self._redis.delete(self.keys.result(task_id))

    def wait_result(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None:
        with self._errors():
            return self._waiter.wait(self.keys.result(task_id), timeout, previous)

    def stats(self, queue: str) -> QueueStats:
        with self._errors():
            pipe = self._stats_pipeline(self._redis.pipeline(transaction=False), queue)
            return stats_from(pipe.execute(raise_on_error=False))

    def dead_letters(self, queue: str, count: int = 100) -> list[DeadLetter]:
        with self._errors():
            entries = self._redis.xrange(self.keys.dead(queue), count=count)
        return [dead_letter_from(queue, entry_id, fields) for entry_id, fields in entries]

    def close(self) -> None:
        self._waiter.close()
        close_client(self._redis)
