"""`RedisBroker`: queues as Redis Streams with a consumer group, results as keys.

Every multi-step change is one Lua script (``lua/``); key names come from
:mod:`celeriac.core.keys`. The async client is made per event loop; the sync twin
(:class:`RedisSyncBroker`) shares the layout and scripts, with its own thread-safe pool.
A single server, a Sentinel-watched master or a Cluster (see ``_connect.py``); what a
Cluster changes is in ``_cluster.py``.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from redis.exceptions import NoScriptError

from ..errors import BrokerError
from ..keys import GROUP, MESSAGE_FIELD
from ._cluster import QueueReaders, commit_steps
from ._connect import aclose_client, async_client
from ._lua import MS, SCRIPTS, Commit, fetch_args
from ._pubsub import AsyncResultWaiter
from ._redis_base import (
    REDIS_ERRORS,
    Invocation,
    RedisBase,
    commit_calls,
    dead_letter_from,
    safe_url,
    stats_from,
)
from ._redis_inspect import inspect_task, list_tasks
from .base import (
    Completion,
    DeadLetter,
    Delivery,
    Listed,
    Outgoing,
    QueueStats,
    Recovery,
    TaskView,
)
from .redis_sync import RedisSyncBroker

__all__ = ["RedisBroker", "RedisSyncBroker", "safe_url"]

_STREAM_ID = re.compile(r"\d+-\d+\Z")
_MESSAGE_NAMES = (MESSAGE_FIELD.encode(), MESSAGE_FIELD)  # the field, as either protocol gives it
POKE_SLACK_MS = 250  # how long past a due time a read blocks if its wake-up token is lost


class RedisBroker(RedisBase):
    """Async broker on Redis (>= 6.2). ``url`` as redis-py takes it; ``client_options``
    go to redis-py's client."""

    def _setup(self) -> None:
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient]
        self._clients = weakref.WeakKeyDictionary()
        self._turn = 0
        self._sync: RedisSyncBroker | None = None

    def __repr__(self) -> str:
        return f"RedisBroker({safe_url(self.url)!r}, prefix={self.keys.prefix!r})"

    def _loop_client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            redis_client = async_client(self.endpoint, self._options)
            client = self._clients[loop] = _LoopClient(redis_client, self._read_queue)
        return client

    @property
    def _redis(self) -> Any:  # redis-py's replies are loosely typed
        return self._loop_client().redis

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        try:
            if self.cluster:  # learn the nodes once, before concurrent first calls race
                await self._loop_client().ready()
            yield
        except REDIS_ERRORS as exc:
            raise self._broker_error(exc) from exc

    async def _run(self, invocations: Sequence[Invocation]) -> list[Any]:
        """Run script calls in one round trip (a pipeline only when there are several;
        on a Cluster, which pipelines no scripts, all at once)."""
        async with self._errors():
            if len(invocations) == 1:
                return [await self._call(*invocations[0])]
            if self.cluster:
                return list(await asyncio.gather(*(self._call(*i) for i in invocations)))
            pipe = self._redis.pipeline(transaction=False)
            for name, keys, args in invocations:
                pipe.evalsha(SCRIPTS[name].sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            for i, res in enumerate(results):
                if isinstance(res, NoScriptError):  # only that call did not run: run it again
                    results[i] = await self._call(*invocations[i])
                elif isinstance(res, Exception):
                    raise res
            return results

    async def _call(self, name: str, keys: list[str], args: Sequence[Any]) -> Any:
        """One script call; reloads the script when Redis has forgotten it (restart, flush)."""
        script = SCRIPTS[name]
        try:
            return await self._redis.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._redis.script_load(script.source)
            return await self._redis.evalsha(script.sha, len(keys), *keys, *args)

    async def _apply(self, commit: Commit) -> None:
        """Run a commit: its calls in order, or on a Cluster its steps one after another."""
        if not self.cluster:
            commit.absorb(await self._run(commit_calls(commit)))
            return
        steps = commit_steps(commit)
        replies: list[Any] | None = None
        while True:
            try:
                calls = steps.send(replies)  # type: ignore[arg-type]  # None starts it
            except StopIteration:
                return
            replies = await self._run(calls)

    async def send(self, items: Sequence[Outgoing]) -> dict[str, str]:
        commit = self._send_plan(items)
        await self._apply(commit)
        return commit.existing

    async def fetch(
        self, queues: Sequence[str], consumer: str, count: int, timeout: float, strict: bool = False
    ) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            order = self._serving_order(queues, strict)
            deliveries, wait_ms = await self._fetch_now(order, consumer, count, strict)
            remaining_ms = int((deadline - time.monotonic()) * MS)
            if deliveries or remaining_ms <= 0:
                return deliveries
            if wait_ms == 0:
                continue  # due now: fetch.lua promotes it on the next turn
            due_soon = 0 < wait_ms < remaining_ms
            block = self._longest_block_ms(wait_ms + POKE_SLACK_MS if due_soon else remaining_ms)
            if self.cluster:
                readers = self._loop_client().readers
                longest = self._longest_block_ms(remaining_ms)
                wait = wait_ms if due_soon else longest
                deliveries = await readers.wait(order, consumer, count, longest, wait)
            elif due_soon:
                deliveries = await self._read_until_due(order, consumer, block, wait_ms)
            else:
                deliveries = await self._blocking_read(self._read_keys(order), consumer, block)
            if deliveries:
                return deliveries

    async def _fetch_now(
        self, order: Sequence[str], consumer: str, count: int, strict: bool
    ) -> tuple[list[Delivery], int]:
        """Promote due delays and claim up to ``count`` messages without waiting; also
        the milliseconds until the next delay is due (-1: none).

        One fetch.lua call for all queues. On a Cluster, one per queue: strict serving
        asks them in order; fair serving asks every queue for its share at once, then
        the queues that had that many for the rest, in order.
        """
        if not self.cluster or len(order) == 1:
            return await self._fetch_one(order, consumer, count, strict)
        kept = self._loop_client().readers.take(consumer, count)
        if kept:
            return kept, -1
        out: list[Delivery] = []
        if strict:
            waits = []
            for queue in order:
                got, wait_ms = await self._fetch_one([queue], consumer, count - len(out))
                out += got
                waits.append(wait_ms)
                if len(out) >= count:
                    break
            return out, _earliest(waits)
        share = -(-count // len(order))
        calls = [self._fetch_call([queue], consumer, share, False) for queue in order]
        replies = await self._run(calls)
        firsts = [
            self._fetch_reply(reply, call[1]) for reply, call in zip(replies, calls, strict=True)
        ]
        out = [delivery for got, _ in firsts for delivery in got]
        for queue, (got, _) in zip(order, firsts, strict=True):
            if len(out) >= count:
                break
            if len(got) == share:  # it may have more
                more, _ = await self._fetch_one([queue], consumer, count - len(out))
                out += more
        return out, _earliest([wait_ms for _, wait_ms in firsts])

    async def _fetch_one(
        self, queues: Sequence[str], consumer: str, count: int, strict: bool = False
    ) -> tuple[list[Delivery], int]:
        call = self._fetch_call(queues, consumer, count, strict)
        (reply,) = await self._run([call])
        return self._fetch_reply(reply, call[1])

    def _fetch_call(
        self, queues: Sequence[str], consumer: str, count: int, strict: bool
    ) -> Invocation:
        keys, args = fetch_args(
            self.keys,
            queues=queues,
            steps=self.priority_steps,
            consumer=consumer,
            count=count,
            strict=strict,
        )
        return "fetch", keys, args

    def _fetch_reply(self, reply: Any, keys: Sequence[str]) -> tuple[list[Delivery], int]:
        return self._parse_fetch(reply[1:], keys), int(reply[0])

    def _read_keys(self, queues: Sequence[str]) -> list[str]:
        """The streams a blocking read waits on: each queue's wake and message streams."""
        keys: list[str] = []
        for queue in queues:
            keys.append(self.keys.wake(queue))
            keys += [self.keys.stream(queue, step) for step in self.priority_steps.descending]
        return keys

    async def _read_queue(self, queue: str, consumer: str, block_ms: int) -> list[Delivery]:
        return await self._blocking_read(self._read_keys([queue]), consumer, block_ms)

    async def _read_until_due(
        self, queues: Sequence[str], consumer: str, block_ms: int, due_ms: int
    ) -> list[Delivery]:
        """Block until a message arrives or a delayed one is due, whichever comes first.

        Redis ends a BLOCK on its own clock tick (10 a second by default), so a read
        meant to end at a due time could end up to 100 ms late. Instead, a timer here
        adds a wake token at the due time, which ends the read at once.
        """
        out: list[Delivery] = []

        async def read() -> None:
            out.extend(await self._blocking_read(self._read_keys(queues), consumer, block_ms))
            tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await anyio.sleep(due_ms / MS)
            await self._poke(queues)
        return out

    async def _poke(self, queues: Sequence[str]) -> None:
        async with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            for queue in queues:
                pipe.xadd(self.keys.wake(queue), {"w": "1"}, maxlen=16, approximate=True)
            await pipe.execute()

    async def _blocking_read(
        self, keys: Sequence[str], consumer: str, block_ms: int
    ) -> list[Delivery]:
        """Wait in XREADGROUP on the message streams and wake streams of these queues.

        A message is claimed as it arrives (no second round trip); a wake token (a new
        earliest delay) just ends the wait, and the next fetch.lua acknowledges it.
        """
        streams = dict.fromkeys(keys, ">")
        try:
            async with self._errors():
                reply = await self._redis.xreadgroup(
                    GROUP, consumer, streams, count=1, block=block_ms
                )
        except BrokerError as exc:
            if "NOGROUP" in str(exc):  # a group was lost (Redis restarted): fetch.lua remakes it
                return []
            raise
        return [
            self._delivery(key, entry_id, fields)
            for key, entries in _stream_entries(reply)
            if not key.endswith(":wake")
            for entry_id, fields in entries
        ]

    def _serving_order(self, queues: Sequence[str], strict: bool) -> list[str]:
        if strict or len(queues) < 2:
            return list(queues)
        self._turn = (self._turn + 1) % len(queues)
        return [*queues[self._turn :], *queues[: self._turn]]

    def _parse_fetch(
        self, flat: Sequence[Any], keys: Sequence[str], width: int = 3
    ) -> list[Delivery]:
        """Messages as fetch.lua (width 3) or reclaim.lua (width 4, with a delivery
        count) list them: key index, entry id, field list[, deliveries]."""
        out = []
        places: dict[Any, tuple[str, int]] = {}  # key index -> queue and step
        for i in range(0, len(flat), width):
            place = places.get(flat[i])
            if place is None:
                place = places[flat[i]] = self._place(keys[int(flat[i]) - 1])
            deliveries = int(flat[i + 3]) if width == 4 else 1
            out.append(self._make_delivery(place, flat[i + 1], flat[i + 2], deliveries))
        return out

    def _place(self, key: str) -> tuple[str, int]:
        """The queue and priority step of a message stream's key."""
        return self.keys.queue_of(key), int(key.rsplit(":", 1)[1])

    def _delivery(
        self, key: str, entry_id: bytes | str, fields: Mapping[Any, Any], deliveries: int = 1
    ) -> Delivery:
        flat = [part for pair in fields.items() for part in pair]
        return self._make_delivery(self._place(key), entry_id, flat, deliveries)

    def _make_delivery(
        self, place: tuple[str, int], entry_id: bytes | str, fields: Sequence[Any], deliveries: int
    ) -> Delivery:
        """A delivery from a stream entry's fields (name, value, name, value...)."""
        tag = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        if len(fields) == 2 and fields[0] in _MESSAGE_NAMES:  # what celeriac writes
            return Delivery(place[0], place[1], tag, fields[1], {}, deliveries)
        named = {
            (name.decode() if isinstance(name, bytes) else name): value
            for name, value in zip(fields[::2], fields[1::2], strict=True)
        }
        data = named.get(MESSAGE_FIELD)
        raw = named if data is None else {k: v for k, v in named.items() if k != MESSAGE_FIELD}
        return Delivery(place[0], place[1], tag, data, raw, deliveries)

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
        return None if state is None else _text(state)

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
        lost = {_text(tag) for reply in replies for tag in reply}
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
            return [_text(where) for where in found]
        # a Cluster: then take each task out of its queue, on that queue's slot
        async with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            for task_id in task_ids:
                pipe.hget(self.keys.result(task_id), "q")
            queues = [None if q is None else _text(q) for q in await pipe.execute()]
        by_queue: dict[str, list[str]] = {}
        for task_id, queue in zip(task_ids, queues, strict=True):
            if queue is not None:
                by_queue.setdefault(queue, []).append(task_id)
        calls: list[Invocation] = [
            ("revoke", [self.keys.waiting(q)], ["take", *head, q, len(steps), *steps, *ids])
            for q, ids in by_queue.items()
        ]
        where = {
            task_id: _text(place)
            for (_, _, args), places in zip(calls, await self._run(calls), strict=True)
            for task_id, place in zip(args[6 + len(steps) :], places, strict=True)
        }
        return [where.get(task_id, "") for task_id in task_ids]

    async def revoked(self) -> set[str]:
        async with self._errors():
            seconds, micros = await self._redis.time()
            now_ms = seconds * MS + micros // MS
            ids = await self._redis.zrangebyscore(self.keys.revoked(), now_ms, "+inf")
        return {_text(i) for i in ids}

    async def listen_control(self, on_message: Callable[[bytes], None]) -> None:
        async with self._errors():
            pubsub = (await self._loop_client().ready()).pubsub()
        try:
            async with self._errors():
                await pubsub.subscribe(self.keys.control())
                while True:  # short waits: a silent channel must not look like a dead socket
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is not None and message["type"] == "message":
                        on_message(message["data"])
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()

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
            found = await self._redis.mget([self.keys.worker(_text(n)) for n in names])
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


class _LoopClient:
    """One event loop's Redis client, its result waiter and (Cluster) queue readers."""

    def __init__(self, client: Any, read: Callable[[str, str, int], Any]) -> None:
        self.redis: Any = client
        self.waiter = AsyncResultWaiter(client)
        self.readers = QueueReaders(read)
        self._ready = not hasattr(client, "initialize")
        self._initializing = asyncio.Lock()

    async def ready(self) -> Any:
        """The client, once it knows the Cluster's nodes (pub/sub needs that first)."""
        if not self._ready:
            async with self._initializing:
                if not self._ready:
                    await self.redis.initialize()
                    self._ready = True
        return self.redis

    async def aclose(self) -> None:
        await self.readers.aclose()
        await self.waiter.aclose()
        await aclose_client(self.redis)


def _earliest(waits: Sequence[int]) -> int:
    """The soonest of several fetch.lua waits (-1: nothing delayed)."""
    due = [wait for wait in waits if wait >= 0]
    return min(due) if due else -1


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_entries(reply: Any) -> list[tuple[str, list[Any]]]:
    """XREADGROUP's reply as (key, entries), whichever protocol the client speaks:
    RESP2 gives ``[[key, entries]]``, RESP3 ``{key: [entries]}``."""
    if not reply:
        return []
    if isinstance(reply, Mapping):
        pairs = [(key, value[0] if value else []) for key, value in reply.items()]
    else:
        pairs = [(key, entries) for key, entries in reply]
    return [(key.decode() if isinstance(key, bytes) else key, list(e)) for key, e in pairs]
