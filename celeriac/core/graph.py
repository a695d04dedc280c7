"""Calls and pipelines: tasks that wait for others, and pass their results along.

``task.call(*args)`` plans a call without sending it. ``a.call(1) | b.call()`` (or
``.then()``) is a pipeline: each task waits for the one before and receives its result
as its first argument. For fan-in, send the parents, then a task with
``options(after=[...], pass_results="all")``: it receives their results as a list, in
the order given. The waiting happens in the broker, so it survives worker restarts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import DependencyError
from .handle import Handle, SyncHandle
from .message import TaskMessage

if TYPE_CHECKING:
    from .app import App
    from .task import Task

__all__ = ["PASS_RESULTS", "Call", "Pipeline", "check_cycles"]

PASS_RESULTS = ("first", "all")


@dataclass(frozen=True)
class Call:
    """A planned call of a task: its arguments and options, not sent yet."""

    task: Task[Any, Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def message(self) -> TaskMessage:
        return self.task.message(*self.args, **self.kwargs)

    def then(self, other: Call | Pipeline) -> Pipeline:
        return Pipeline((self,)).then(other)

    def __or__(self, other: Call | Pipeline) -> Pipeline:
        return self.then(other)

    async def enqueue(self) -> Handle[Any]:
        return await Pipeline((self,)).enqueue()

    def enqueue_sync(self) -> SyncHandle[Any]:
        return Pipeline((self,)).enqueue_sync()


@dataclass(frozen=True)
class Pipeline:
    """Calls run one after the other, each receiving the result of the one before."""

    calls: tuple[Call, ...]

    def then(self, other: Call | Pipeline) -> Pipeline:
        more = other.calls if isinstance(other, Pipeline) else (other,)
        return Pipeline((*self.calls, *more))

    def __or__(self, other: Call | Pipeline) -> Pipeline:
        return self.then(other)

    def messages(self) -> list[TaskMessage]:
        """The messages, each waiting for the one before (passing its result)."""
        out: list[TaskMessage] = []
        for call in self.calls:
            message = call.message()
            if out:
                parents = (*message.parents, out[-1].id)
                message = replace(message, parents=parents, pass_results="first")
            out.append(message)
        return out

    def _app(self) -> App:
        if not self.calls:
            raise DependencyError("an empty pipeline has nothing to run")
        return self.calls[0].task.app

    async def enqueue(self) -> Handle[Any]:
        """Send every call at once; a handle on the last one's result."""
        handles = await self._app().enqueue_many(self.messages())
        return handles[-1]

    def enqueue_sync(self) -> SyncHandle[Any]:
        handles = self._app().enqueue_many_sync(self.messages())
        return handles[-1]


def check_unique_parents(messages: Sequence[TaskMessage]) -> None:
    """A unique task may not be a parent of a task sent with it: if an instance is running
    already it is not sent, and its dependents would wait for nothing."""
    unique = {m.id for m in messages if m.unique}
    for m in messages:
        for parent in m.parents:
            if parent in unique:
                raise DependencyError(
                    f"task {m.name!r} waits for unique task {parent} sent in the same batch; "
                    "enqueue the unique task first and pass its handle as after="
                )


def check_cycles(messages: Sequence[TaskMessage]) -> None:
    """A batch may not contain a task that waits, directly or not, for itself.
    (Parents sent earlier cannot wait for tasks sent now: those did not exist.)"""
    parents = {m.id: m.parents for m in messages}
    finished: set[str] = set()
    for start in parents:
        if start not in finished:
            _walk(start, parents, finished)


def _walk(start: str, parents: Mapping[str, tuple[str, ...]], finished: set[str]) -> None:
    """Depth first from ``start`` without recursion (pipelines can be long)."""
    path = [start]
    on_path = {start}
    pending = [iter(parents[start])]
    while pending:
        parent = next(pending[-1], None)
        if parent is None:
            done = path.pop()
            on_path.discard(done)
            finished.add(done)
            pending.pop()
        elif parent in on_path:
            loop = " -> ".join([*path[path.index(parent) :], parent])
            raise DependencyError(f"tasks wait for each other in a cycle: {loop}")
        elif parent in parents and parent not in finished:
            path.append(parent)
            on_path.add(parent)
            pending.append(iter(parents[parent]))
