"""Signatures: a task call planned but not sent (``add.s(2, 2)``), Celery's canvas unit.

A signature travels as Celery's dict shape (``task``, ``args``, ``kwargs``, ``options``,
``subtask_type``, ``immutable``): that is what ``link_error`` keeps in a message and
what :func:`signature` rebuilds.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.message import new_id

if TYPE_CHECKING:
    from .app import Celery
    from .result import AsyncResult, EagerResult
    from .task import Task

__all__ = ["Signature", "maybe_signature", "signature", "subtask"]

_KEYS = ("task", "args", "kwargs", "options", "subtask_type", "immutable")


class Signature:
    """A task with arguments and send options, to be called later or elsewhere.

    Partial arguments follow Celery's rule: arguments given when it is finally called
    come *before* its own (so a parent's result goes first), unless it is immutable.
    """

    def __init__(
        self,
        task: str | Task | Mapping[str, Any] | None = None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        type: Task | None = None,
        subtask_type: str | None = None,
        immutable: bool = False,
        app: Celery | None = None,
        **extra: Any,
    ) -> None:
        if isinstance(task, Mapping):
            raw = task
            task = str(raw["task"])
            args = raw.get("args", args)
            kwargs = raw.get("kwargs", kwargs)
            options = raw.get("options", options)
            subtask_type = raw.get("subtask_type", subtask_type)
            immutable = raw.get("immutable", immutable)
        self._type: Task | None = type
        if task is not None and not isinstance(task, str):
            self._type = task
            task = task.name
        self.task: str | None = task
        self.args: tuple[Any, ...] = tuple(args or ())
        self.kwargs: dict[str, Any] = dict(kwargs or {})
        self.options: dict[str, Any] = {**dict(options or {}), **extra}
        self.subtask_type = subtask_type
        self.immutable = immutable
        self._app = app

    # -- dict shape ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Celery's wire shape of this signature."""
        return {
            "task": self.task,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "options": _plain(self.options),
            "subtask_type": self.subtask_type,
            "immutable": self.immutable,
        }

    def __getitem__(self, key: str) -> Any:
        if key not in _KEYS:
            raise KeyError(key)
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Signature):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as Celery's

    def __repr__(self) -> str:
        call = ", ".join(
            [*(repr(a) for a in self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        )
        return f"{self.task}({call}){'' if not self.immutable else ' (immutable)'}"

    # -- what it names ------------------------------------------------------------------

    @property
    def app(self) -> Celery:
        if self._app is not None:
            return self._app
        if self._type is not None:
            return self._type.app
        from .app import current_app

        return current_app()

    @property
    def type(self) -> Task:
        """The task object (looked up by name in the app)."""
        if self._type is None:
            self._type = self.app.tasks[self.task or ""]
        return self._type

    @property
    def name(self) -> str | None:
        return self.task

    @property
    def id(self) -> str | None:
        task_id: str | None = self.options.get("task_id")
        return task_id

    # -- building -----------------------------------------------------------------------

    def clone(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        """A copy with partial arguments and options merged in."""
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        return Signature(
            self.task,
            new_args,
            new_kwargs,
            new_options,
            type=self._type,
            subtask_type=self.subtask_type,
            immutable=self.immutable,
            app=self._app,
        )

    partial = clone

    def _merge(
        self,
        args: Sequence[Any] | None,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any] | None,
    ) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        merged_options = {**copy.deepcopy(self.options), **(options or {})}
        if self.immutable:
            return self.args, dict(self.kwargs), merged_options
        return (
            (*(args or ()), *self.args),
            {**self.kwargs, **(kwargs or {})},
            merged_options,
        )

    def set(self, immutable: bool | None = None, **options: Any) -> Signature:
        """Set send options in place (``queue``, ``countdown``...); returns itself."""
        if immutable is not None:
            self.immutable = immutable
        self.options.update(options)
        return self

    def set_immutable(self, immutable: bool) -> None:
        self.immutable = immutable

    def link(self, callback: Signature) -> Signature:
        """Call ``callback`` with this task's result when it succeeds."""
        self.options.setdefault("link", []).append(callback)
        return callback

    def link_error(self, errback: Signature) -> Signature:
        """Call ``errback`` when this task fails."""
        self.options.setdefault("link_error", []).append(errback)
        return errback

    def on_error(self, errback: Signature) -> Signature:
        self.link_error(errback)
        return self

    def freeze(self, _id: str | None = None, **kwargs: Any) -> AsyncResult:
        """Fix the task id now; returns the result it will have."""
        task_id = _id or self.options.get("task_id") or new_id()
        self.options["task_id"] = task_id
        result: AsyncResult = self.app.AsyncResult(task_id)
        return result

    # -- calling ------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run it here and now, as a plain call of the task."""
        new_args, new_kwargs, _ = self._merge(args, kwargs, None)
        return self.type(*new_args, **new_kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Send it, with partial arguments and options merged in."""
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        if self._type is None and self.task not in self.app.tasks:
            return self.app.send_task(self.task or "", new_args, new_kwargs, **new_options)
        return self.type.apply_async(new_args, new_kwargs, **new_options)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> EagerResult:
        """Run it in this process (eagerly); returns an EagerResult."""
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        return self.type.apply(new_args, new_kwargs, **new_options)


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options with signatures turned into dicts (for the wire)."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Signature):
            out[key] = value.to_dict()
        elif isinstance(value, list | tuple) and any(isinstance(v, Signature) for v in value):
            out[key] = [v.to_dict() if isinstance(v, Signature) else v for v in value]
        else:
            out[key] = value
    return out


def signature(
    varies: str | Task | Signature | Mapping[str, Any],
    *args: Any,
    app: Celery | None = None,
    **kwargs: Any,
) -> Signature:
    """A signature from a task name, a task, a signature (copied) or its dict shape."""
    if isinstance(varies, Signature):
        return varies.clone()
    if isinstance(varies, Mapping):
        return Signature(varies, app=app)
    return Signature(varies, *args, app=app, **kwargs)  # type: ignore[misc]


subtask = signature


def maybe_signature(d: Any, app: Celery | None = None, clone: bool = False) -> Signature | None:
    """A signature from a signature or its dict shape; None stays None."""
    if d is None:
        return None
    if isinstance(d, Signature):
        return d.clone() if clone else d
    return Signature(d, app=app)
