"""Celery's canvas: signatures (a task call planned but not sent: ``add.s(2, 2)``) and
the workflows made of them: ``chain`` (``a | b``), ``group``, ``chord``, ``chunks``,
``xmap``/``xstarmap`` (``task.map``, ``task.starmap``).

A signature travels as Celery's dict shape (``task``, ``args``, ``kwargs``, ``options``,
``subtask_type``, ``immutable``): that is what ``link_error`` keeps in a message and
what :func:`signature` rebuilds, composites included (their parts in ``kwargs``).

Sending a workflow turns it into core messages that wait for each other in the core
graph (see ``_workflow``): they are all sent at once, and the waiting is done in Redis.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..core.message import new_id

if TYPE_CHECKING:
    from .app import Celery
    from .result import AsyncResult, EagerResult
    from .task import Task

__all__ = [
    "Signature",
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


class _Composite(Signature):
    """A workflow of signatures. Sending it sends every task at once as core messages
    that wait for each other (``_workflow``); ``apply()`` runs it here, eagerly."""

    def _parts(self) -> list[Signature]:
        """The signatures it is made of (each composite says)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["kwargs"] = {k: _plain_value(v) for k, v in self.kwargs.items()}
        return out

    def clone(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        """A deep copy (its parts copied too), with arguments and options merged in."""
        clone = copy.deepcopy(self)
        clone.args = (*(args or ()), *clone.args) if not clone.immutable else clone.args
        clone.kwargs.update(kwargs or {})
        clone.options.update(options)
        return clone

    partial = clone

    @property
    def app(self) -> Celery:
        if self._app is not None:
            return self._app
        for part in self._parts():
            return part.app
        from .app import current_app

        return current_app()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calling a workflow sends it, as in Celery."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Send every task of the workflow (run it here with ``task_always_eager``)."""
        from . import _workflow

        if self.app.conf.task_always_eager:
            return self.apply(args, kwargs, **options)
        return _workflow.send(self.app, self, tuple(args or ()), dict(kwargs or {}), options)

    async def aapply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """:meth:`apply_async` for async code: sends without blocking the event loop."""
        from . import _workflow

        return await _workflow.asend(self.app, self, tuple(args or ()), dict(kwargs or {}), options)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run the workflow in this process, step by step; returns eager results."""
        from . import _workflow

        given = _workflow.Given(tuple(args or ()), dict(kwargs or {}), options)
        return _workflow.apply(self, given)

    def freeze(self, _id: str | None = None, **kwargs: Any) -> Any:
        """Fix every task id now; returns the result the workflow will have."""
        from . import _workflow

        if _id is not None:
            self.options["task_id"] = _id
        return _workflow.freeze(self.app, self)


def _flat_tasks(tasks: tuple[Any, ...]) -> list[Any]:
    """``f(a, b)`` or ``f([a, b])`` (any iterable, a generator too)."""
    if len(tasks) == 1 and not isinstance(tasks[0], Signature | Mapping):
        return list(tasks[0])
    return list(tasks)


@Signature.register_type("chain")
class _chain(_Composite):
    """Tasks run one after the other, each receiving the result of the one before
    (unless immutable). Its result is the last task's, with ``.parent`` links back."""

    def __init__(self, *tasks: Any, **options: Any) -> None:
        app = options.pop("app", None)
        steps: list[Signature] = []
        for task in _flat_tasks(tasks):
            sig = maybe_signature(task, app=app)
            if sig is None:
                continue
            if type(sig) is _chain and not sig.options and not sig.args:
                steps.extend(sig.tasks)  # nested chains flatten
            else:
                steps.append(sig)
        super().__init__(
            "celery.chain", (), {"tasks": steps}, options, subtask_type="chain", app=app
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        tasks = [maybe_signature(t, app=app) for t in d["kwargs"]["tasks"]]
        made = cls(*tasks, app=app, **dict(d.get("options") or {}))
        made.args = tuple(d.get("args") or ())
        made.immutable = bool(d.get("immutable"))
        return made

    @property
    def tasks(self) -> list[Signature]:
        tasks: list[Signature] = self.kwargs["tasks"]
        return tasks

    def _parts(self) -> list[Signature]:
        return self.tasks

    def __or__(self, other: Any) -> Signature:
        if not isinstance(other, Signature):
            return NotImplemented
        more = other.tasks if type(other) is _chain and not other.options else [other]
        return _chain(*self.tasks, *more, app=self._app, **self.options)

    def __repr__(self) -> str:
        return " | ".join(repr(t) for t in self.tasks) or "chain()"


chain = _chain


@Signature.register_type("group")
class group(_Composite):
    """Tasks run in parallel; its result is a :class:`GroupResult` (results in order)."""

    def __init__(self, *tasks: Any, **options: Any) -> None:
        app = options.pop("app", None)
        members = [maybe_signature(t, app=app) for t in _flat_tasks(tasks)]
        super().__init__(
            "celery.group",
            (),
            {"tasks": [m for m in members if m is not None]},
            options,
            subtask_type="group",
            app=app,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        tasks = [maybe_signature(t, app=app) for t in d["kwargs"]["tasks"]]
        made = cls(tasks, app=app, **dict(d.get("options") or {}))
        made.args = tuple(d.get("args") or ())
        return made

    @property
    def tasks(self) -> list[Signature]:
        tasks: list[Signature] = self.kwargs["tasks"]
        return tasks

    def _parts(self) -> list[Signature]:
        return self.tasks

    def __iter__(self) -> Any:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __or__(self, other: Any) -> Signature:
        """``group | task`` is a chord; ``group | group`` a chain."""
        if not isinstance(other, Signature):
            return NotImplemented
        if isinstance(other, group | _chain):
            return _chain(self, other, app=self._app)
        return _chord(self, other, app=self._app)

    def link(self, callback: Signature) -> Signature:
        """As Celery's: an immutable copy of ``callback`` linked to the first task (a
        callback after all of them is a chord)."""
        immutable = callback.clone()
        immutable.immutable = True
        if self.tasks:
            self.tasks[0].link(immutable)
        return immutable

    def link_error(self, errback: Signature) -> Signature:
        """Every task gets the errback (any of them may fail)."""
        for task in self.tasks:
            task.link_error(errback.clone())
        return errback

    def __repr__(self) -> str:
        return f"group([{', '.join(repr(t) for t in self.tasks)}])"


_group = group


@Signature.register_type("chord")
class _chord(_Composite):
    """A group (the header) and a task (the body) that receives the list of the
    header's results, in order, once they all succeeded."""

    def __init__(
        self,
        header: Any,
        body: Any = None,
        task: str = "celery.chord",
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        app: Celery | None = None,
        **options: Any,
    ) -> None:
        head = header if isinstance(header, group) else group(header, app=app)
        super().__init__(
            task,
            args,
            {"header": head, "body": maybe_signature(body, app=app), "kwargs": dict(kwargs or {})},
            options,
            subtask_type="chord",
            app=app,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        parts = d["kwargs"]
        header = parts["header"]  # a list of tasks, or a group
        if isinstance(header, Mapping):
            header = maybe_signature(header, app=app)
        return cls(header, parts.get("body"), app=app, **dict(d.get("options") or {}))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["kwargs"]["header"] = [task.to_dict() for task in self.header.tasks]
        return out

    @property
    def header(self) -> group:
        header: group = self.kwargs["header"]
        return header

    @property
    def body(self) -> Signature | None:
        body: Signature | None = self.kwargs["body"]
        return body

    @property
    def tasks(self) -> list[Signature]:
        return self.header.tasks

    def _parts(self) -> list[Signature]:
        return [*self.header.tasks, *([self.body] if self.body is not None else [])]

    def __call__(self, body: Any = None, **options: Any) -> Any:
        """``chord(header)(body)``: send it with that body."""
        made: _chord = self.clone() if body is not None else self  # type: ignore[assignment]
        if body is not None:
            made.kwargs["body"] = maybe_signature(body, app=self._app)
        return made.apply_async((), {}, **options)

    def __or__(self, other: Any) -> Signature:
        if not isinstance(other, Signature):
            return NotImplemented
        return _chain(self, other, app=self._app)

    def link(self, callback: Signature) -> Signature:
        return self._body().link(callback)

    def link_error(self, errback: Signature) -> Signature:
        """The body's errback; with ``task_allow_error_cb_on_chord_header``, every
        header task's too, as in Celery."""
        if self.app.conf.task_allow_error_cb_on_chord_header:
            for task in self.header.tasks:
                task.link_error(errback.clone())
        return self._body().link_error(errback)

    def _body(self) -> Signature:
        if self.body is None:
            raise ValueError("this chord has no body yet: chord(header)(body) gives it one")
        return self.body

    def __repr__(self) -> str:
        return f"chord({self.header!r}, {self.body!r})"


chord = _chord


class _MapBase(Signature):
    """A single task that calls ``task`` on each item of ``it``, in the worker."""

    builtin = ""

    def __init__(self, task: Any, it: Iterable[Any], **options: Any) -> None:
        app = options.pop("app", None)
        sig = maybe_signature(task, app=app)
        if sig is None:
            raise TypeError("a map needs a task")
        super().__init__(
            self.builtin,
            (),
            {"task": sig.to_dict(), "it": list(it)},
            options,
            immutable=True,
            app=app or sig._app,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        parts = d["kwargs"]
        return cls(parts["task"], parts["it"], app=app, **dict(d.get("options") or {}))

    def __repr__(self) -> str:
        task, it = self.kwargs["task"]["task"], self.kwargs["it"]
        star = "*" if self.builtin == "celery.starmap" else ""
        return f"[{task}({star}x) for x in {it!r}]"


@Signature.register_type("celery.map")  # Celery's dict has no subtask_type: by task name
class xmap(_MapBase):
    """``task.map(it)``: ``[task(x) for x in it]`` in one task."""

    builtin = "celery.map"


@Signature.register_type("celery.starmap")
class xstarmap(_MapBase):
    """``task.starmap(it)``: ``[task(*x) for x in it]`` in one task."""

    builtin = "celery.starmap"


@Signature.register_type("celery.chunks")
class chunks(_Composite):
    """``task.chunks(it, n)``: the items of ``it`` in parts of ``n``, each part one task
    (a ``starmap``), sent as a group: its result is the list of the parts' lists."""

    def __init__(self, task: Any, it: Iterable[Any], n: int, **options: Any) -> None:
        app = options.pop("app", None)
        sig = maybe_signature(task, app=app)
        if sig is None:
            raise TypeError("chunks need a task")
        if int(n) < 1:
            raise ValueError(f"chunks of {n} items: the size must be at least 1")
        super().__init__(
            "celery.chunks",
            (),
            {"task": sig, "it": list(it), "n": int(n)},
            options,
            immutable=True,
            app=app or sig._app,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        parts = d["kwargs"]
        return cls(parts["task"], parts["it"], parts["n"], app=app, **dict(d.get("options") or {}))

    def _parts(self) -> list[Signature]:
        task: Signature = self.kwargs["task"]
        return [task]

    def group(self) -> _group:
        """The group of starmap tasks, one per part."""
        task: Signature = self.kwargs["task"]
        items = iter(self.kwargs["it"])
        n: int = self.kwargs["n"]
        parts: list[Signature] = []
        while part := list(itertools.islice(items, n)):
            parts.append(xstarmap(task, part, app=self._app))
        return group(parts, app=self._app, **self.options)

    def __repr__(self) -> str:
        return f"chunks({self.kwargs['task']!r}, {self.kwargs['n']})"


def _plain_value(value: Any) -> Any:
    if isinstance(value, Signature):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [v.to_dict() if isinstance(v, Signature) else v for v in value]
    return value


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
