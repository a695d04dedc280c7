"""`Observer`: hooks a worker calls as messages arrive and end, for code built on the
core (the Celery façade sends its worker signals from them). The default does nothing.

They run on the worker's event loop: keep them quick, and they must not raise (an
exception is logged and ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import DependencyFailed
from ..logs import worker_logger as logger
from ..message import TaskMessage
from ..result import ExceptionInfo

__all__ = ["Observer", "observing"]


class Observer:
    """Subclass and override what you need; pass it as ``Worker(observer=...)``."""

    def received(self, message: TaskMessage) -> None:
        """A message for a known task was taken from its queue."""

    def unknown(self, message: TaskMessage, error: Exception) -> None:
        """A message named a task not registered here (it goes to the dead letters)."""

    def revoked(self, message: TaskMessage, *, terminated: bool, expired: bool) -> None:
        """A task was revoked (``terminated``: while running) or expired."""

    def failed_outside(self, message: TaskMessage, error: BaseException) -> None:
        """A task failed from outside its own code (its hard time limit stopped it, or
        the process running it died): ``error`` is what its result holds."""

    def dependency_failed(
        self, message: TaskMessage, error: DependencyFailed
    ) -> ExceptionInfo | None:
        """A task will not run because a task it waited for did not succeed. Returns
        the error to record for it instead of ``error`` (None keeps ``error``)."""
        return None

    def stopping(self, signal_name: str, *, cold: bool) -> None:
        """The worker got a stop signal (``SIGTERM``...): ``cold`` when it stops at once."""


def observing(hook: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Call an observer's hook; its failure is logged, never the worker's."""
    try:
        hook(*args, **kwargs)
    except Exception:
        logger.exception("Worker observer %r raised", hook)
