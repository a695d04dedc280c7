"""Celery's workflows, made of signatures: ``chain`` (``a | b``), ``group``, ``chord``,
``chunks`` and ``xmap``/``xstarmap`` (``task.map``, ``task.starmap``). Import them from
``canvas``, which re-exports them (this module needs ``canvas.Signature`` first).

Sending one turns it into core messages that wait for each other in the core graph (see
``_workflow``): they are all sent at once, and the waiting is done in Redis.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .canvas import Signature, maybe_signature

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["_chain", "_chord", "chain", "chord", "chunks", "group", "xmap", "xstarmap"]


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


class _OfTasks(_Composite):
    """A composite made of a list of tasks (``kwargs["tasks"]``): a chain, a group."""

    @property
    def tasks(self) -> list[Signature]:
        tasks: list[Signature] = self.kwargs["tasks"]
        return tasks

    def _parts(self) -> list[Signature]:
        return self.tasks


def _flat_tasks(tasks: tuple[Any, ...]) -> list[Any]:
    """``f(a, b)`` or ``f([a, b])`` (any iterable, a generator too)."""
    if len(tasks) == 1 and not isinstance(tasks[0], Signature | Mapping):
        return list(tasks[0])
    return list(tasks)


@Signature.register_type("chain")
class _chain(_OfTasks):
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

    def __or__(self, other: Any) -> Signature:
        if not isinstance(other, Signature):
            return NotImplemented
        more = other.tasks if type(other) is _chain and not other.options else [other]
        return _chain(*self.tasks, *more, app=self._app, **self.options)

    def __repr__(self) -> str:
        return " | ".join(repr(t) for t in self.tasks) or "chain()"


chain = _chain


@Signature.register_type("group")
class group(_OfTasks):
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
