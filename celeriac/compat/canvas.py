"""Celery's canvas: signatures (a task call planned but not sent: ``add.s(2, 2)``), and
the workflows made of them, re-exported from ``_composites``: ``chain`` (``a | b``),
``group``, ``chord``, ``chunks``, ``xmap``/``xstarmap`` (``task.map``, ``task.starmap``).

A signature travels as Celery's dict shape (``task``, ``args``, ``kwargs``, ``options``,
``subtask_type``, ``immutable``): that is what ``link_error`` keeps in a message and
what :func:`signature` rebuilds, composites included (their parts in ``kwargs``).

"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..core.message import new_id

if TYPE_CHECKING:
    from .app import Celery
    from .result import AsyncResult, EagerResult
    from .task import Task

__all__ = [
    "Signature",
    "_chain",
    "_chord",
    "chain",
    "chord",
    "chunks",
    "group",
    "maybe_signature",
    "signature",
    "subtask",
    "xmap",
    "xstarmap",
]

_KEYS = ("task", "args", "kwargs", "options", "subtask_type", "immutable")
_S = TypeVar("_S", bound="type[Signature]")


class Signature:
    """A task with arguments and send options, to be called later or elsewhere.

    Partial arguments follow Celery's rule: arguments given when it is finally called
    come *before* its own (so a parent's result goes first), unless it is immutable.
    """

    TYPES: ClassVar[dict[str, type[Signature]]] = {}

    @classmethod
    def register_type(cls, name: str) -> Callable[[_S], _S]:
        """Class decorator: rebuild dicts with this ``subtask_type`` as this class."""

        def register(kind: _S) -> _S:
            cls.TYPES[name] = kind
            return kind

        return register

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        """A signature from Celery's dict shape, as the class its ``subtask_type`` names."""
        subtask_type, task = d.get("subtask_type"), str(d.get("task") or "")
        kind = cls.TYPES.get(subtask_type or (task if task.startswith("celery.") else ""))
        if kind is not None and kind is not cls:
            return kind.from_dict(d, app=app)
        return Signature(d, app=app)

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

    def __deepcopy__(self, memo: dict[int, Any]) -> Signature:
        """A copy with its own arguments and options; the task and app are shared."""
        clone = copy.copy(self)
        clone.args = copy.deepcopy(self.args, memo)
        clone.kwargs = copy.deepcopy(self.kwargs, memo)
        clone.options = copy.deepcopy(self.options, memo)
        return clone

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
        clone = copy.copy(self)
        clone.args, clone.kwargs, clone.options = new_args, new_kwargs, new_options
        return clone

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

    def replace(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Signature:
        """A copy with the arguments, keyword arguments or options given instead of
        its own (not merged, unlike :meth:`clone`)."""
        made = copy.deepcopy(self)
        if args is not None:
            made.args = tuple(args)
        if kwargs is not None:
            made.kwargs = dict(kwargs)
        if options is not None:
            made.options = dict(options)
        return made

    def __invert__(self) -> Any:
        """``~sig``: send it and wait for its result, as in Celery."""
        return self.apply_async().get()

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

    def __or__(self, other: Any) -> Signature:
        """``a | b``: a chain (a group followed by a task is a chord, as in Celery)."""
        if not isinstance(other, Signature):
            return NotImplemented
        return chain(self, other)

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
        return Signature.from_dict(varies, app=app)
    return Signature(varies, *args, app=app, **kwargs)  # type: ignore[misc]


subtask = signature


def maybe_signature(d: Any, app: Celery | None = None, clone: bool = False) -> Signature | None:
    """A signature from a signature or its dict shape; None stays None."""
    if d is None:
        return None
    if isinstance(d, Signature):
        return d.clone() if clone else d
    return Signature.from_dict(d, app=app)


# the workflows, defined with Signature (which they extend) and re-exported here
from ._composites import (  # noqa: E402
    _chain,
    _chord,
    chain,
    chord,
    chunks,
    group,
    xmap,
    xstarmap,
)
