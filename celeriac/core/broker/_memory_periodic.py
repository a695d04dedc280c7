"""`MemoryPeriodic`: periodic entries and their state inside a `MemoryBroker`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .periodic import FIRED, Tick

if TYPE_CHECKING:
    from .memory import MemoryBroker

__all__ = ["MemoryPeriodic"]


class MemoryPeriodic:
    """The :class:`~.periodic.PeriodicStore` of a :class:`MemoryBroker` (its lock guards
    this state too)."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self._entries: dict[str, bytes] = {}
        self._state: dict[tuple[str, str], int] = {}  # (queue, entry) -> last tick (ms)

    async def entries(self) -> dict[str, bytes]:
        with self._broker._lock:
            return dict(self._entries)

    async def put(self, name: str, data: bytes, queue: str) -> None:
        with self._broker._lock:
            self._state[queue, name] = _now_ms()
            self._entries[name] = data

    async def remove(self, name: str) -> bytes | None:
        with self._broker._lock:
            return self._entries.pop(name, None)

    async def forget(self, queue: str, name: str) -> None:
        with self._broker._lock:
            self._state.pop((queue, name), None)

    async def state(self, entries: Sequence[tuple[str, str]]) -> tuple[int, list[int]]:
        now_ms = _now_ms()
        with self._broker._lock:
            return now_ms, [self._state.setdefault(entry, now_ms) for entry in entries]

    async def fire(self, ticks: Sequence[Tick]) -> list[str | None]:
        with self._broker._lock:
            return [self._fire_locked(tick) for tick in ticks]

    def _fire_locked(self, tick: Tick) -> str | None:
        key = (tick.queue, tick.entry)
        last = self._state.get(key)
        if last is not None and last >= tick.at:
            return FIRED if tick.item is not None else None
        self._state[key] = tick.at
        return None if tick.item is None else self._broker._send_locked(tick.item)


def _now_ms() -> int:
    return int(time.time() * 1000)
