"""`current_task()`: what a running task can know about its own call, and the worker's
resources (from its lifespan); the middleware that runs around every task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import CeleriacError
from .message import TaskMessage

__all__ = ["Middleware", "TaskContext", "current_task"]

T = TypeVar("T")


@dataclass(frozen=True)
class TaskContext:
    """The call being run: its message (id, args, retries, headers...) and worker."""

    message: TaskMessage
    worker: str
    _revoked: Callable[[str], bool] = field(default=lambda _: False, repr=False)
    _resources: Any = field(default=None, repr=False)
    # ids of the tasks this one sent while it ran (kept in its result: Celery's children)
    children: list[str] = field(default_factory=list, repr=False)

    def resources(self, kind: type[T]) -> T:
        """What the worker's lifespan yielded, checked to be a ``kind``: typed access for
        the task (``db = current_task().resources(Resources).db``)."""
        if isinstance(self._resources, kind):
            return self._resources
        if self._resources is None:
            raise CeleriacError(
                f"task {self.name!r} asked for {kind.__name__} resources, but this worker has "
                "no lifespan (App(lifespan=...) or Worker(lifespan=...)); tasks in the "
                "process pool never have them"
            )
        raise CeleriacError(
            f"task {self.name!r} asked for {kind.__name__} resources, but the worker's "
            f"lifespan yielded a {type(self._resources).__name__}"
        )

    @property
    def revoked(self) -> bool:
        """Whether this task was revoked while it runs: plain functions in the thread
        pool cannot be stopped, and may check this to stop themselves."""
        return self._revoked(self.message.id)

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def name(self) -> str:
        return self.message.name

    @property
    def retries(self) -> int:
        return self.message.retries

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.message.headers)


# around every task run: ``async def mw(ctx, call_next): ... return await call_next()``
Middleware = Callable[[TaskContext, Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def through(
    middleware: tuple[Middleware, ...], ctx: TaskContext, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Run ``call`` inside each middleware, the first one outermost."""

    async def step(index: int) -> Any:
        if index == len(middleware):
            return await call()
        return await middleware[index](ctx, lambda: step(index + 1))

    return await step(0)


_current: ContextVar[TaskContext] = ContextVar("celeriac_current_task")


def current_task() -> TaskContext:
    """The context of the task running in this coroutine or thread."""
    try:
        return _current.get()
    except LookupError:
        raise CeleriacError("current_task() was called outside of a running task") from None
