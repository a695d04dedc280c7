"""Results where Celery's Redis backend keeps them (``celery-task-meta-<id>``): written
for the tasks that came from Celery (:func:`answer`), read for those sent to Celery
workers (:class:`CeleryResult`), with exceptions in Celery's shape both ways."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import time
import traceback as tb
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import exceptions as celery_exceptions
from .. import states
from ..exceptions import TimeoutError as CeleryTimeoutError
from ..result import AsyncResult
from .messages import broker_url, client, forward, logger

if TYPE_CHECKING:
    from ..app import Celery

__all__ = [
    "CeleryResult",
    "answer",
    "celery_meta",
    "read_result",
    "rebuild_exception",
    "result_backend_url",
    "store_result",
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
    redis_client = client(result_backend_url(app))
    with redis_client.pipeline() as pipe:
        pipe.set(key, data, ex=seconds)
        pipe.publish(key, data)
        pipe.execute()


def read_result(app: Celery, task_id: str) -> dict[str, Any] | None:
    """A result as Celery's Redis backend holds it, or None."""
    data = client(result_backend_url(app)).get(RESULT_PREFIX + task_id)
    if data is None:
        return None
    found: dict[str, Any] = json.loads(data)
    return found


def answer(app: Celery, request: Any, state: str, value: Any, exc: BaseException | None) -> None:
    """A task that came from Celery ended (or will retry): its result where Celery reads
    it and, after a success, the chain's next step and the callbacks sent on."""
    bridge = getattr(request, "bridge", None)
    if not isinstance(bridge, Mapping):
        return
    task_id = str(request.id)
    root_id = str(request.root_id or task_id)
    try:
        if not bridge.get("ignore_result") or exc is not None:
            store_result(app, celery_meta(task_id, state, value, exc=exc))
        if state != "SUCCESS":
            return
        chain = list(bridge.get("chain") or ())
        if chain:
            step = dict(chain.pop())
            step["options"] = {**dict(step.get("options") or {}), "chain": chain or None}
            forward(app, step, value, task_id, root_id)
        for callback in bridge.get("callbacks") or ():
            forward(app, callback, value, task_id, root_id)
    except Exception:
        logger.exception("Cannot answer Celery for task %s[%s]", request.task, task_id)


def rebuild_exception(value: Mapping[str, Any]) -> BaseException:
    """The exception a Celery result holds (its class imported when it can be, as
    Celery's own client does; else one of that name)."""
    name = str(value.get("exc_type") or "Exception")
    module_name = str(value.get("exc_module") or "builtins")
    message = value.get("exc_message")
    args = list(message) if isinstance(message, list | tuple) else [message]
    cls: Any = None
    try:
        cls = getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = type(name, (Exception,), {"__module__": module_name})
    try:
        exc: BaseException = cls(*args)
    except Exception:
        exc = Exception(*args)
    return exc


class CeleryResult(AsyncResult):
    """The result of a call a Celery worker runs: read where Celery's Redis backend
    keeps it (``celery-task-meta-<id>``)."""

    def _meta(self) -> dict[str, Any] | None:
        return read_result(self.app, self.id)

    @property
    def state(self) -> str:
        meta = self._meta()
        return states.PENDING if meta is None else str(meta.get("status"))

    status = state

    @property
    def result(self) -> Any:
        meta = self._meta()
        return None if meta is None else _outcome(meta)

    info = result

    @property
    def traceback(self) -> str | None:
        meta = self._meta()
        return None if meta is None else meta.get("traceback")

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    def get(  # type: ignore[override]  # the waiting options of Celery's get() are ignored
        self, timeout: float | None = None, propagate: bool = True, **kwargs: Any
    ) -> Any:
        """Wait for Celery's worker to store the result (read every 50 ms at first, then
        less often)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            meta = self._meta()
            if meta is not None and meta.get("status") in states.READY_STATES:
                value = _outcome(meta)
                if propagate and isinstance(value, BaseException):
                    raise value
                return value
            if deadline is not None and time.monotonic() >= deadline:
                raise CeleryTimeoutError("The operation timed out.")
            time.sleep(pause if deadline is None else min(pause, deadline - time.monotonic()))
            pause = min(pause * 1.5, 0.5)


def _outcome(meta: Mapping[str, Any]) -> Any:
    value = meta.get("result")
    if meta.get("status") in ("FAILURE", "REVOKED", "RETRY") and isinstance(value, Mapping):
        return rebuild_exception(value)
    return value
