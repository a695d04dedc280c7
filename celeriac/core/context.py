"""`current_task()`: what a running task can know about its own call."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .errors import CeleriacError
from .message import TaskMessage

__all__ = ["TaskContext", "current_task"]


@dataclass(frozen=True)
class TaskContext:
    """The call being run: its message (id, args, retries, headers...) and worker."""

    message: TaskMessage
    worker: str
    _revoked: Callable[[str], bool] = field(default=lambda _: False, repr=False)

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


_current: ContextVar[TaskContext] = ContextVar("celeriac_current_task")


def current_task() -> TaskContext:
    """The context of the task running in this coroutine or thread."""
    try:
        return _current.get()
    except LookupError:
        raise CeleriacError("current_task() was called outside of a running task") from None
