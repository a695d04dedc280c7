"""The in-process broker's task events stream: entry ids shaped like Redis's
(``<ms>-<seq>``, always increasing), the newest ``EVENTS_MAXLEN`` kept."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from ._memory_state import loop_waker
from .base import EVENTS_MAXLEN, event_id_key

if TYPE_CHECKING:
    from .memory import MemoryBroker

__all__ = ["WAKE_KEY", "EventLog", "read"]

Key = tuple[int, int]  # an entry id as (ms, seq), in the order Redis sorts them
WAKE_KEY = "events"  # what the broker's wakers call the readers waiting for events


async def read(
    broker: MemoryBroker, after: str, count: int, timeout: float
) -> list[tuple[str, bytes]]:
    """``read_events``: woken by the next publish (through the broker's wakers, from any
    thread), or back empty after ``timeout`` seconds."""
    with broker._lock:
        position = broker._events.position(after)
    deadline = time.monotonic() + timeout
    while True:
        event = asyncio.Event()
        with broker._registered(WAKE_KEY, loop_waker(event)):
            with broker._lock:
                found = broker._events.after(position, count)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            with anyio.move_on_after(remaining):
                await event.wait()


class EventLog:
    """Not locked: the broker calls it with its lock held (and wakes its readers)."""

    def __init__(self, maxlen: int = EVENTS_MAXLEN) -> None:
        self._entries: deque[tuple[Key, str, bytes]] = deque(maxlen=maxlen)
        self._last: Key = (0, 0)

    @property
    def last_id(self) -> str:
        """The newest id given out ("0-0" before the first)."""
        return _text(self._last)

    def append(self, events: Sequence[bytes]) -> None:
        for data in events:
            self._last = self._next_key()
            self._entries.append((self._last, _text(self._last), data))

    def _next_key(self) -> Key:
        """Like Redis: the time in ms, and a sequence within the same ms (or when the
        clock went back)."""
        now_ms = int(time.time() * 1000)
        last_ms, last_seq = self._last
        return (now_ms, 0) if now_ms > last_ms else (last_ms, last_seq + 1)

    def position(self, after: str) -> Key:
        """Where a read after ``after`` starts ("$": after the newest entry)."""
        return self._last if after == "$" else event_id_key(after)

    def after(self, position: Key, count: int) -> list[tuple[str, bytes]]:
        """Up to ``count`` entries whose id is above ``position``, oldest first."""
        start = bisect.bisect_right(self._entries, position, key=lambda entry: entry[0])
        chosen = itertools.islice(self._entries, start, start + count)
        return [(entry_id, data) for _, entry_id, data in chosen]


def _text(key: Key) -> str:
    return f"{key[0]}-{key[1]}"
