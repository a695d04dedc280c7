"""Tasks waiting for their parents, inside `MemoryBroker` (the same rules as the graph
in ``commit.lua``). Called with the broker's lock held."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import DependencyError
from .base import FINAL_STATES, Outgoing

__all__ = ["FINAL", "Graph", "Waiting"]

FINAL = FINAL_STATES  # as commit.lua's FINAL


@dataclass(frozen=True)
class Waiting:
    """A task waiting for its parents, ready to be sent when they are done."""

    item: Outgoing
    step: int


class Graph:
    def __init__(self) -> None:
        self.deps: dict[str, set[tuple[str, str]]] = {}  # parent -> {(queue, child)}
        self.waiting: dict[tuple[str, str], Waiting] = {}  # (queue, child) -> task
        self.parents: dict[tuple[str, str], set[str]] = {}  # (queue, child) -> parents left

    def check(self, items: Sequence[Outgoing], state_of: Callable[[str], str | None]) -> None:
        """Every parent must be sent in this batch, or known and not finished."""
        sent: set[str] = set()
        for item in items:
            sent.add(item.id)
            for parent in item.parents:
                if parent in sent:
                    continue
                state = state_of(parent)
                if state is None:
                    raise DependencyError(
                        f"unknown parent task {parent} (never sent, or its record expired)"
                    )
                if state in FINAL:
                    raise DependencyError(f"parent task {parent} already finished ({state})")

    def wait(self, item: Outgoing, step: int) -> None:
        key = (item.queue, item.id)
        self.waiting[key] = Waiting(item, step)
        self.parents.setdefault(key, set()).update(item.parents)
        for parent in item.parents:
            self.deps.setdefault(parent, set()).add(key)

    def withdraw(self, queue: str, task_id: str) -> bool:
        """Take a waiting task out (it was revoked); whether it was waiting."""
        self.parents.pop((queue, task_id), None)
        return self.waiting.pop((queue, task_id), None) is not None

    def release(self, parent: str, succeeded: bool) -> list[Waiting]:
        """``parent`` finished: the tasks now free to go (all parents succeeded, or one
        did not: they find out which when they run)."""
        free = []
        for key in self.deps.pop(parent, set()):
            left = self.parents.get(key, set())
            left.discard(parent)
            if succeeded and left:
                continue
            waiting = self.waiting.pop(key, None)
            self.parents.pop(key, None)
            if waiting is not None:
                free.append(waiting)
        return free
