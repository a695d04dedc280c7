"""`MemorySyncBroker`: the blocking view of a `MemoryBroker`, for sync producers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import DeadLetter, Outgoing, QueueStats

if TYPE_CHECKING:
    from .memory import MemoryBroker

__all__ = ["MemorySyncBroker"]


class MemorySyncBroker:
    """Blocking view of a :class:`MemoryBroker` for sync producers; thread-safe."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self.priority_steps = broker.priority_steps

    def send(self, items: Sequence[Outgoing]) -> dict[str, str]:
        return self._broker.send_now(items)

    def store_result(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None:
        self._broker.store_result_now(task_id, state, data, ttl)

    def get_state(self, task_id: str) -> str | None:
        return self._broker.get_state_now(task_id)

    def get_result(self, task_id: str) -> bytes | None:
        return self._broker.get_result_now(task_id)

    def forget(self, task_id: str) -> None:
        self._broker.forget_now(task_id)

    def wait_result(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None:
        return self._broker.wait_result_blocking(task_id, timeout, previous)

    def stats(self, queue: str) -> QueueStats:
        return self._broker.stats_now(queue)

    def dead_letters(self, queue: str, count: int = 100) -> list[DeadLetter]:
        return self._broker.dead_letters_now(queue, count)

    def close(self) -> None:
        """Nothing to close."""
