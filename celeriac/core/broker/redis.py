"""`RedisBroker`: queues as Redis Streams with a consumer group, results as keys.

Every multi-step change is one Lua script (``lua/``); key names come from
:mod:`celeriac.core.keys`. The async client is made per event loop; the sync twin
(:class:`RedisSyncBroker`) shares the layout and scripts, with its own thread-safe pool.
A single server, a Sentinel-watched master or a Cluster (see ``_connect.py``); what a
Cluster changes is in ``_cluster.py``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from ..keys import GROUP
from . import _redis_events
from ._lua import MS, text
from ._redis_async import AsyncRedisBase
from ._redis_base import (
    Invocation,
    dead_letter_from,
    safe_url,
    stats_from,
)
from ._redis_inspect import inspect_task, list_tasks
from ._redis_periodic import RedisPeriodic
from .base import (
    Completion,
    DeadLetter,
    Delivery,
    Listed,
    Outgoing,
    QueueStats,
    Recovery,
    TaskView,
    event_id_key,
)
from .redis_sync import RedisSyncBroker

__all__ = ["RedisBroker", "RedisSyncBroker", "safe_url"]

_STREAM_ID = re.compile(r"\d+-\d+\Z")


class RedisBroker(AsyncRedisBase):
    """Async broker on Redis (>= 6.2). ``url`` as redis-py takes it; ``client_options``
    go to redis-py's client."""

    def _setup(self) -> None:
        super()._setup()
        self._sync: RedisSyncBroker | None = None
        self.periodic = RedisPeriodic(self)

    def __repr__(self) -> str:
        return f"RedisBroker({safe_url(self.url)!r}, prefix={self.keys.prefix!r})"

    async def send(self, items: Sequence[Outgoing]) -> dict[str, str]:
        commit = self._send_plan(items)
        await self._apply(commit)
        return commit.existing

    async def finish(self, items: Sequence[Completion]) -> None:
        commit = self._commit()
        for item in items:
            commit.complete(item)
        await self._apply(commit)

    async def nack(self, deliveries: Sequence[Delivery]) -> None:
        commit = self._commit()
        for delivery in deliveries:
            commit.nack(delivery)
        await self._apply(commit)

    async def dead_letter(self, delivery: Delivery, reason: str, error: str) -> None:
        commit = self._commit()
        commit.dead(delivery, reason, error, time.time())
        await self._apply(commit)

    async def dead_letters(self, queue: str, count: int = 100) -> list[DeadLetter]:
        async with self._errors():
            entries = await self._redis.xrange(self.keys.dead(queue), count=count)
        return [dead_letter_from(queue, entry_id, fields) for entry_id, fields in entries]

    async def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        chosen = None if ids is None else [i for i in dict.fromkeys(ids) if _STREAM_ID.match(i)]
        if chosen == []:
            return 0  # none asked for (or none that can exist): not "all"
        steps = self.priority_steps.steps
        keys = [self.keys.dead(queue), *(self.keys.stream(queue, s) for s in steps)]
        args: list[Any] = [len(steps), *steps, 10_000, *(chosen or ())]
        (moved,) = await self._run([("requeue", keys, args)])
        return int(moved)

    async def purge(self, queue: str) -> int:
        steps = self.priority_steps.steps
        keys = [self.keys.delayed(queue), self.keys.delayed_data(queue)]
        keys += [self.keys.stream(queue, step) for step in steps]
        (removed,) = await self._run([("purge", keys, [GROUP])])
        return int(removed)

    async def store_result(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None:
        await self._apply(self._result_plan(task_id, state, data, ttl))

    async def get_result(self, task_id: str) -> bytes | None:
        async with self._errors():
            data: bytes | None = await self._redis.hget(self.keys.result(task_id), "d")
            return data

    async def get_results(self, task_ids: Sequence[str]) -> list[bytes | None]:
        async with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            for task_id in task_ids:
                pipe.hget(self.keys.result(task_id), "d")
            found: list[bytes | None] = await pipe.execute()
            return found

    async def get_state(self, task_id: str) -> str | None:
        async with self._errors():
            state = await self._redis.hget(self.keys.result(task_id), "s")
        return None if state is None else text(state)

    async def wait_result(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None:
        key = self.keys.result(task_id)
        client = self._loop_client()
        async with self._errors():
            await client.ready()
            return await client.waiter.wait(key, timeout, previous)

    # -- recovery and liveness ------------------------------------------------------------

    async def heartbeat(
        self, consumer: str, queues: Sequence[str], holding: Sequence[Delivery], ttl: float
    ) -> list[Delivery]:
        held: dict[tuple[str, int], dict[str, Delivery]] = {}
        for delivery in holding:
            held.setdefault((delivery.queue, delivery.step), {})[delivery.tag] = delivery
        calls: list[Invocation] = []
        for queue in queues:
            keys, args = [self.keys.alive(queue)], [GROUP, consumer, int(ttl * MS)]
            for step in self.priority_steps.steps:
                tags = list(held.get((queue, step), ()))
                keys.append(self.keys.stream(queue, step))
                args += [len(tags), *tags]
            calls.append(("heartbeat", keys, args))
        replies = await self._run(calls)
        lost = {text(tag) for reply in replies for tag in reply}
        return [d for d in holding if d.tag in lost]

    async def reclaim(
        self, queues: Sequence[str], consumer: str, count: int, recovery: Recovery
    ) -> tuple[list[Delivery], int]:
        taken: list[Delivery] = []
        dead = 0
        for queue in queues:
            if len(taken) >= count:
                break
            steps = self.priority_steps.descending
            keys = [self.keys.alive(queue), self.keys.dead(queue), self.keys.wake(queue)]
            keys += [self.keys.stream(queue, step) for step in steps]
            args = [GROUP, consumer, count - len(taken), int(recovery.window * MS)]
            args += [recovery.max_deliveries, int(recovery.grace * MS), len(steps), *steps]
            (reply,) = await self._run([("reclaim", keys, args)])
            dead += int(reply[0])
            taken += self._parse_fetch(reply[1:], keys, width=4)
        return taken, dead

    async def count_start(self, delivery: Delivery) -> int:
        async with self._errors():
            count: int = await self._redis.hincrby(
                self.keys.starts(delivery.queue), delivery.tag, 1
            )
            return count

    async def revoke(self, task_ids: Sequence[str], ttl: float) -> list[str]:
        steps = self.priority_steps.steps
        head = [self.keys.prefix, int(ttl * MS), self.keys.control()]
        mode = "note" if self.cluster else "all"
        revoked = self.keys.revoked()
        (found,) = await self._run(
            [("revoke", [revoked], [mode, *head, "", len(steps), *steps, *task_ids])]
        )
        if not self.cluster:
            return [text(where) for where in found]
        # a Cluster: then take each task out of its queue, on that queue's slot
        async with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            for task_id in task_ids:
                pipe.hget(self.keys.result(task_id), "q")
            queues = [None if q is None else text(q) for q in await pipe.execute()]
        by_queue: dict[str, list[str]] = {}
        for task_id, queue in zip(task_ids, queues, strict=True):
            if queue is not None:
                by_queue.setdefault(queue, []).append(task_id)
        calls: list[Invocation] = [
            ("revoke", [self.keys.waiting(q)], ["take", *head, q, len(steps), *steps, *ids])
            for q, ids in by_queue.items()
        ]
        where = {
            task_id: text(place)
            for (_, _, args), places in zip(calls, await self._run(calls), strict=True)
            for task_id, place in zip(args[6 + len(steps) :], places, strict=True)
        }
        return [where.get(task_id, "") for task_id in task_ids]

    async def revoked(self) -> set[str]:
        async with self._errors():
            seconds, micros = await self._redis.time()
            now_ms = seconds * MS + micros // MS
            ids = await self._redis.zrangebyscore(self.keys.revoked(), now_ms, "+inf")
        return {text(i) for i in ids}

    async def listen_control(
        self, on_message: Callable[[bytes], None], subscribed: Callable[[], None] | None = None
    ) -> None:
        async with self._errors():
            pubsub = (await self._loop_client().ready()).pubsub()
        try:
            async with self._errors():
                await pubsub.subscribe(self.keys.control())
                while True:  # short waits: a silent channel must not look like a dead socket
                    message = await pubsub.get_message(timeout=5)
                    if message is None:
                        continue
                    if message["type"] == "message":
                        on_message(message["data"])
                    elif message["type"] == "subscribe" and subscribed is not None:
                        subscribed()  # confirmed by Redis: later messages reach us
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()

    async def publish_control(self, message: bytes) -> int:
        async with self._errors():
            heard: int = await self._redis.publish(self.keys.control(), message)
        return -1 if self.cluster else heard  # a Cluster node counts only its own clients

    async def reply(self, request_id: str, data: bytes, ttl: float) -> None:
        key = self.keys.reply(request_id)
        async with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            pipe.rpush(key, data)
            pipe.pexpire(key, max(1, int(ttl * MS)))
            await pipe.execute()

    async def replies(self, request_id: str, expected: int | None, timeout: float) -> list[bytes]:
        key = self.keys.reply(request_id)
        found: list[bytes] = []
        deadline = time.monotonic() + timeout
        async with self._errors():
            while expected is None or len(found) < expected:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                popped = await self._redis.blpop([key], timeout=max(remaining, 0.01))
                if popped is not None:
                    found.append(popped[1])
            await self._redis.delete(key)
        return found

    async def announce(self, consumer: str, info: bytes, ttl: float) -> None:
        keys = [self.keys.workers(), self.keys.worker(consumer)]
        await self._run([("worker", keys, ["up", consumer, int(ttl * MS), info])])

    async def withdraw(self, consumer: str) -> None:
        keys = [self.keys.workers(), self.keys.worker(consumer)]
        await self._run([("worker", keys, ["down", consumer, 0, b""])])

    async def workers(self) -> list[bytes]:
        async with self._errors():
            seconds, micros = await self._redis.time()
            now_ms = seconds * MS + micros // MS
            names = await self._redis.zrangebyscore(self.keys.workers(), now_ms, "+inf")
            if not names:
                return []
            found = await self._redis.mget([self.keys.worker(text(n)) for n in names])
        return [info for info in found if info is not None]

    async def stats(self, queue: str) -> QueueStats:
        async with self._errors():
            pipe = self._stats_pipeline(self._redis.pipeline(transaction=False), queue)
            return stats_from(await pipe.execute(raise_on_error=False))

    async def list_tasks(self, queue: str, place: str, limit: int) -> list[Listed]:
        async with self._errors():
            return await list_tasks(
                self._redis, self.keys, self.priority_steps, queue=queue, place=place, limit=limit
            )

    async def inspect_task(self, task_id: str) -> TaskView | None:
        async with self._errors():
            return await inspect_task(self._redis, self.keys, self.priority_steps, task_id)

    # -- task events --------------------------------------------------------------------

    async def publish_events(self, events: Sequence[bytes]) -> None:
        if events:
            async with self._errors():
                await _redis_events.publish(self._redis, self.keys.events(), events)

    async def read_events(self, after: str, count: int, timeout: float) -> list[tuple[str, bytes]]:
        if after != "$":
            event_id_key(after)  # a clear error for a malformed id, before Redis's
        block = self._longest_block_ms(math.ceil(timeout * MS)) if timeout > 0 else None
        async with self._errors():
            return await _redis_events.read(self._redis, self.keys.events(), after, count, block)

    async def last_event_id(self) -> str:
        async with self._errors():
            return await _redis_events.last_id(self._redis, self.keys.events())

    async def aclose(self) -> None:
        """Close this event loop's connections (other loops' stay open)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def sync(self) -> RedisSyncBroker:
        if self._sync is None:
            self._sync = RedisSyncBroker(
                self.url,
                prefix=self.keys.prefix,
                priority_steps=self.priority_steps.steps,
                client_options=self._options,
            )
        return self._sync
