"""Celery's exception names (``celeriac.exceptions``), mapped onto the core's tree.

Where the core already has the exception a Celery user catches, the Celery name *is*
the core class (``SoftTimeLimitExceeded``, ``TimeLimitExceeded``, ``WorkerLostError``),
so that a failure stored by a worker comes back from ``get()`` as the very class the
caller imported. The others subclass the nearest core class, so code catching either
name works (results turn a core ``NotRegistered`` into Celery's, which prints as
Celery's does).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..core import errors as core

__all__ = [
    "AlreadyRegistered",
    "AlwaysEagerIgnored",
    "BackendError",
    "BackendGetMetaError",
    "BackendStoreError",
    "CDeprecationWarning",
    "CPendingDeprecationWarning",
    "CeleryCommandException",
    "CeleryError",
    "CeleryWarning",
    "ChordError",
    "DuplicateNodenameWarning",
    "FixupWarning",
    "Ignore",
    "ImproperlyConfigured",
    "IncompleteStream",
    "InvalidTaskError",
    "MaxRetriesExceededError",
    "NotConfigured",
    "NotRegistered",
    "OperationalError",
    "QueueNotFound",
    "Reject",
    "Retry",
    "SecurityError",
    "SecurityWarning",
    "SoftTimeLimitExceeded",
    "TaskError",
    "TaskPredicate",
    "TaskRevokedError",
    "Terminated",
    "TimeLimitExceeded",
    "TimeoutError",
    "WorkerLostError",
    "WorkerShutdown",
    "WorkerTerminate",
]

# -- the same classes as the core's -------------------------------------------------------

SoftTimeLimitExceeded = core.SoftTimeLimitExceeded
TimeLimitExceeded = core.TimeLimitExceeded
WorkerLostError = core.WorkerLostError


# -- bases --------------------------------------------------------------------------------


class CeleryError(core.CeleriacError):
    """Base of the errors under Celery's names."""


class TaskPredicate(CeleryError):
    """Base of what a task raises to tell the worker how it ended (retry, ignore...)."""


class TaskError(CeleryError):
    """A task-related error."""


class CeleryWarning(UserWarning):
    """Base of the warnings under Celery's names."""


class AlwaysEagerIgnored(CeleryWarning):
    """An option ignored in eager mode."""


class DuplicateNodenameWarning(CeleryWarning):
    """Several workers run under the same node name."""


class FixupWarning(CeleryWarning):
    """A framework fix-up could not be applied."""


class NotConfigured(CeleryWarning):
    """The app was used before it was configured."""


class SecurityWarning(CeleryWarning):
    """A setting weakens security."""


class CPendingDeprecationWarning(PendingDeprecationWarning):
    """A feature that will be deprecated."""


class CDeprecationWarning(DeprecationWarning):
    """A deprecated feature."""


# -- task predicates ----------------------------------------------------------------------


def _seconds_until(when: float | dt.datetime | None) -> float | None:
    if when is None:
        return None
    if isinstance(when, dt.datetime):
        aware = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        return max(aware.timestamp() - time.time(), 0.0)
    return float(when)


class Retry(core.Retry, TaskPredicate):
    """The task is to be retried later: raised by ``self.retry()``.

    ``when`` is a number of seconds or a datetime; ``exc`` the exception that made it
    retry; ``sig`` the call that will run again. The worker treats it as an outcome
    (state RETRY), not as a failure.
    """

    def __init__(
        self,
        message: str | None = None,
        exc: BaseException | str | None = None,
        when: float | dt.datetime | None = None,
        is_eager: bool = False,
        sig: Any = None,
        **kwargs: Any,
    ) -> None:
        reason = exc if isinstance(exc, BaseException) else None
        core.Retry.__init__(
            self,
            _seconds_until(when),
            reason,
            max_retries=kwargs.get("max_retries"),
            args=kwargs.get("args"),
            kwargs=kwargs.get("kwargs"),
        )
        self.message = message
        self.excs = exc if isinstance(exc, str) else (repr(exc) if exc else None)
        self.when = when
        self.is_eager = is_eager
        self.sig = sig
        self.args = (message, exc, when)

    def humanize(self) -> str:
        if isinstance(self.when, int | float):
            return f"in {self.when}s"
        return f"at {self.when}"

    def __str__(self) -> str:
        if self.message:
            return self.message
        if self.excs:
            return f"Retry {self.humanize()}: {self.excs}"
        return f"Retry {self.humanize()}"

    def __reduce__(self) -> tuple[Any, ...]:
        # with its attributes: the new arguments and limits cross the process pool
        return type(self), (self.message, self.exc, self.when), dict(self.__dict__)


RetryTaskError = Retry  # Celery's old name


class Ignore(core.Ignore, TaskPredicate):
    """The task ends without a state being stored (Celery's IGNORED)."""


class Reject(core.Reject, TaskPredicate):
    """The task's message is given up: back to the queue with ``requeue``, else to the
    dead letters (Celery's Redis transport drops it; celeriac keeps it)."""

    __str__ = Exception.__str__  # as Celery's: the arguments


class NotRegistered(core.NotRegistered, TaskError):
    """No task of that name is registered (a ``KeyError``): a bare task name prints
    quoted, as Celery prints it; a sentence as it is."""

    def __str__(self) -> str:
        text = core.NotRegistered.__str__(self)
        return repr(text) if self.args and " " not in text else text


# -- task errors --------------------------------------------------------------------------


class MaxRetriesExceededError(core.MaxRetriesExceeded, TaskError):
    """The task asked to retry once too often."""

    def __init__(self, *args: Any, task_args: Any = None, task_kwargs: Any = None) -> None:
        super().__init__(*args)
        self.task_args = task_args
        self.task_kwargs = task_kwargs


class TaskRevokedError(core.TaskRevoked, TaskError):
    """The task was revoked, or expired before it ran."""


class InvalidTaskError(TaskError):
    """The task message is invalid."""


class ChordError(TaskError):
    """A task of a chord's header failed."""


class QueueNotFound(core.ConfigurationError, CeleryError, KeyError):
    """A task was routed to a queue that is not defined (task_create_missing_queues off)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "queue not found"


class ImproperlyConfigured(core.ConfigurationError, CeleryError):
    """The configuration cannot work."""


class SecurityError(CeleryError):
    """Signing or verifying a message failed."""


class OperationalError(core.BrokerError, CeleryError):
    """The broker could not be reached or refused a command."""


class TimeoutError(core.ResultTimeout, CeleryError):
    """A result did not arrive in time (``AsyncResult.get(timeout=...)``)."""


class AlreadyRegistered(CeleryError):
    """A task of that name is already registered."""


class Terminated(TaskError):
    """The task was terminated (``revoke(terminate=True)``)."""


class IncompleteStream(TaskError):
    """A stream ended before it was complete."""


class BackendError(CeleryError):
    """The result store failed."""


class BackendGetMetaError(BackendError):
    """Reading a result failed."""

    def __init__(self, *args: Any, task_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args)
        self.task_id = task_id


class BackendStoreError(BackendError):
    """Storing a result failed."""

    def __init__(self, *args: Any, state: str | None = None, task_id: str | None = None) -> None:
        super().__init__(*args)
        self.state = state
        self.task_id = task_id


class CeleryCommandException(CeleryError):
    """A command-line error, with its exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class WorkerShutdown(SystemExit):
    """Raised to shut the worker down (warm)."""


class WorkerTerminate(SystemExit):
    """Raised to terminate the worker at once (cold)."""
