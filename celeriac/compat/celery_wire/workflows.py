"""Workflows the way a Celery producer sends them, so Celery workers (and this bridge) can
carry them on: a chain travels in its first message (the steps still to run, last
first), a group is its tasks sent with the group's id and their places in it, and a
chord is its header sent as such a group with the body in each message; the chord's size
is kept in Celery's result backend, where each header task that ends adds its result
(``answers.part_returned``), and whichever adds the last sends the body.

Ids are given before anything is sent (the same rules as celeriac's own workflows,
``_workflow.freeze``), so the result returned is complete at once; it reads Celery's
result backend (:class:`~.results.CeleryResult`, a ``GroupResult`` of them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...core.message import new_id
from .. import _calling
from .._workflow import (
    START,
    Builder,
    Given,
    _chain_steps,
    _chord_parts,
    _group_members,
    _listed,
    _merged,
)
from .._workflow import _members as group_tasks
from ..canvas import Signature, _chain, _chord, chunks, group, maybe_signature
from ..result import AsyncResult, GroupResult
from .messages import send_to_celery
from .results import (
    CeleryResult,
    chord_expires,
    result_client,
)

if TYPE_CHECKING:
    from ..app import Celery

__all__ = ["celery_bound", "chord_size", "group_key", "send_workflow"]

GROUP_PREFIX = "celery-taskset-meta-"  # Celery's Redis backend's keys of a group


def group_key(group_id: str, suffix: str) -> str:
    return f"{GROUP_PREFIX}{group_id}{suffix}"


# -- which calls go to Celery ---------------------------------------------------------


def _task_names(sig: Signature) -> list[str]:
    if isinstance(sig, chunks):
        return _task_names(sig.group())
    if isinstance(sig, _chord):
        body = maybe_signature(sig.body)
        return [*_task_names(sig.header), *([] if body is None else _task_names(body))]
    if isinstance(sig, group | _chain):
        return [name for task in sig.tasks for name in _task_names(task)]
    return [str(sig.task or "")]


def celery_bound(app: Celery, sig: Signature) -> bool:
    """Whether a workflow has a task that Celery workers run (``celeriac_celery_tasks``):
    then all of it is sent as Celery's, for Celery workers and the bridge to carry on."""
    from .messages import goes_to_celery

    return any(goes_to_celery(app, name) for name in _task_names(sig))


# -- sending --------------------------------------------------------------------------


def send_workflow(
    app: Celery,
    sig: Any,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    with_result: bool = True,
) -> Any:
    """Send a task or workflow (or its dict, as messages carry them) as Celery protocol
    2 messages, as Celery does: ``args`` before its own (unless immutable), ``options``
    over its own; ``chain`` (steps still to run, last first) goes on after it. Returns
    its result (reading Celery's result backend) ``with_result``."""
    found = maybe_signature(sig, app=app)
    if found is None:
        return None
    given = Given(tuple(args), dict(kwargs or {}), dict(options or {}))
    if not with_result:
        _send(app, found, given)
        return None
    found = _copy(app, found)
    frozen = Builder(app, freezing=True).add(found, START, _without_chain(given)).result
    _send(app, found, given)
    return _read_from_celery(app, frozen)


def _send(app: Celery, sig: Signature, given: Given) -> None:
    if isinstance(sig, chunks):
        sig = sig.group()
    if isinstance(sig, _chord):
        _send_chord(app, sig, given)
    elif isinstance(sig, group):
        if given.options.get("chain"):
            raise ValueError("a group followed by more steps is sent as a chord")
        for task, task_given in _group_members(sig, given)[1]:
            _send(app, task, task_given)
    elif isinstance(sig, _chain):
        _send_chain(app, sig, given)
    else:
        _send_task(app, sig, given)


def _send_task(app: Celery, sig: Signature, given: Given) -> None:
    options = _merged(sig.options, given.options)  # callbacks add up
    if sig.immutable:
        args, kwargs = tuple(sig.args), dict(sig.kwargs)
    else:
        args, kwargs = (*given.args, *sig.args), {**sig.kwargs, **given.kwargs}
    name = str(sig.task or "")
    task = app.tasks.get(name)
    if task is not None:
        options = {**task.exec_options(), **options}
    link = options.pop("link", None)  # sent in the message, not kept by celeriac
    options["chain"] = options.get("chain") or None
    message = _calling.plan(app, name, args, kwargs, options, task).message
    _calling.publish_signals(message, before=True)
    send_to_celery(app, message, link)
    _calling.publish_signals(message, before=False)


def _send_chain(app: Celery, sig: _chain, given: Given) -> None:
    after = _listed(given.options.get("chain"))  # what follows this chain, last first
    steps = list(_chain_steps(_with_chords(sig), _without_chain(given)))
    if not steps:
        return
    (first, first_given), later = steps[0], steps[1:]
    root = given.options.get("root_id") or _calling._lineage({})[1] or first.options.get("task_id")
    rest = [_placed(task, task_given, root).to_dict() for task, task_given in later]
    options = {**first_given.options, "chain": [*after, *reversed(rest)] or None}
    if root:
        options["root_id"] = root
    _send(app, first, dataclasses.replace(first_given, options=options))


def _send_chord(app: Celery, sig: _chord, given: Given) -> None:
    after = given.options.get("chain")
    header_given, body, body_given = _chord_parts(sig, _without_chain(given))
    body = _placed(body, body_given, given.options.get("root_id"))
    if after:
        body.options["chain"] = after
    body.options.setdefault("task_id", new_id())
    header = sig.header
    members = list(group_tasks(header))
    for member in members:
        if isinstance(member, _chord | group):
            raise ValueError(
                "a chord or group inside a chord's header cannot be sent to Celery workers"
            )
    if not members:  # nothing to wait for: the body runs with no results
        _send(app, body, Given(([],)))
        return
    group_id = str(header.options.get("task_id") or new_id())
    header.options["task_id"] = group_id
    chord_size(app, group_id, len(members))
    options = {**header_given.options, "chord": body.to_dict(), "task_id": group_id}
    _send(app, header, dataclasses.replace(header_given, options=options))


def chord_size(app: Celery, group_id: str, size: int) -> None:
    """Tell Celery's result backend how many results a chord waits for (a chord sent
    again with the same id starts over)."""
    client = result_client(app)
    with client.pipeline() as pipe:
        pipe.delete(group_key(group_id, ".c"))
        pipe.set(group_key(group_id, ".s"), size, ex=chord_expires(app) or None)
        pipe.execute()


def _with_chords(sig: _chain) -> _chain:
    """A chain in which a group followed by a step is a chord of the two, as Celery
    sends it (the step then receives the group's results)."""
    tasks = list(sig.tasks)
    out: list[Signature] = []
    for task in tasks:
        if out and type(out[-1]) is group:
            out[-1] = _chord(out[-1], task, app=_app_of(sig))
        else:
            out.append(task)
    if len(out) == len(tasks):
        return sig
    made = _chain(*out, app=_app_of(sig), **sig.options)
    made.args, made.kwargs = sig.args, {**made.kwargs}
    return made


def _app_of(sig: Signature) -> Any:
    return getattr(sig, "_app", None)


def _placed(sig: Signature, given: Given, root_id: str | None) -> Signature:
    """A copy of ``sig`` with the options it was given (to travel in a message)."""
    made = sig.clone()
    made.options.update({k: v for k, v in given.options.items() if v is not None})
    if root_id:
        made.options.setdefault("root_id", root_id)
    return made


def _without_chain(given: Given) -> Given:
    if "chain" not in given.options:
        return given
    return dataclasses.replace(
        given, options={k: v for k, v in given.options.items() if k != "chain"}
    )


def _copy(app: Celery, sig: Signature) -> Signature:
    """A deep copy (giving ids writes into the signatures; the caller's keep theirs)."""
    copied = maybe_signature(json.loads(json.dumps(sig.to_dict(), default=repr)), app=app)
    assert copied is not None
    return copied


def _read_from_celery(app: Celery, result: Any) -> Any:
    """The same results, read where Celery's result backend keeps them."""
    if isinstance(result, GroupResult):
        members = [_read_from_celery(app, r) for r in result.results]
        parent = _read_from_celery(app, result.parent)
        return GroupResult(result.id, members, parent=parent, app=app)
    if isinstance(result, AsyncResult):
        parent = _read_from_celery(app, result.parent)
        return CeleryResult(result.id, task_name=result.task_name, app=app, parent=parent)
    return result
