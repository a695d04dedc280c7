"""What a celeriac worker does when a task that came from Celery ends, as a Celery worker
would: its result where Celery reads it (:func:`answer`); its place in a chord, the
last one sending the body (:func:`part_returned`); after a success the chain's next
step and the callbacks, after a failure the errbacks (:func:`call_errback`) and the
chain's remaining steps failed (:func:`fail_chain`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...core.message import new_id
from .. import states
from .._trace import _takes_request
from .._workflow import _listed
from ..canvas import Signature, _chord, maybe_signature
from ..exceptions import ChordError
from ..request import Context
from .messages import logger
from .results import (
    celery_meta,
    chord_expires,
    encoded_result,
    extended,
    result_client,
    store_result,
    task_outcome,
)
from .workflows import group_key, send_workflow

if TYPE_CHECKING:
    from ..app import Celery

__all__ = ["answer", "call_errback", "fail_chain", "part_returned"]

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
    keys = [group_key(group_id, s) for s in (".j", ".t", ".s", ".d", ".c")]
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
