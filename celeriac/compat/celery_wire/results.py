"""Results where Celery's Redis backend keeps them (``celery-task-meta-<id>``): written
for the tasks that came from Celery (:func:`store_result`), read for those sent to
Celery workers (:class:`CeleryResult`), with exceptions in Celery's shape both ways."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import traceback as tb
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...core.errors import ResultTimeout
from ...core.result import ExceptionInfo, ResultRecord
from .. import exceptions as celery_exceptions
from .. import states
from ..result import AsyncResult, outcome_of
from .messages import broker_url, client

if TYPE_CHECKING:
    from ..app import Celery

__all__ = [
    "CeleryResult",
    "EitherResult",
    "celery_meta",
    "chord_expires",
    "encoded_result",
    "extended",
    "read_result",
    "result_backend_url",
    "result_client",
    "started",
    "store_result",
    "store_state",
    "task_outcome",
    "to_record",
]

RESULT_PREFIX = "celery-task-meta-"
DEFAULT_EXPIRES = 86400  # Celery's result_expires


def _exception_meta(exc: BaseException) -> dict[str, Any]:
    try:
        json.dumps(list(exc.args))
        message: Any = list(exc.args)
    except (TypeError, ValueError):
        message = [str(exc)]
    module = type(exc).__module__
    if module.startswith("celeriac.") and hasattr(celery_exceptions, type(exc).__name__):
        module = "celery.exceptions"  # ours mirror Celery's: a Celery caller rebuilds its own
    return {"exc_type": type(exc).__name__, "exc_message": message, "exc_module": module}


def celery_meta(
    task_id: str,
    state: str,
    result: Any = None,
    *,
    exc: BaseException | None = None,
    children: Iterable[Any] = (),
) -> dict[str, Any]:
    """A result as Celery's Redis backend stores it (JSON)."""
    value = _exception_meta(exc) if exc is not None else result
    trace = None
    if exc is not None and exc.__traceback__ is not None:
        trace = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "status": state,
        "result": value,
        "traceback": trace,
        "children": list(children),
        "date_done": dt.datetime.now(dt.timezone.utc).isoformat(),
        "task_id": task_id,
    }


def extended(app: Celery, request: Any) -> dict[str, Any]:
    """What Celery's backend adds to a result with ``result_extended``: the call, its
    worker and queue."""
    if not app.conf.get("result_extended"):
        return {}
    delivery = getattr(request, "delivery_info", None) or {}
    return {
        "name": request.task,
        "args": list(request.args or ()),
        "kwargs": dict(request.kwargs or {}),
        "worker": request.hostname,
        "retries": request.retries,
        "queue": delivery.get("routing_key"),
    }


def started(task: Any, request: Any) -> None:
    """A task that came from Celery started: STARTED where Celery reads it, when the
    task tracks it (``track_started``, ``task_track_started``), as a Celery worker."""
    app = task.app
    tracked = task.track_started
    if not (tracked if tracked is not None else app.conf.task_track_started):
        return
    value = {"pid": os.getpid(), "hostname": request.hostname}
    meta = {**celery_meta(str(request.id), states.STARTED, value), **extended(app, request)}
    store_result(app, meta)


def store_state(app: Celery, request: Any, state: str, value: Any) -> None:
    """``update_state`` of a task that came from Celery, where Celery reads it."""
    meta = {**celery_meta(str(request.id), state, value), **extended(app, request)}
    store_result(app, meta)


def result_backend_url(app: Celery) -> str:
    conf = app.conf
    configured = conf.get("celeriac_celery_result_backend")
    if configured:
        return str(configured)
    backend = str(conf.result_backend or "")
    return backend if backend.startswith(("redis://", "rediss://")) else broker_url(app)


def store_result(app: Celery, meta: Mapping[str, Any]) -> None:
    """Write a result where Celery's Redis backend keeps it, and publish it on the key's
    channel (a Celery caller waiting in ``get()`` listens there)."""
    key = RESULT_PREFIX + str(meta["task_id"])
    data = json.dumps(meta, default=repr)
    expires = app.conf.result_expires
    if isinstance(expires, dt.timedelta):
        expires = expires.total_seconds()
    seconds = int(expires) if expires else DEFAULT_EXPIRES
    with result_client(app).pipeline() as pipe:
        pipe.set(key, data, ex=seconds)
        pipe.publish(key, data)
        pipe.execute()


def result_client(app: Celery) -> Any:
    return client(result_backend_url(app))


def chord_expires(app: Celery) -> int:
    """Seconds Celery's backend keeps a chord's keys (``result_chord_expires``, else
    ``result_expires``; 0: for ever)."""
    conf = app.conf
    found = conf.get("result_chord_expires")
    if found is None:
        found = conf.result_expires
    if isinstance(found, dt.timedelta):
        found = found.total_seconds()
    return int(found or 0)


def read_result(app: Celery, task_id: str) -> dict[str, Any] | None:
    """A result as Celery's Redis backend holds it, or None."""
    data = result_client(app).get(RESULT_PREFIX + task_id)
    if data is None:
        return None
    found: dict[str, Any] = json.loads(data)
    return found


def encoded_result(value: Any, exc: BaseException | None) -> Any:
    """A value, or an exception, as Celery's backend encodes it in a result."""
    return _exception_meta(exc) if exc is not None else value


def _exception_info(state: str, value: Any, trace: str | None) -> ExceptionInfo | None:
    """The exception a Celery result holds, as celeriac keeps exceptions (Celery's own
    exceptions are celeriac's of the same names; other classes are looked up only in
    modules already imported here, never imported because a result names them)."""
    if state not in states.EXCEPTION_STATES or not isinstance(value, Mapping):
        return None
    module = str(value.get("exc_module") or "builtins")
    if module == "celery.exceptions":
        module = celery_exceptions.__name__
    message = value.get("exc_message")
    args = tuple(message) if isinstance(message, list | tuple) else (message,)
    text = ", ".join(str(a) for a in args)
    return ExceptionInfo(str(value.get("exc_type") or "Exception"), module, text, args, trace)


def to_record(task_id: str, meta: Mapping[str, Any]) -> ResultRecord:
    """A Celery result as celeriac's result record."""
    state = str(meta.get("status") or states.PENDING)
    value = meta.get("result")
    exc = _exception_info(state, value, meta.get("traceback"))
    done = meta.get("date_done")
    try:
        when = dt.datetime.fromisoformat(str(done)).timestamp() if done else time.time()
    except ValueError:
        when = time.time()
    return ResultRecord(
        id=task_id,
        state=state,
        value=None if exc is not None else value,
        exc=exc,
        name=meta.get("name"),
        retries=int(meta.get("retries") or 0),
        worker=meta.get("worker"),
        date_done=when,
        queue=meta.get("queue"),
    )


def task_outcome(state: str, value: Any) -> Any:
    """A Celery result's value, or its exception."""
    return outcome_of(to_record("", {"status": state, "result": value}))


class CeleryResult(AsyncResult):
    """The result of a call a Celery worker runs: read where Celery's Redis backend
    keeps it (``celery-task-meta-<id>``)."""

    def _record(self) -> ResultRecord | None:
        if self._ready is not None:
            return self._ready
        meta = read_result(self.app, self.id)
        record = None if meta is None else to_record(self.id, meta)
        if record is not None and record.ready:
            self._ready = record
        return record

    def _pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def _wait(self, timeout: float | None) -> ResultRecord:
        """Read until ready: every 50 ms at first, then less often."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            record = self._record()
            if record is not None and record.ready:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise ResultTimeout(f"no result for task {self.id} in time")
            self._pause(pause if deadline is None else min(pause, deadline - time.monotonic()))
            pause = min(pause * 1.5, 0.5)

    def forget(self) -> None:
        self._ready = None
        result_client(self.app).delete(RESULT_PREFIX + self.id)


class EitherResult(CeleryResult):
    """A result kept by celeriac or, for a call a Celery worker ran, by Celery's
    backend: what ``app.AsyncResult(id)`` gives in an app that sends tasks to Celery
    workers (``celeriac_celery_tasks``)."""

    def _record(self) -> ResultRecord | None:
        own = AsyncResult._record(self)
        return own if own is not None else super()._record()

    def _pause(self, seconds: float) -> None:
        with contextlib.suppress(ResultTimeout):  # woken at once by a celeriac result
            self._handle().wait(max(seconds, 0.001))

    def forget(self) -> None:
        super().forget()
        AsyncResult.forget(self)
