"""The core's exceptions, in one tree.

::

    CeleriacError
    ├── ConfigurationError        a setting, URL or key that cannot work
    ├── EncodeError               a message or result cannot be serialized
    ├── DecodeError               bytes cannot be turned back into a message or result
    │   ├── ContentDisallowed     the content type is not in the accept list
    │   └── SignatureError        unsigned, tampered, or signed with an unknown key
    ├── NotRegistered             no task of that name in this process
    ├── DependencyError           a task's parents cannot be waited for (unknown,
    │                             finished, or in a cycle)
    ├── BrokerError               the broker (Redis) cannot be reached or refused a command
    ├── ResultTimeout             a result did not arrive in time (also a TimeoutError)
    └── TaskError                 a task's failure as the caller sees it
        ├── RemoteTaskError       ... when its exception type cannot be rebuilt here
        ├── TaskRevoked           the task was revoked or expired before it ran
        ├── MaxRetriesExceeded    the task asked to retry once too often
        ├── TimeLimitExceeded     the task ran past its hard time limit and was stopped
        ├── DependencyFailed      a task it waited for did not succeed
        └── WorkerLostError       the process running the task died under it

`Retry`, `Ignore` and `Reject` are not errors: a task raises them to ask to run again
later, to end without a result, or to give its message back (or to the dead letters).
`SoftTimeLimitExceeded` is raised *inside* a task at its soft time limit; the task may
catch it to clean up.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BrokerError",
    "CeleriacError",
    "ConfigurationError",
    "ContentDisallowed",
    "DecodeError",
    "DependencyError",
    "DependencyFailed",
    "EncodeError",
    "Ignore",
    "MaxRetriesExceeded",
    "NotRegistered",
    "Reject",
    "RemoteTaskError",
    "ResultTimeout",
    "Retry",
    "SignatureError",
    "SoftTimeLimitExceeded",
    "TaskError",
    "TaskRevoked",
    "TimeLimitExceeded",
    "WorkerLostError",
]


class CeleriacError(Exception):
    """Base of every error the celeriac core raises."""


class ConfigurationError(CeleriacError):
    """A setting, URL or key that cannot work as given."""


class EncodeError(CeleriacError):
    """A message or result could not be serialized."""


class DecodeError(CeleriacError):
    """Bytes could not be turned back into a message or a result."""


class ContentDisallowed(DecodeError):
    """The payload's content type is not in the accept list."""


class SignatureError(DecodeError):
    """The payload is unsigned, tampered with, or signed with a key we do not hold."""


class NotRegistered(CeleriacError, KeyError):
    """No task is registered under that name in this process."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "task not registered"


class DependencyError(CeleriacError):
    """A task cannot wait for its parents: one is unknown or finished, or they form a cycle."""


class BrokerError(CeleriacError):
    """The broker could not be reached, or it refused a command."""


class ResultTimeout(CeleriacError, TimeoutError):
    """The result of a task did not arrive within the timeout."""


class TaskError(CeleriacError):
    """A task failed; raised to a caller that waits for its result."""


class RemoteTaskError(TaskError):
    """A task failed with an exception whose type is not importable in the caller."""

    def __init__(self, exc_type: str, message: str, traceback: str | None = None) -> None:
        super().__init__(f"{exc_type}: {message}" if message else exc_type)
        self.exc_type = exc_type
        self.message = message
        self.remote_traceback = traceback


class TaskRevoked(TaskError):
    """The task was revoked, or expired before a worker started it."""


class MaxRetriesExceeded(TaskError):
    """The task asked to retry after its last allowed try; the cause is its last error."""


class TimeLimitExceeded(TaskError):
    """The task ran past its hard time limit and was stopped."""


class DependencyFailed(TaskError):
    """A task did not run because a task it waited for did not succeed; that task's
    error is the cause. ``parent`` is its id and ``parent_state`` its state, when known;
    ``parent_error`` the stored error of that task (an ``ExceptionInfo``), if it has one."""

    def __init__(
        self, message: str = "", parent: str | None = None, parent_state: str | None = None
    ) -> None:
        super().__init__(message)
        self.parent = parent
        self.parent_state = parent_state
        self.parent_error: Any = None


class WorkerLostError(TaskError):
    """The process running the task died (a crash, a kill, memory) before it finished."""


class SoftTimeLimitExceeded(Exception):
    """Raised inside a task when it reaches its soft time limit; it may be caught."""


class Retry(Exception):
    """Raised by a task to be run again after ``delay`` seconds.

    With ``delay=None`` the task's retry policy picks the wait (backoff); ``0`` means at
    once. ``exc`` is the exception that made the task retry: it is kept as the cause
    when the retries run out. ``max_retries`` overrides the task's for this decision;
    ``args``/``kwargs``, when given, replace the call's arguments for the next try.
    """

    def __init__(
        self,
        delay: float | None = None,
        exc: BaseException | None = None,
        *,
        max_retries: int | None = None,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        when = "Retry" if delay is None else f"Retry in {delay}s"
        super().__init__(f"{when}: {exc!r}" if exc is not None else when)
        self.delay = delay
        self.exc = exc
        self.max_retries = max_retries
        self.retry_args = args
        self.retry_kwargs = kwargs


class Ignore(Exception):
    """Raised by a task to end without an outcome: its message is acknowledged and no
    result is stored (waiting on it times out, as for a task never run)."""


class Reject(Exception):
    """Raised by a task to give its message up: back to its queue with ``requeue``, else
    to the queue's dead letters with ``reason`` (never dropped silently)."""

    def __init__(self, reason: object = None, requeue: bool = False) -> None:
        super().__init__(reason, requeue)
        self.reason = reason
        self.requeue = requeue

    def __repr__(self) -> str:
        return f"reject requeue={self.requeue}: {self.reason}"
