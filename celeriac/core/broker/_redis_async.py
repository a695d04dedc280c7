"""What `RedisBroker` is built on: a client per event loop, script calls (one round
trip; a Cluster's commits in steps), and taking messages: fetch.lua calls and the
blocking reads that wait for new ones."""

from __future__ import annotations

import asyncio
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
from ._redis_base import REDIS_ERRORS, Invocation, RedisBase, commit_calls, stream_entries
from .base import Delivery

__all__ = ["AsyncRedisBase"]

_MESSAGE_NAMES = (MESSAGE_FIELD.encode(), MESSAGE_FIELD)  # the field, as either protocol gives it
POKE_SLACK_MS = 250  # how long past a due time a read blocks if its wake-up token is lost


class AsyncRedisBase(RedisBase):
    """The async broker's client plumbing and fetching (see :class:`RedisBroker`)."""

    def _setup(self) -> None:
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient]
        self._clients = weakref.WeakKeyDictionary()
        self._turn = 0

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
        client = self._loop_client()
        try:
            return await client.redis.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.load_scripts()  # once, however many calls found them gone
            return await client.redis.evalsha(script.sha, len(keys), *keys, *args)

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
            for key, entries in stream_entries(reply)
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


class _LoopClient:
    """One event loop's Redis client, its result waiter and (Cluster) queue readers."""

    def __init__(self, client: Any, read: Callable[[str, str, int], Any]) -> None:
        self.redis: Any = client
        self.waiter = AsyncResultWaiter(client)
        self.readers = QueueReaders(read)
        self._ready = not hasattr(client, "initialize")
        self._initializing = asyncio.Lock()
        self._loading = asyncio.Lock()
        self._loads = 0  # how many times the scripts were loaded by this client

    async def ready(self) -> Any:
        """The client, once it knows the Cluster's nodes (pub/sub needs that first) and
        its primaries have the scripts: on a fresh Cluster, concurrent first calls
        would each load them on every primary at once, more connections than a node's
        pool holds."""
        if not self._ready:
            async with self._initializing:
                if not self._ready:
                    await self.redis.initialize()
                    await self.load_scripts()
                    self._ready = True
        return self.redis

    async def load_scripts(self) -> None:
        """Load every script (Redis forgot them: a restart, a flush, a new node): one
        caller loads them, those who found them gone meanwhile wait for it."""
        seen = self._loads
        async with self._loading:
            if self._loads != seen:  # loaded while this one waited
                return
            for script in SCRIPTS.values():
                await self.redis.script_load(script.source)
            self._loads += 1

    async def aclose(self) -> None:
        await self.readers.aclose()
        await self.waiter.aclose()
        await aclose_client(self.redis)


def _earliest(waits: Sequence[int]) -> int:
    """The soonest of several fetch.lua waits (-1: nothing delayed)."""
    due = [wait for wait in waits if wait >= 0]
    return min(due) if due else -1
