"""Eager mode: a task run in this process as a worker would run it (``task.apply()``,
``task_always_eager``), with hooks, signals, retries (run again at once, as Celery does)
and ``link`` callbacks; the outcome is an :class:`EagerResult`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from ..core.message import new_id
from . import states
from .canvas import Signature, maybe_signature
from .exceptions import Ignore, Reject, Retry
from .request import Context
from .result import EagerResult

if TYPE_CHECKING:
    from .task import Task

__all__ = ["apply", "run_coroutine"]


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to its end from sync code: here, or in a thread of its own when
    this thread already runs an event loop (which must not be blocked)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _signatures(value: Any) -> list[Signature]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [s for s in (maybe_signature(item) for item in items) if s is not None]


def apply(
    task: Task,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    task_id: str | None,
    retries: int,
    throw: bool | None,
    link: Any,
    link_error: Any,
    headers: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> EagerResult:
    """Run ``task`` here; retries run again at once until they stop or run out."""
    app = task.app
    task_id = task_id or new_id()
    propagate = app.conf.task_eager_propagates if throw is None else throw
    errbacks = [s.to_dict() for s in _signatures(link_error)]
    while True:
        request = _request(task, task_id, args, kwargs, retries, errbacks, headers, options)
        try:
            value = _run(task, request, args, kwargs)
        except Retry as retry:
            args = retry.retry_args if retry.retry_args is not None else args
            kwargs = retry.retry_kwargs if retry.retry_kwargs is not None else kwargs
            retries += 1
            continue
        except (Ignore, Reject) as exc:
            state = states.IGNORED if isinstance(exc, Ignore) else states.REJECTED
            return _result(app, task, task_id, exc, state, None, retries)
        except Exception as exc:
            if propagate:
                raise
            trace = _format(exc)
            return _result(app, task, task_id, exc, states.FAILURE, trace, retries)
        for callback in _signatures(link):
            callback.apply((value,), parent_id=task_id, root_id=request.root_id)
        return _result(app, task, task_id, value, states.SUCCESS, None, retries)


def _run(task: Task, request: Context, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if task.is_async:
        return run_coroutine(task.trace_async(request, args, kwargs, True))
    return task.trace_sync(request, args, kwargs, True)


def _request(
    task: Task,
    task_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    retries: int,
    errbacks: list[dict[str, Any]],
    headers: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> Context:
    return Context(
        dict(headers or {}),
        id=task_id,
        task=task.name,
        args=args,  # as given (a tuple), as Celery's eager request has them
        kwargs=dict(kwargs),
        retries=retries,
        is_eager=True,
        called_directly=False,
        errbacks=errbacks or None,
        headers=dict(headers) if headers else None,
        root_id=options.get("root_id") or task_id,
        parent_id=options.get("parent_id"),
        correlation_id=task_id,
        hostname=socket.gethostname(),
        delivery_info={"is_eager": True, "routing_key": options.get("queue")},
        ignore_result=bool(options.get("ignore_result", False)),
        timelimit=(options.get("time_limit"), options.get("soft_time_limit")),
        shadow=options.get("shadow"),
    )


def _format(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _result(
    app: Any,
    task: Task,
    task_id: str,
    value: Any,
    state: str,
    trace: str | None,
    retries: int,
) -> EagerResult:
    if app.conf.task_store_eager_result and state in (states.SUCCESS, states.FAILURE):
        app.store_outcome(task_id, state, value, trace, name=task.name, retries=retries)
    return EagerResult(task_id, value, state, trace, task.name, app, retries)
