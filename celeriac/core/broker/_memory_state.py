"""The state behind `MemoryBroker`: streams, claims, delayed messages, and wake-ups
that work across threads (event-loop waiters are woken through their loop)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "Claim",
    "Delayed",
    "Result",
    "Stream",
    "Wakers",
    "counter",
    "loop_waker",
    "new_tag",
]

counter = itertools.count()


def new_tag() -> str:
    return f"{int(time.time() * 1000)}-{next(counter)}"


@dataclass
class Stream:
    entries: dict[str, bytes] = field(default_factory=dict)  # every live entry, by tag
    new: deque[str] = field(default_factory=deque)  # tags never delivered, oldest first
    pending: dict[str, Claim] = field(default_factory=dict)  # delivered tag -> its claim


@dataclass
class Claim:
    """Who holds a delivered message, how often it was delivered, since when (idle)."""

    consumer: str
    deliveries: int = 1
    since: float = field(default_factory=time.monotonic)


@dataclass
class Delayed:
    heap: list[tuple[float, int, str]] = field(default_factory=list)
    # member -> (due, step, data); a heap entry whose due differs is stale
    members: dict[str, tuple[float, int, bytes]] = field(default_factory=dict)


class Wakers:
    """Wakes waiters on any thread: event-loop waiters through their loop."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[Callable[[], None]]] = {}

    def add(self, key: str, wake: Callable[[], None]) -> None:
        self._by_key.setdefault(key, set()).add(wake)

    def discard(self, key: str, wake: Callable[[], None]) -> None:
        wakers = self._by_key.get(key)
        if wakers is not None:
            wakers.discard(wake)
            if not wakers:
                del self._by_key[key]

    def wake(self, key: str) -> None:
        for wake in list(self._by_key.get(key, ())):
            wake()


def loop_waker(event: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()

    def wake() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    return wake


@dataclass
class Result:
    """A task's record: its state, the encoded result (when there is one), where it
    was sent, and when the record expires (monotonic seconds; None: never)."""

    state: str
    data: bytes | None = None
    queue: str = ""
    name: str = ""
    expires: float | None = None

    def expired(self) -> bool:
        return self.expires is not None and self.expires <= time.monotonic()


class Locks:
    """Unique-task locks: lock -> (holder task id, expiry on the monotonic clock)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float | None]] = {}

    def claim(
        self, lock: str, task_id: str, ttl: float | None, alive: Callable[[str], bool]
    ) -> str | None:
        """Take ``lock`` for ``task_id`` and return None, or return the id of the other
        task that holds it and is still queued or running (``alive``)."""
        held = self._held.get(lock)
        now = time.monotonic()
        if held is not None:
            holder, expires = held
            if holder != task_id and (expires is None or expires > now) and alive(holder):
                return holder
        self._held[lock] = (task_id, now + ttl if ttl else None)
        return None

    def release(self, lock: str, task_id: str) -> None:
        if self._held.get(lock, ("",))[0] == task_id:
            del self._held[lock]
