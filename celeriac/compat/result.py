"""Celery's result objects: ``AsyncResult`` (a task's state and outcome, read from the
broker, where the core keeps results) and ``EagerResult`` (a task run in-process)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..core import errors as core_errors
from ..core.context import _current
from ..core.errors import ResultTimeout
from ..core.handle import SyncHandle
from ..core.result import ResultRecord
from . import states
from .exceptions import NotRegistered, TaskRevokedError, TimeoutError

if TYPE_CHECKING:
    from .app import Celery

__all__ = [
    "AsyncResult",
    "EagerResult",
    "GroupResult",
    "ResultBase",
    "ResultSet",
    "result_from_tuple",
]

E_WOULDBLOCK = (
    "Never call result.get() within a task!\n"
    "See https://docs.celeryq.dev/en/latest/userguide/tasks.html"
    "#avoid-launching-synchronous-subtasks\n"
)


def assert_will_not_block() -> None:
    """Celery's guard: waiting for a result inside a task can deadlock the worker."""
    if _current.get(None) is not None:
        raise RuntimeError(E_WOULDBLOCK)


def _revoked_error(record: ResultRecord) -> TaskRevokedError:
    reason = record.exc.message if record.exc else "revoked"
    if reason.startswith("revoked while running"):
        reason = "terminated"
    elif reason.startswith("revoked"):
        reason = "revoked"
    return TaskRevokedError(reason)


def outcome_of(record: ResultRecord) -> Any:
    """What ``result``/``info`` shows: the value, the exception, or a state's meta."""
    if record.state == states.REVOKED:
        return _revoked_error(record)
    if record.exc is not None and record.state in (states.FAILURE, states.RETRY):
        exc = record.exc.rebuild()
        if type(exc) is core_errors.NotRegistered:  # stored by the core worker
            return NotRegistered(*exc.args)
        return exc
    return record.value


class ResultBase:
    """Base of Celery's result classes."""

    parent: Any = None


class AsyncResult(ResultBase):
    """A task's result, by id: its state, and its outcome once ready."""

    def __init__(
        self,
        id: str,
        backend: Any = None,
        task_name: str | None = None,
        app: Celery | None = None,
        parent: Any = None,
    ) -> None:
        if app is None:
            from .app import current_app

            app = current_app()
        self.app = app
        self.id = id
        self.backend = backend
        self.task_name = task_name
        self.parent = parent
        self._ready: ResultRecord | None = None  # kept once ready: it never changes

    # -- identity -----------------------------------------------------------------------

    @property
    def task_id(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    def __str__(self) -> str:
        return self.id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __copy__(self) -> AsyncResult:
        return type(self)(self.id, self.backend, self.task_name, self.app, self.parent)

    def as_tuple(self) -> tuple[Any, ...]:
        parent = self.parent
        return (self.id, parent and parent.as_tuple()), None

    # -- reading ------------------------------------------------------------------------

    def _handle(self) -> SyncHandle[Any]:
        self.app.check_results_enabled()
        return self.app.core.sync_handle(self.id)

    def _record(self) -> ResultRecord | None:
        if self._ready is not None:
            return self._ready
        record = self._handle().record()
        if record is not None and record.ready:
            self._ready = record
        return record

    @property
    def state(self) -> str:
        """PENDING (also for unknown ids), STARTED, RETRY, a custom state, or a ready
        one: SUCCESS, FAILURE, REVOKED."""
        record = self._record()
        return states.PENDING if record is None else record.state

    status = state

    @property
    def result(self) -> Any:
        """The return value; the exception when it failed; a custom state's meta."""
        record = self._record()
        return None if record is None else outcome_of(record)

    info = result

    @property
    def traceback(self) -> str | None:
        record = self._record()
        if record is None or record.exc is None:
            return None
        return record.exc.traceback

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return bool(self.state == states.SUCCESS)

    def failed(self) -> bool:
        return bool(self.state == states.FAILURE)

    @property
    def date_done(self) -> dt.datetime | None:
        record = self._record()
        if record is None or not record.ready or not record.date_done:
            return None
        return dt.datetime.fromtimestamp(record.date_done, dt.timezone.utc)

    @property
    def retries(self) -> int | None:
        record = self._record()
        return None if record is None else record.retries

    @property
    def name(self) -> str | None:
        record = self._record()
        return record.name if record is not None else None

    @property
    def args(self) -> Any:
        record = self._record()
        return None if record is None or record.args is None else list(record.args)

    @property
    def kwargs(self) -> Any:
        record = self._record()
        return None if record is None else record.kwargs

    @property
    def worker(self) -> str | None:
        record = self._record()
        return None if record is None else record.worker

    @property
    def queue(self) -> str | None:
        record = self._record()
        return None if record is None else record.queue

    @property
    def children(self) -> list[AsyncResult] | None:
        """The results of the tasks it sent while it ran (once it succeeded)."""
        record = self._record()
        if record is None or not record.ready:
            return None
        return [AsyncResult(child, app=self.app) for child in record.children]

    # -- waiting ------------------------------------------------------------------------

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        no_ack: bool = True,
        follow_parents: bool = True,
        callback: Callable[..., Any] | None = None,
        on_message: Callable[[dict[str, Any]], Any] | None = None,
        on_interval: Callable[[], Any] | None = None,
        disable_sync_subtasks: bool = True,
        EXCEPTION_STATES: Iterable[str] = states.EXCEPTION_STATES,
        PROPAGATE_STATES: Iterable[str] = states.PROPAGATE_STATES,
    ) -> Any:
        """Wait for the task to be ready and return its value; raise its exception
        (``propagate``), or return it. Waiting is woken by the result, not polled;
        ``interval`` is accepted for compatibility."""
        if disable_sync_subtasks:
            assert_will_not_block()
        if follow_parents and propagate and self.parent is not None:
            self._raise_first_failed_parent()
        try:
            record = self._ready or self._wait(timeout)
        except ResultTimeout:
            raise TimeoutError("The operation timed out.") from None
        self._ready = record
        value = outcome_of(record)
        if on_message is not None:
            on_message(_meta(record, value))
        if callback is not None:
            callback(self.id, value)
        if propagate and record.state in set(PROPAGATE_STATES):
            if follow_parents:
                self._raise_first_failed_parent()
            raise value
        return value

    def _wait(self, timeout: float | None) -> ResultRecord:
        """The record once ready (``ResultTimeout`` after ``timeout`` seconds)."""
        return self._handle().wait(timeout)

    def _raise_first_failed_parent(self) -> None:
        """Raise the error of the earliest task before this one that failed (in a
        chain: the one that made this one fail), as Celery's ``get`` does."""
        parents: list[Any] = []
        node = self.parent
        while node is not None:
            parents.append(node)
            node = getattr(node, "parent", None)
        for parent in reversed(parents):
            parent.maybe_throw()

    wait = get

    async def aget(self, timeout: float | None = None, propagate: bool = True) -> Any:
        """:meth:`get` for async code: waits without blocking the event loop."""
        self.app.check_results_enabled()
        try:
            record = self._ready or await self.app.core.handle(self.id).wait(timeout)
        except ResultTimeout:
            raise TimeoutError("The operation timed out.") from None
        self._ready = record
        value = outcome_of(record)
        if propagate and record.state in states.PROPAGATE_STATES:
            raise value
        return value

    def maybe_throw(self, propagate: bool = True, callback: Any = None) -> None:
        """Raise the task's exception if it failed (or was revoked)."""
        record = self._record()
        if propagate and record is not None and record.state in states.PROPAGATE_STATES:
            raise outcome_of(record)

    maybe_reraise = maybe_throw

    # -- acting -------------------------------------------------------------------------

    def forget(self) -> None:
        """Delete the stored result (the state reads PENDING again)."""
        self._ready = None
        self.app.check_results_enabled()
        self.app.core.sync_broker.forget(self.id)

    def revoke(
        self,
        connection: Any = None,
        terminate: bool = False,
        signal: Any = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Revoke the task: it never runs, or (running) it is stopped where it can be."""
        self.app.control.revoke(self.id, terminate=terminate, signal=signal)


def _meta(record: ResultRecord, value: Any) -> dict[str, Any]:
    return {
        "task_id": record.id,
        "status": record.state,
        "result": value,
        "traceback": record.exc.traceback if record.exc else None,
    }


class EagerResult(AsyncResult):
    """The result of a task run in this process (``apply()``, ``task_always_eager``)."""

    def __init__(
        self,
        id: str,
        ret_value: Any,
        state: str,
        traceback: str | None = None,
        name: str | None = None,
        app: Celery | None = None,
        retries: int = 0,
    ) -> None:
        self.id = id
        self._result = ret_value
        self._state = state
        self._traceback = traceback
        self._name = name
        self._retries = retries
        self.parent = None
        self.backend = None
        self.task_name = name
        self._app = app
        self._ready = None

    @property
    def app(self) -> Celery:
        if self._app is None:
            from .app import current_app

            self._app = current_app()
        return self._app

    @app.setter
    def app(self, value: Celery) -> None:
        self._app = value

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.id, self._result, self._state, self._traceback, self._name)

    @property
    def state(self) -> str:
        return self._state

    status = state

    @property
    def result(self) -> Any:
        return self._result

    info = result

    @property
    def traceback(self) -> str | None:
        return self._traceback

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def retries(self) -> None:
        """None, as in Celery: an eager result does not keep its retry count."""
        return None

    def ready(self) -> bool:
        return True

    def get(  # type: ignore[override]
        self,
        timeout: float | None = None,
        propagate: bool = True,
        disable_sync_subtasks: bool = True,
        **kwargs: Any,
    ) -> Any:
        if disable_sync_subtasks:
            assert_will_not_block()
        if self.successful():
            return self._result
        if self._state in states.PROPAGATE_STATES and propagate:
            raise (
                self._result if isinstance(self._result, BaseException) else Exception(self._result)
            )
        return self._result

    wait = get  # type: ignore[assignment]

    def forget(self) -> None:
        """Nothing is stored for an eager result."""

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        self._state = states.REVOKED

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"


# results of several tasks, defined with AsyncResult and re-exported here
from ._result_sets import GroupResult, ResultSet, result_from_tuple  # noqa: E402
