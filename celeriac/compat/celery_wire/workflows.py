"""Workflows the way a Celery producer sends them, so Celery workers (and this bridge) can
carry them on: a chain travels in its first message (the steps still to run, last
first), a group is its tasks sent with the group's id and their places in it, and a
chord is its header sent as such a group with the body in each message; the chord's size
is kept in Celery's result backend, where each header task that ends adds its result
(:func:`part_returned`), and whichever adds the last sends the body.

Ids are given before anything is sent (the same rules as celeriac's own workflows,
``_workflow.freeze``), so the result returned is complete at once; it reads Celery's
result backend (:class:`~.results.CeleryResult`, a ``GroupResult`` of them).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...core.message import new_id
from .. import _calling, states
from .._trace import _takes_request
from .._workflow import START, Builder, Given, _chain_steps, _chord_parts, _group_members
from .._workflow import _members as group_tasks
from ..canvas import Signature, _chain, _chord, chunks, group, maybe_signature
from ..exceptions import ChordError
from ..request import Context
from ..result import AsyncResult, GroupResult
from .messages import logger, send_to_celery
from .results import (
    CeleryResult,
    celery_meta,
    chord_expires,
    encoded_result,
    extended,
    result_client,
    store_result,
    task_outcome,
)

if TYPE_CHECKING:
    from ..app import Celery

__all__ = [
    "answer",
    "call_errback",
    "celery_bound",
    "chord_size",
    "fail_chain",
    "part_returned",
    "send_workflow",
]

GROUP_PREFIX = "celery-taskset-meta-"  # Celery's Redis backend's keys of a group

# A header task's result joins the chord's (each header place once, even when a task
# runs twice); when the results number the chord's size, whoever counted the last takes
# the claim to send the body (one process only). The keys and values are Celery's, so
# Celery workers and this bridge can share one chord.
# KEYS: the joined results (zset: encoded result by header place), the extra count
#       (tasks added to the header), the size, the places seen (set), the claim.
# ARGV: task id, encoded result, header place, keys' lifetime (s, 0: none), claim's
#       lifetime (s), claim token.
# Returns {results joined, extra count, size, 1 if this call holds the claim}; {-1, ...}
# once the chord is done.
PART_RETURNED = """
local joined, extra, size_key, seen, claim = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local task_id, value, place = ARGV[1], ARGV[2], ARGV[3]
local expires, claim_expires, token = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
if redis.call('GET', claim) == 'done' then return {-1, 0, 0, 0} end
if redis.call('SADD', seen, task_id .. ':' .. place) == 1 then
    redis.call('ZADD', joined, place, value)
end
local count = redis.call('ZCARD', joined)
if expires > 0 then
    for _, key in ipairs({joined, extra, size_key, seen}) do redis.call('EXPIRE', key, expires) end
end
local more, size = redis.call('GET', extra), redis.call('GET', size_key)
local claimed = 0
if size and count == tonumber(size) + tonumber(more or 0) then
    if redis.call('SET', claim, token, 'NX', 'EX', claim_expires) then claimed = 1 end
end
return {count, more, size, claimed}
"""

# The body is sent: the chord's keys go, and a mark stays so a late copy of a header
# task cannot start the chord again.
# KEYS: the claim, the joined results, the extra count, the size, the places seen.
# ARGV: the claim token, the mark's lifetime (s). Returns 1, or 0 if the claim was lost.
CHORD_DONE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('SET', KEYS[1], 'done', 'EX', tonumber(ARGV[2]))
return 1
"""
CLAIM_SECONDS = 10
DONE_SECONDS = 300


def _key(group_id: str, suffix: str) -> str:
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
    options = {**sig.options, **given.options}
    for key in ("link", "link_error"):  # callbacks add up
        if key in sig.options and key in given.options:
            options[key] = [*_listed(sig.options[key]), *_listed(given.options[key])]
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
        pipe.delete(_key(group_id, ".c"))
        pipe.set(_key(group_id, ".s"), size, ex=chord_expires(app) or None)
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


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


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


# -- a task that came from Celery ended -----------------------------------------------


def answer(app: Celery, request: Any, state: str, value: Any, exc: BaseException | None) -> None:
    """A task that came from Celery ended (or will retry), as a Celery worker answers:
    its result where Celery reads it; its place in a chord; after a success the chain's
    next step and the callbacks sent on, after a failure the chain's steps failed."""
    bridge = getattr(request, "bridge", None)
    if not isinstance(bridge, Mapping):
        return
    task_id = str(request.id)
    lineage = {"parent_id": task_id, "root_id": str(request.root_id or task_id)}
    try:
        if not bridge.get("ignore_result") or exc is not None:
            meta = celery_meta(task_id, state, value, exc=exc)
            store_result(app, {**meta, **extended(app, request)})
        if state in states.READY_STATES:
            part_returned(
                app, task_id, request.group, request.group_index, bridge.get("chord"),
                state, value, exc,
            )  # fmt: skip
        chain = list(bridge.get("chain") or ())
        if state == states.SUCCESS:
            if chain:
                options = {**lineage, "chain": chain or None}
                send_workflow(app, chain.pop(), (value,), None, options, with_result=False)
            for callback in bridge.get("callbacks") or ():
                send_workflow(app, callback, (value,), None, lineage, with_result=False)
        elif state in states.PROPAGATE_STATES and exc is not None:
            fail_chain(app, chain, exc)
    except Exception:
        logger.exception("Cannot answer Celery for task %s[%s]", request.task, task_id)


# -- a chord's header task ended ------------------------------------------------------


def part_returned(
    app: Celery,
    task_id: str,
    group_id: str | None,
    group_index: int | None,
    chord: Any,
    state: str,
    value: Any = None,
    exc: BaseException | None = None,
) -> None:
    """A header task of a Celery chord ended here: its result joins the chord's, as a
    Celery worker adds it; the last one sends the body (or fails it, as Celery does,
    when a header task failed)."""
    if not group_id or not chord:
        return
    place = "+inf" if group_index is None else str(group_index)
    encoded = json.dumps([1, task_id, state, encoded_result(value, exc)], default=repr)
    keys = [_key(group_id, s) for s in (".j", ".t", ".s", ".d", ".c")]
    token = uuid.uuid4().hex
    client = result_client(app)
    count, more, size, claimed = client.eval(
        PART_RETURNED, 5, *keys,
        task_id, encoded, place, chord_expires(app), CLAIM_SECONDS, token,
    )  # fmt: skip
    if count == -1 or not size or not claimed or count != int(size) + int(more or 0):
        return
    body = maybe_signature(chord, app=app)
    assert body is not None
    try:
        values = [_joined(json.loads(entry)) for entry in client.zrange(keys[0], 0, -1)]
    except ChordError as error:
        logger.error("Chord %r raised: %r", group_id, error)
        client.delete(keys[2])  # a late copy of a header task must not fail it again
        _fail_body(app, body, error)
        return
    try:
        send_workflow(app, body, (values,), with_result=False)
    except Exception as error:
        logger.exception("Chord callback for %r raised: %r", group_id, error)
        _fail_body(app, body, ChordError(f"Callback error: {error!r}"))
    finally:
        client.eval(CHORD_DONE, 5, keys[4], *keys[:4], token, DONE_SECONDS)


def _joined(entry: Sequence[Any]) -> Any:
    """A header task's value; ``ChordError`` when it failed (or was revoked)."""
    _, task_id, state, value = entry
    if state in states.PROPAGATE_STATES:
        cause = task_outcome(state, value)
        error = ChordError(f"Dependency {task_id} raised {cause!r}")
        error.__cause__ = cause
        raise error
    return value


def _fail_body(app: Celery, body: Signature, error: ChordError) -> None:
    """The body will not run: it fails with ``error``, its errbacks are called (those
    taking the request here, the others sent with its id), as a Celery worker does."""
    body_id = str(body.options.get("task_id") or new_id())
    root_id = body.options.get("root_id")
    request = Context(
        id=body_id, task=body.task, args=list(body.args), kwargs=dict(body.kwargs),
        root_id=root_id, errbacks=body.options.get("link_error"), delivery_info={},
    )  # fmt: skip
    for errback in _listed(body.options.get("link_error")):
        sig = maybe_signature(errback, app=app)
        if sig is None:
            continue
        try:
            call_errback(app, sig, request, error)
        except Exception:
            logger.exception("Errback %r raised an exception", sig.task)
    store_result(app, celery_meta(body_id, states.FAILURE, exc=error))
    fail_chain(app, body.options.get("chain"), error)


def fail_chain(app: Celery, chain: Any, exc: BaseException) -> None:
    """The steps after a task that failed fail too, as Celery 5.7 marks them, so that
    waiting for a chain's last result ends (a chord's place in a chain is its body's;
    a step in a chord's header returns its part)."""
    pending = [maybe_signature(step, app=app) for step in _listed(chain)]
    while pending:
        step = pending.pop()
        if step is None:
            continue
        if isinstance(step, _chord):
            pending.append(maybe_signature(step.body, app=app))
            continue
        step_id = step.options.get("task_id")
        if step_id is None:
            continue
        store_result(app, celery_meta(str(step_id), states.FAILURE, exc=exc))
        options = step.options
        part_returned(
            app, str(step_id), options.get("group_id"), options.get("group_index"),
            options.get("chord"), states.FAILURE, exc=exc,
        )  # fmt: skip


def call_errback(
    app: Celery, errback: Signature, request: Any, exc: BaseException, traceback: Any = None
) -> None:
    """One errback of a task that came from Celery: called here with ``(request, exc,
    traceback)`` when it takes them (Celery's new style), else sent to Celery's queues
    with the task's id."""
    if errback.task in app.tasks and _takes_request(errback):
        errback(request, exc, traceback)
        return
    root_id = request.root_id or request.id
    options = {"parent_id": request.id, "root_id": root_id}
    send_workflow(app, errback, (request.id,), None, options, with_result=False)
