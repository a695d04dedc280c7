"""Sending a canvas: a chain, group or chord becomes core messages that wait for each
other in the core graph, all sent in one batch.

- In a chain each task waits for the one before and receives its result first
  (``pass_results="first"``); an immutable one (``si``) only waits.
- A group's tasks wait, side by side, for what came before the group; what follows a
  group waits for all of its tasks and receives their results as a list, in order
  (``pass_results="all"``).
- A chord is its header as a group, then its body.

No worker drives a workflow: the waiting is kept in Redis, so a worker that dies in the
middle strands nothing. Partial arguments and options follow Celery's rules: those given
to a chain go to its first task, those given to a group (or a chord's header) to each of
its tasks; ``task_id`` names a chain's last task, a group, or a chord's body; ``link``
goes to the last task, a chain's ``link_error`` to every task.

``apply()`` (and ``task_always_eager``) runs a workflow here instead, step by step.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ..core.message import TaskMessage, new_id
from ._calling import plan
from .canvas import Signature, _chain, _chord, chunks, group, maybe_signature
from .result import AsyncResult, GroupResult

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["RUN_OPTIONS", "Builder", "Given", "Step", "apply", "asend", "freeze", "send"]

# options a workflow places itself rather than passing on to its first tasks
RUN_OPTIONS = frozenset(
    {"task_id", "link", "link_error", "group_id", "group_index", "chord", "parent_id", "root_id"}
)
MEMBER_OPTIONS = ("group_id", "group_index", "chord")  # what makes a task a group member


@dataclasses.dataclass(frozen=True)
class Step:
    """What a part of a workflow hands to the part after it."""

    ids: tuple[str, ...]  # the tasks the next part waits for
    mode: str | None  # how it receives their results: "first" (one) or "all" (a list)
    result: Any  # the part's AsyncResult or GroupResult


START = Step((), None, None)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _merged(own: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A signature's options with those given at sending; callbacks add up."""
    out = {**own, **given}
    for key in ("link", "link_error"):
        if key in own and key in given:
            out[key] = [*_listed(own[key]), *_listed(given[key])]
    return out


@dataclasses.dataclass(frozen=True)
class Given:
    """What the caller gives a part when it is sent: partial arguments, options."""

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _chain_steps(sig: _chain, given: Given) -> Iterator[tuple[Signature, Given]]:
    """A chain's tasks, each with what it is given: the chain's arguments and options
    to the first, its errbacks to all, its id and callbacks (and its place in a group)
    to the last."""
    opts = _merged(sig.options, given.options)
    first = {k: v for k, v in opts.items() if k not in RUN_OPTIONS}
    errbacks = _listed(opts.get("link_error"))
    last = len(sig.tasks) - 1
    for index, task in enumerate(sig.tasks):
        placed: dict[str, Any] = dict(first) if index == 0 else {}
        if errbacks:
            placed["link_error"] = errbacks
        if index == last:
            placed.update(
                {
                    k: opts[k]
                    for k in ("task_id", "link", *MEMBER_OPTIONS)
                    if opts.get(k) is not None
                }
            )
        if index == 0:
            yield task, Given((*given.args, *sig.args), given.kwargs, placed)
        else:
            yield task, Given(options=placed)


def _group_members(sig: group, given: Given) -> tuple[str, list[tuple[Signature, Given]]]:
    """A group's id and its tasks, each given the group's arguments and options."""
    opts = _merged(sig.options, given.options)
    group_id = str(opts.get("task_id") or new_id())
    shared = {k: v for k, v in opts.items() if k not in ("task_id", "group_id", "group_index")}
    args = (*given.args, *sig.args)
    members = [
        (task, Given(args, given.kwargs, {**shared, "group_id": group_id, "group_index": index}))
        for index, task in enumerate(_members(sig))
    ]
    return group_id, members


def _chord_parts(sig: _chord, given: Given) -> tuple[Given, Signature, Given]:
    """What a chord's header is given, its body, and what the body is given (the
    chord's id, callbacks and place in a group)."""
    body = maybe_signature(sig.body)
    if body is None:
        raise ValueError("a chord needs a body: chord(header, body) or chord(header)(body)")
    opts = _merged(sig.options, given.options)
    placed = {k: opts.pop(k) for k in ("task_id", "link", "link_error", *MEMBER_OPTIONS[:2])
              if k in opts}  # fmt: skip
    header = Given(given.args, given.kwargs, {**opts, "chord": body.to_dict()})
    return header, body, Given(options={k: v for k, v in placed.items() if v is not None})


class Builder:
    """Turns a workflow into core messages (``freezing``: writes the ids it gives back
    into the signatures, so that sending them later uses the same ones)."""

    def __init__(self, app: Celery, *, freezing: bool = False) -> None:
        self.app = app
        self.freezing = freezing
        self.messages: list[TaskMessage] = []
        self.root_id: str | None = None

    def add(self, sig: Signature, before: Step, given: Given) -> Step:
        if isinstance(sig, chunks):
            sig = sig.group()
        if isinstance(sig, _chord):
            header_given, body, body_given = _chord_parts(sig, given)
            return self.add(body, self._group(sig.header, before, header_given), body_given)
        if isinstance(sig, group):
            return self._group(sig, before, given)
        if isinstance(sig, _chain):
            step = before
            for task, task_given in _chain_steps(sig, given):
                step = self.add(task, step, task_given)
            return step
        return self._task(sig, before, given)

    def finish(self) -> list[TaskMessage]:
        """The messages; a task whose result another receives keeps it, even with
        ``ignore_result`` (Celery passes it in the message; here it is read from Redis)."""
        needed = {p for m in self.messages if m.pass_results for p in m.parents}
        return [
            dataclasses.replace(m, ignore_result=False) if m.ignore_result and m.id in needed else m
            for m in self.messages
        ]

    def _task(self, sig: Signature, before: Step, given: Given) -> Step:
        opts = _merged(sig.options, given.options)
        if sig.immutable:
            call_args, call_kwargs = sig.args, dict(sig.kwargs)
        else:
            call_args, call_kwargs = (*given.args, *sig.args), {**sig.kwargs, **given.kwargs}
            if before.mode == "all" and not before.ids:  # after an empty group
                call_args = ([], *call_args)
        name = sig.task or ""
        task = self.app.tasks.get(name)
        if task is not None:
            opts = {**task.exec_options(), **opts}
        if self.root_id is not None:
            opts.setdefault("root_id", self.root_id)
        countdown = None
        if before.ids:
            opts["parent_id"] = before.ids[0]  # in Celery, the task before sends it
            countdown = opts.pop("countdown", None)  # from then, as in Celery
        opts["task_id"] = opts.get("task_id") or new_id()
        if self.freezing:
            sig.options["task_id"] = opts["task_id"]
        call = plan(self.app, name, call_args, call_kwargs, opts, task)
        message = call.message
        if before.ids:
            mode = None if sig.immutable else before.mode
            delay = None if countdown is None else float(countdown)
            message = dataclasses.replace(
                message, parents=before.ids, pass_results=mode, after_delay=delay
            )
        if self.root_id is None:
            self.root_id = message.root_id
        self.messages += [message, *call.linked]
        result = AsyncResult(message.id, task_name=name, app=self.app, parent=before.result)
        return Step((message.id,), "first", result)

    def _group(self, sig: group, before: Step, given: Given) -> Step:
        group_id, members = _group_members(sig, given)
        if self.freezing:
            sig.options["task_id"] = group_id
        ids: list[str] = []
        results: list[Any] = []
        for task, task_given in members:
            step = self.add(task, before, task_given)
            ids += step.ids
            results.append(step.result)
        result = GroupResult(group_id, results, parent=before.result, app=self.app)
        return Step(tuple(ids), "all", result)


def _members(sig: group) -> Iterator[Signature]:
    """A group's tasks, with groups nested in it (without options of their own)
    unrolled in place, as Celery does."""
    pending = [iter(sig.tasks)]
    while pending:
        task = next(pending[-1], None)
        if task is None:
            pending.pop()
        elif type(task) is group and not task.options and not task.args:
            pending.append(iter(task.tasks))
        else:
            yield task


# -- sending --------------------------------------------------------------------------


def _build(
    app: Celery, sig: Signature, args: tuple[Any, ...], kwargs: dict[str, Any], options: Any
) -> tuple[list[TaskMessage], Any]:
    builder = Builder(app)
    step = builder.add(sig, START, Given(args, kwargs, dict(options)))
    return builder.finish(), step.result


def send(
    app: Celery,
    sig: Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
) -> Any:
    """Send every task of the workflow in one batch; returns its result. A workflow
    with a task that Celery workers run goes as Celery's messages (celery_wire)."""
    if app.conf.get("celeriac_celery_tasks"):
        from . import celery_wire

        if celery_wire.celery_bound(app, sig):
            return celery_wire.send_workflow(app, sig, args, kwargs, options)
    messages, result = _build(app, sig, args, kwargs, options)
    if messages:
        app.publish(messages)
    return result


async def asend(
    app: Celery,
    sig: Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
) -> Any:
    """:func:`send` from async code."""
    if app.conf.get("celeriac_celery_tasks"):
        from . import celery_wire

        if celery_wire.celery_bound(app, sig):
            call = functools.partial(celery_wire.send_workflow, app, sig, args, kwargs, options)
            return await anyio.to_thread.run_sync(call)
    messages, result = _build(app, sig, args, kwargs, options)
    if messages:
        await app.apublish(messages)
    return result


def freeze(app: Celery, sig: Signature) -> Any:
    """Give every task of the workflow its id now; returns the workflow's result."""
    return Builder(app, freezing=True).add(sig, START, Given()).result


# -- running here ---------------------------------------------------------------------


def apply(sig: Signature, given: Given) -> Any:
    """Run the workflow in this process (eager mode), as Celery's ``apply()`` does: a
    chain step by step, each step given the value of the one before."""
    if isinstance(sig, chunks):
        return apply(sig.group(), given)
    if isinstance(sig, _chord):
        header_given, body, body_given = _chord_parts(sig, given)
        propagate = sig.app.conf.get("chord_propagates", True)
        header = apply(sig.header, header_given)
        values = header.get(propagate=propagate)
        result = apply(body, Given((values,), {}, body_given.options))
        result.parent = header
        return result
    if isinstance(sig, group):
        group_id, members = _group_members(sig, given)
        results = [apply(task, task_given) for task, task_given in members]
        return GroupResult(group_id, results, app=sig.app)
    if isinstance(sig, _chain):
        last: Any = None
        for task, placed in _chain_steps(sig, given):
            before = placed if last is None else dataclasses.replace(placed, args=(last.get(),))
            result = apply(task, before)
            result.parent = last
            last = result
        return last
    return sig.apply(given.args, given.kwargs, **given.options)
