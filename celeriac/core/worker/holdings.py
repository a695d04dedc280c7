"""`Holdings`: the messages a worker holds (fetched, not yet finished), for three uses:
how much room is left, which messages the heartbeat refreshes, and what to hand back
at shutdown.

A message is refreshed while it waits and while its task runs, until the task's time
limit plus a margin has passed: past that it is no longer defended, so after the
broker's visibility window another worker may take it over. That is the per-task
visibility window: the time limit, a margin, and the window.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..broker import Delivery

__all__ = ["LIMIT_MARGIN", "Holdings"]

LIMIT_MARGIN = 30.0  # seconds a task may overrun its hard limit before it is undefended


@dataclass
class _Held:
    delivery: Delivery
    defend_until: float | None = None  # monotonic time; None: for as long as it is held


class Holdings:
    def __init__(self) -> None:
        self._held: dict[tuple[str, int, str], _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    @staticmethod
    def _key(delivery: Delivery) -> tuple[str, int, str]:
        return delivery.queue, delivery.step, delivery.tag

    def add(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            self._held[self._key(delivery)] = _Held(delivery)

    def started(self, delivery: Delivery, limit: float | None) -> None:
        """The task of ``delivery`` started; with a hard ``limit`` it is defended until
        the limit plus a margin."""
        held = self._held.get(self._key(delivery))
        if held is not None and limit is not None:
            held.defend_until = time.monotonic() + limit + LIMIT_MARGIN

    def remove(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            self._held.pop(self._key(delivery), None)

    def holds(self, delivery: Delivery) -> bool:
        return self._key(delivery) in self._held

    def to_refresh(self) -> list[Delivery]:
        """The messages the heartbeat should keep for this worker."""
        now = time.monotonic()
        return [
            held.delivery
            for held in self._held.values()
            if held.defend_until is None or now < held.defend_until
        ]

    def all(self) -> list[Delivery]:
        return [held.delivery for held in self._held.values()]
