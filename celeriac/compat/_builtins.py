"""The tasks every app has, as in Celery: ``celery.map`` and ``celery.starmap``, which
``task.map(it)``, ``task.starmap(it)`` and ``task.chunks(it, n)`` send (each calls the
task on every item, in the worker that runs it, and returns the list of values), and
``celery.accumulate``, the body ``Task.replace`` puts after a group."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .canvas import signature

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["add_builtins"]


def add_builtins(app: Celery) -> None:
    def map_task(task: Any, it: Iterable[Any]) -> list[Any]:
        call = signature(task, app=app).type
        return [call(item) for item in it]

    def starmap_task(task: Any, it: Iterable[Any]) -> list[Any]:
        call = signature(task, app=app).type
        return [call(*item) for item in it]

    def accumulate(*args: Any, index: int | None = None, **kwargs: Any) -> Any:
        """Its arguments (one of them, with ``index``): the body that turns a group
        replacing a task into one result."""
        return args[index] if index is not None else args

    app._task_from_fun(map_task, name="celery.map")
    app._task_from_fun(starmap_task, name="celery.starmap")
    app._task_from_fun(accumulate, name="celery.accumulate")
