"""From ``apply_async`` options to core messages: routing, Celery's priority meaning,
countdown/eta/expires, time limits, headers, ``link`` callbacks (as dependents in the
core graph) and ``link_error`` errbacks (kept with the message, called by ``_trace``),
and the publish signals."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import os
import socket
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.context import _current
from ..core.message import TaskMessage, new_id
from ..core.options import to_timestamp
from . import signals
from .canvas import Signature, maybe_signature
from .request import META

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["CELERY_STEPS", "Call", "core_priority", "core_steps", "plan"]

MAX_PRIORITY = 9
CELERY_STEPS = (0, 3, 6, 9)  # kombu's Redis default
ORIGIN = f"{os.getpid()}@{socket.gethostname()}"

# options that are Celery's own and mean nothing here (AMQP, connection objects...)
IGNORED_OPTIONS = frozenset(
    {
        "producer", "connection", "publisher", "exchange", "exchange_type", "routing_key",
        "delivery_mode", "mandatory", "immediate", "declare", "retry", "retry_policy",
        "compression", "expiration", "reply_to", "add_to_parent", "result_cls", "router",
        "route_name", "task_type", "argsrepr", "kwargsrepr", "stamped_headers", "stamps",
        "content_type", "content_encoding", "replaced_task_nesting",
    }
)  # fmt: skip


def core_priority(priority: int | None, steps: Sequence[int] = CELERY_STEPS) -> int:
    """Celery's Redis transport serves *lower* numbers first, in bands (kombu's
    ``priority_steps``: 0-2, 3-5, 6-8, 9 by default); the core serves higher ones first.
    A priority becomes its band's step, mirrored: band 0 is served first in both."""
    value = 0 if priority is None else min(max(int(priority), 0), MAX_PRIORITY)
    band = steps[max(bisect.bisect_right(steps, value) - 1, 0)]
    return max(steps) - band


def core_steps(steps: Sequence[int] = CELERY_STEPS) -> tuple[int, ...]:
    """The core's priority steps that mirror Celery's."""
    return tuple(sorted(max(steps) - step for step in steps))


@dataclasses.dataclass
class Call:
    """One ``apply_async``: the main message and those of its ``link`` callbacks."""

    message: TaskMessage
    linked: list[TaskMessage]

    @property
    def messages(self) -> list[TaskMessage]:
        return [self.message, *self.linked]


def _when(options: Mapping[str, Any]) -> float | None:
    countdown, eta = options.get("countdown"), options.get("eta")
    if countdown is not None:
        return time.time() + float(countdown)
    if isinstance(eta, str):
        eta = dt.datetime.fromisoformat(eta)
    return to_timestamp(eta)


def _expires(options: Mapping[str, Any]) -> float | None:
    expires = options.get("expires")
    if isinstance(expires, str):
        expires = dt.datetime.fromisoformat(expires)
    if isinstance(expires, dt.timedelta):
        expires = expires.total_seconds()
    return to_timestamp(expires, relative=True)


def _limit(options: Mapping[str, Any], task: Any, conf: Any, name: str) -> float | None:
    for found in (options.get(name), getattr(task, name, None), conf.get(f"task_{name}")):
        if found is not None:
            return float(found)
    return None


def _ignore_result(app: Celery, options: Mapping[str, Any], task: Any) -> bool:
    if not app.results_enabled:
        return True
    for found in (options.get("ignore_result"), getattr(task, "ignore_result", None)):
        if found is not None:
            return bool(found)
    return bool(app.conf.task_ignore_result)


def _meta(options: Mapping[str, Any], priority: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"origin": ORIGIN}
    if priority is not None:
        meta["priority"] = priority
    for key in ("shadow", "group_id", "group_index", "chord", "chain"):
        if options.get(key) is not None:
            meta["group" if key == "group_id" else key] = options[key]
    errbacks = _signatures(options.get("link_error"))
    if errbacks:
        meta["errbacks"] = [s.to_dict() for s in errbacks]
    if options.get("celeriac_bridge") is not None:  # sent by Celery (celery_wire.py)
        meta["bridge"] = options["celeriac_bridge"]
    return meta


def _signatures(value: Any) -> list[Signature]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [s for s in (maybe_signature(item) for item in items) if s is not None]


def _lineage(options: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Parent and root ids: given, or the task this call is sent from."""
    parent, root = options.get("parent_id"), options.get("root_id")
    ctx = _current.get(None)
    if ctx is not None:
        parent = parent or ctx.message.id
        root = root or ctx.message.root_id or ctx.message.id
    return parent, root


def plan(
    app: Celery,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
    task: Any = None,
) -> Call:
    """The messages one ``apply_async`` sends (publish signals sent around by caller)."""
    app.warn_unknown_options(options)
    routed = app.router.route(options, name, args, kwargs, task)
    priority = routed.get("priority", app.conf.task_default_priority)
    task_id = options.get("task_id") or new_id()
    parent_id, root_id = _lineage(options)
    headers = {k: v for k, v in dict(options.get("headers") or {}).items() if k != META}
    headers[META] = _meta({**options, **routed}, priority)
    message = TaskMessage(
        name=name,
        args=tuple(args),
        kwargs=dict(kwargs),
        id=task_id,
        queue=routed["queue"],
        priority=core_priority(priority, app.priority_steps),
        eta=_when(options),
        expires=_expires(routed),
        retries=int(options.get("retries") or 0),
        max_retries=None,  # the façade's retry() decides, as Celery's does
        timeout=_limit(routed, task, app.conf, "time_limit"),
        soft_timeout=_limit(routed, task, app.conf, "soft_time_limit"),
        ignore_result=_ignore_result(app, options, task),
        parent_id=parent_id,
        root_id=root_id or task_id,
        headers=headers,
    )
    return Call(message, _linked(app, message, options.get("link")))


def _linked(app: Celery, parent: TaskMessage, link: Any) -> list[TaskMessage]:
    """``link`` callbacks as dependents of the task in the core graph: each runs once it
    succeeded, with its result first (unless immutable)."""
    linked: list[TaskMessage] = []
    for sig in _signatures(link):
        options = {**sig.options, "parent_id": parent.id, "root_id": parent.root_id}
        countdown = options.pop("countdown", None)  # counts from the task's end
        task = app.tasks.get(sig.task or "")
        call = plan(app, sig.task or "", sig.args, sig.kwargs, options, task)
        pass_results = None if sig.immutable else "first"
        dependent = dataclasses.replace(
            call.message,
            parents=(parent.id,),
            pass_results=pass_results,
            after_delay=None if countdown is None else float(countdown),
        )
        linked += [dependent, *call.linked]
    return linked


def publish_signals(message: TaskMessage, before: bool) -> None:
    """``before_task_publish`` / ``after_task_publish``, with Celery's arguments; a
    receiver of the first may add headers (they reach the task)."""
    headers = {"task": message.name, "id": message.id, **message.headers}
    body: tuple[Any, ...] = (list(message.args), dict(message.kwargs), {})
    signal = signals.before_task_publish if before else signals.after_task_publish
    extra: dict[str, Any] = {"exchange": "", "routing_key": message.queue}
    if before:
        extra.update(properties={}, declare=[], retry_policy=None)
    signal.send(sender=message.name, body=body, headers=headers, **extra)
    if before:
        added = {k: v for k, v in headers.items() if k not in ("task", "id")}
        if added != dict(message.headers):
            object.__setattr__(message, "headers", added)
