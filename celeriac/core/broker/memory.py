"""`MemoryBroker`: the broker inside one process, for demos, tests and embedded use.

It keeps the same contract as `RedisBroker` (the shared test suite checks both): one
stream per priority step, owned deliveries until finish or nack, delayed messages,
dead letters and results with a TTL. All state sits behind one lock, so producers on
other threads (the sync twin) and workers on an event loop can share it.

``memory://`` names one broker per process; ``memory://<name>`` names others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import anyio

from ..errors import ConfigurationError
from . import _memory_events, _memory_fetch, _memory_inspect, _memory_recovery
from ._memory_events import EventLog
from ._memory_graph import FINAL, Graph
from ._memory_periodic import MemoryPeriodic
from ._memory_state import (
    Delayed,
    Locks,
    Result,
    Stream,
    Wakers,
    counter,
    loop_waker,
    new_tag,
)
from .base import (
    DEFAULT_PRIORITY_STEPS,
    RECENT_DONE,
    Completion,
    DeadLetter,
    Delivery,
    Listed,
    Outgoing,
    PrioritySteps,
    QueueStats,
    Recovery,
    TaskView,
)

if TYPE_CHECKING:
    from .memory_sync import MemorySyncBroker

__all__ = ["MemoryBroker"]

_named: dict[str, MemoryBroker] = {}
_named_lock = threading.Lock()


class MemoryBroker:
    """In-process broker with the same contract as :class:`RedisBroker`."""

    def __init__(self, *, priority_steps: Sequence[int] = DEFAULT_PRIORITY_STEPS) -> None:
        self.priority_steps = PrioritySteps(tuple(priority_steps))
        self._lock = threading.Lock()
        self._streams: dict[tuple[str, int], Stream] = {}
        self._delayed: dict[str, Delayed] = {}
        self._results: dict[str, Result] = {}
        self._graph = Graph()
        self._locks = Locks()
        self.periodic = MemoryPeriodic(self)
        self._done: dict[str, deque[str]] = {}  # queue -> recently finished ids, newest first
        self._dead: dict[str, dict[str, DeadLetter]] = {}
        self._alive: dict[str, dict[str, float]] = {}  # queue -> consumer -> deadline
        self._revoked: dict[str, float] = {}  # task id -> expiry (monotonic)
        self._listeners: list[Callable[[bytes], None]] = []
        self._replies: dict[str, list[bytes]] = {}  # control request id -> replies
        self._starts: dict[tuple[str, int, str], int] = {}  # redelivered message -> starts
        self._workers: dict[str, tuple[bytes, float]] = {}  # consumer -> (info, deadline)
        self._events = EventLog()
        self._wakers = Wakers()
        self._turn = 0

    @classmethod
    def named(
        cls, name: str = "", *, priority_steps: Sequence[int] = DEFAULT_PRIORITY_STEPS
    ) -> MemoryBroker:
        """The process-wide broker called ``name`` (what ``memory://name`` means)."""
        with _named_lock:
            broker = _named.get(name)
            if broker is None:
                broker = _named[name] = cls(priority_steps=priority_steps)
            elif broker.priority_steps.steps != tuple(priority_steps):
                raise ConfigurationError(
                    f"memory://{name} already exists with priority steps "
                    f"{broker.priority_steps.steps}; every user of it must use the same steps"
                )
            return broker

    def __repr__(self) -> str:
        return f"MemoryBroker(steps={self.priority_steps.steps})"

    # -- writing ------------------------------------------------------------------------

    def _stream(self, queue: str, step: int) -> Stream:
        stream = self._streams.get((queue, step))
        if stream is None:
            stream = self._streams[(queue, step)] = Stream()
        return stream

    def _append(self, queue: str, step: int, data: bytes) -> None:
        tag = new_tag()
        stream = self._stream(queue, step)
        stream.entries[tag] = data
        stream.new.append(tag)
        self._wakers.wake(f"q:{queue}")

    def _send_locked(self, item: Outgoing) -> str | None:
        """Send one message; for a unique task whose lock another holds, that holder's id
        instead (and nothing is sent)."""
        if item.unique:
            holder = self._locks.claim(
                item.unique, item.id, self._marker_ttl(item), self._task_alive
            )
            if holder is not None:
                return holder
        step = self.priority_steps.step_for(item.priority)
        self._mark_locked(item)
        if item.parents:
            self._graph.wait(item, step)
        else:
            self._place_locked(item, step)
        return None

    def _task_alive(self, task_id: str) -> bool:
        """Queued or running: its record exists and is not final, and it is not revoked."""
        state = self._state_locked(task_id)
        revoked = self._revoked.get(task_id, 0.0) > time.monotonic()
        return state is not None and state not in FINAL and not revoked

    @staticmethod
    def _marker_ttl(item: Outgoing) -> float | None:
        return item.result_ttl and item.result_ttl + max(0.0, (item.due or 0) - time.time())

    def _mark_locked(self, item: Outgoing) -> None:
        """The task is PENDING from now on, unless it already has a record."""
        if self._result_locked(item.id) is None:
            ttl = self._marker_ttl(item)
            expires = time.monotonic() + ttl if ttl else None
            self._results[item.id] = Result("PENDING", None, item.queue, item.name, expires)

    def _place_locked(self, item: Outgoing, step: int) -> None:
        """Into its stream, or its delayed set when due later."""
        if item.due is None or item.due <= time.time():
            self._append(item.queue, step, item.data)
            return
        delayed = self._delayed.setdefault(item.queue, Delayed())
        member = f"{step}:{item.id}"
        delayed.members[member] = (item.due, step, item.data)
        heapq.heappush(delayed.heap, (item.due, next(counter), member))
        self._wakers.wake(f"q:{item.queue}")  # a fetcher may now need to wake sooner

    def _ack_locked(self, delivery: Delivery) -> None:
        stream = self._stream(delivery.queue, delivery.step)
        stream.pending.pop(delivery.tag, None)
        stream.entries.pop(delivery.tag, None)
        self._starts.pop((delivery.queue, delivery.step, delivery.tag), None)

    def _store_locked(
        self, task_id: str, state: str, data: bytes | None, ttl: float | None
    ) -> None:
        expires = time.monotonic() + ttl if ttl else None
        previous = self._results.get(task_id)
        queue, name = (previous.queue, previous.name) if previous else ("", "")
        self._results[task_id] = Result(state, data, queue, name, expires)
        if data is not None:
            self._wakers.wake(f"r:{task_id}")
        if state in FINAL:
            for waiting in self._graph.release(task_id, state == "SUCCESS"):
                item = waiting.item
                if item.after_delay > 0:
                    item = dataclasses.replace(item, due=time.time() + item.after_delay)
                self._place_locked(item, waiting.step)

    async def send(self, items: Sequence[Outgoing]) -> dict[str, str]:
        return self.send_now(items)

    def send_now(self, items: Sequence[Outgoing]) -> dict[str, str]:
        existing: dict[str, str] = {}
        with self._lock:
            self._graph.check(items, self._state_locked)
            for item in items:
                holder = self._send_locked(item)
                if holder is not None:
                    existing[item.id] = holder
        return existing

    async def finish(self, items: Sequence[Completion]) -> None:
        with self._lock:
            for item in items:
                if item.state is not None and item.result_id is not None:
                    self._store_locked(item.result_id, item.state, item.result, item.result_ttl)
                    if item.unique and item.state in FINAL:
                        self._locks.release(item.unique, item.result_id)
                    if item.state in FINAL:
                        done = self._done.setdefault(item.delivery.queue, deque(maxlen=RECENT_DONE))
                        done.appendleft(item.result_id)
                if item.then is not None:
                    self._send_locked(item.then)
                self._ack_locked(item.delivery)

    async def nack(self, deliveries: Sequence[Delivery]) -> None:
        with self._lock:
            for delivery in deliveries:
                stream = self._stream(delivery.queue, delivery.step)
                data = stream.entries.get(delivery.tag)
                self._ack_locked(delivery)
                if data is not None:
                    self._append(delivery.queue, delivery.step, data)

    async def dead_letter(self, delivery: Delivery, reason: str, error: str) -> None:
        with self._lock:
            _memory_recovery.dead_letter(self, delivery, reason, error)

    async def dead_letters(self, queue: str, count: int = 100) -> list[DeadLetter]:
        return self.dead_letters_now(queue, count)

    def dead_letters_now(self, queue: str, count: int = 100) -> list[DeadLetter]:
        with self._lock:
            return list(self._dead.get(queue, {}).values())[:count]

    async def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        with self._lock:
            return _memory_recovery.requeue_dead(self, queue, ids)

    async def store_result(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None:
        self.store_result_now(task_id, state, data, ttl)

    def store_result_now(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None:
        with self._lock:
            self._store_locked(task_id, state, data, ttl)

    # -- reading ------------------------------------------------------------------------

    async def fetch(
        self, queues: Sequence[str], consumer: str, count: int, timeout: float, strict: bool = False
    ) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            event = asyncio.Event()
            wake = loop_waker(event)
            with self._lock:
                out, next_due = _memory_fetch.take(self, queues, consumer, count, strict)
                if out or timeout <= 0:
                    return out
                for queue in queues:
                    self._wakers.add(f"q:{queue}", wake)
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    return []
                with anyio.move_on_after(min(remaining, next_due or remaining)):
                    await event.wait()
            finally:
                with self._lock:
                    for queue in queues:
                        self._wakers.discard(f"q:{queue}", wake)

    def _result_locked(self, task_id: str) -> Result | None:
        found = self._results.get(task_id)
        if found is not None and found.expired():
            del self._results[task_id]
            return None
        return found

    def _state_locked(self, task_id: str) -> str | None:
        found = self._result_locked(task_id)
        return None if found is None else found.state

    async def get_result(self, task_id: str) -> bytes | None:
        return self.get_result_now(task_id)

    def forget_now(self, task_id: str) -> None:
        with self._lock:
            self._results.pop(task_id, None)

    def get_result_now(self, task_id: str) -> bytes | None:
        with self._lock:
            found = self._result_locked(task_id)
            return None if found is None else found.data

    async def get_results(self, task_ids: Sequence[str]) -> list[bytes | None]:
        return [self.get_result_now(task_id) for task_id in task_ids]

    async def get_state(self, task_id: str) -> str | None:
        return self.get_state_now(task_id)

    def get_state_now(self, task_id: str) -> str | None:
        with self._lock:
            return self._state_locked(task_id)

    async def wait_result(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            event = asyncio.Event()
            with self._registered(f"r:{task_id}", loop_waker(event)):
                data = self.get_result_now(task_id)
                if data is not None and data != previous:
                    return data
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                with anyio.move_on_after(remaining):
                    await event.wait()

    def wait_result_blocking(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            event = threading.Event()
            with self._registered(f"r:{task_id}", event.set):
                data = self.get_result_now(task_id)
                if data is not None and data != previous:
                    return data
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                event.wait(remaining)

    @contextmanager
    def _registered(self, key: str, wake: Callable[[], None]) -> Iterator[None]:
        with self._lock:
            self._wakers.add(key, wake)
        try:
            yield
        finally:
            with self._lock:
                self._wakers.discard(key, wake)

    # -- recovery and liveness ------------------------------------------------------------

    async def heartbeat(
        self, consumer: str, queues: Sequence[str], holding: Sequence[Delivery], ttl: float
    ) -> list[Delivery]:
        with self._lock:
            return _memory_recovery.heartbeat(self, consumer, queues, holding, ttl)

    async def reclaim(
        self, queues: Sequence[str], consumer: str, count: int, recovery: Recovery
    ) -> tuple[list[Delivery], int]:
        with self._lock:
            return _memory_recovery.reclaim(self, queues, consumer, count, recovery)

    async def count_start(self, delivery: Delivery) -> int:
        key = (delivery.queue, delivery.step, delivery.tag)
        with self._lock:
            self._starts[key] = self._starts.get(key, 0) + 1
            return self._starts[key]

    async def announce(self, consumer: str, info: bytes, ttl: float) -> None:
        with self._lock:
            self._workers[consumer] = (info, time.monotonic() + ttl)

    async def revoke(self, task_ids: Sequence[str], ttl: float) -> list[str]:
        with self._lock:
            now = time.monotonic()
            found = []
            for task_id in task_ids:
                self._revoked[task_id] = now + ttl
                found.append(_memory_recovery.take_out(self, task_id))
            listeners = list(self._listeners)
        message = ("revoke " + " ".join(task_ids)).encode()
        for listener in listeners:
            listener(message)
        return found

    async def revoked(self) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {task_id for task_id, expiry in self._revoked.items() if expiry > now}

    async def publish_control(self, message: bytes) -> int:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(message)
        return len(listeners)

    async def reply(self, request_id: str, data: bytes, ttl: float) -> None:
        with self._lock:
            self._replies.setdefault(request_id, []).append(data)

    async def replies(self, request_id: str, expected: int | None, timeout: float) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = list(self._replies.get(request_id, ()))
            done = expected is not None and len(found) >= expected
            if done or time.monotonic() >= deadline:
                with self._lock:
                    self._replies.pop(request_id, None)
                return found[:expected] if expected is not None else found
            await anyio.sleep(0.01)

    async def listen_control(
        self, on_message: Callable[[bytes], None], subscribed: Callable[[], None] | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[bytes] = asyncio.Queue()

        def deliver(message: bytes) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(inbox.put_nowait, message)

        with self._lock:
            self._listeners.append(deliver)
        try:
            if subscribed is not None:
                subscribed()
            while True:
                on_message(await inbox.get())
        finally:
            with self._lock:
                self._listeners.remove(deliver)

    async def withdraw(self, consumer: str) -> None:
        with self._lock:
            self._workers.pop(consumer, None)

    async def workers(self) -> list[bytes]:
        now = time.monotonic()
        with self._lock:
            return [info for info, deadline in self._workers.values() if deadline > now]

    async def list_tasks(self, queue: str, place: str, limit: int) -> list[Listed]:
        with self._lock:
            return _memory_inspect.list_tasks(self, queue, place, limit)

    async def inspect_task(self, task_id: str) -> TaskView | None:
        with self._lock:
            return _memory_inspect.inspect_task(self, task_id)

    async def purge(self, queue: str) -> int:
        with self._lock:
            removed = 0
            for (name, _), stream in self._streams.items():
                if name != queue:
                    continue
                waiting = [tag for tag in stream.entries if tag not in stream.pending]
                for tag in waiting:
                    del stream.entries[tag]
                removed += len(waiting)
            delayed = self._delayed.pop(queue, None)
            return removed + (len(delayed.members) if delayed is not None else 0)

    async def stats(self, queue: str) -> QueueStats:
        return self.stats_now(queue)

    def stats_now(self, queue: str) -> QueueStats:
        with self._lock:
            streams = [s for (q, _), s in self._streams.items() if q == queue]
            delayed = self._delayed.get(queue)
            in_flight = sum(len(s.pending) for s in streams)
            return QueueStats(
                ready=sum(len(s.entries) for s in streams) - in_flight,
                in_flight=in_flight,
                delayed=len(delayed.members) if delayed else 0,
                dead=len(self._dead.get(queue, {})),
            )

    # -- task events ----------------------------------------------------------------------

    async def publish_events(self, events: Sequence[bytes]) -> None:
        with self._lock:
            self._events.append(events)
            self._wakers.wake(_memory_events.WAKE_KEY)

    async def read_events(self, after: str, count: int, timeout: float) -> list[tuple[str, bytes]]:
        return await _memory_events.read(self, after, count, timeout)

    async def last_event_id(self) -> str:
        with self._lock:
            return self._events.last_id

    async def aclose(self) -> None:
        """Nothing to close: the state lives as long as the process."""

    def sync(self) -> MemorySyncBroker:
        from .memory_sync import MemorySyncBroker

        return MemorySyncBroker(self)
