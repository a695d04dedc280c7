"""Celery protocol 2 messages, both ways: a Celery message read from kombu made a celeriac
task (:func:`from_celery`), and a celeriac call or a Celery chain's next step sent to
Celery's queues through kombu (:func:`send_to_celery`)."""

from __future__ import annotations

import fnmatch
import importlib
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import redis

from ...core.message import TaskMessage
from .. import _calling
from ..request import META
from ..request import _iso as iso_time

if TYPE_CHECKING:
    from ..app import Celery

__all__ = [
    "Foreign",
    "broker_url",
    "client",
    "from_celery",
    "goes_to_celery",
    "send_to_celery",
]

logger = logging.getLogger("celeriac.worker")
kombu: Any = importlib.import_module("kombu")  # untyped: reached through Any
pools: Any = importlib.import_module("kombu.pools")

# the headers of protocol 2 itself; any other header is the caller's own
PROTOCOL_HEADERS = frozenset(
    {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
        "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
        "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    }
)  # fmt: skip


class Foreign(Exception):
    """A message this bridge cannot run (the reason is the message)."""


def from_celery(
    app: Celery,
    headers: Mapping[str, Any],
    body: Any,
    properties: Mapping[str, Any],
    queue: str,
) -> TaskMessage:
    """The celeriac message for a Celery protocol 2 message read from ``queue``;
    ``Foreign`` when it is not one this app can run."""
    name, task_id = headers.get("task"), headers.get("id")
    if not isinstance(name, str) or not isinstance(task_id, str):
        raise Foreign("not a Celery protocol 2 message (no 'task' and 'id' headers)")
    if not (isinstance(body, list | tuple) and len(body) == 3):
        raise Foreign("a Celery protocol 2 body is [args, kwargs, embed]")
    args, kwargs, embed = body
    if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping):
        raise Foreign("a Celery protocol 2 body is [args, kwargs, embed]")
    embed = embed if isinstance(embed, Mapping) else {}
    task = app.tasks.get(name)
    if task is None:
        raise Foreign(f"task {name!r} is not registered in this celeriac app")
    hard, soft = [*list(headers.get("timelimit") or ()), None, None][:2]  # Celery: [hard, soft]
    options: dict[str, Any] = {
        "task_id": task_id,
        "queue": queue,
        "eta": headers.get("eta"),
        "expires": headers.get("expires"),
        "priority": properties.get("priority"),
        "retries": headers.get("retries") or 0,
        "parent_id": headers.get("parent_id"),
        "root_id": headers.get("root_id"),
        "shadow": headers.get("shadow"),
        "group_id": headers.get("group"),
        "group_index": headers.get("group_index"),
        "time_limit": hard,
        "soft_time_limit": soft,
        "link_error": embed.get("errbacks"),
        "headers": {k: v for k, v in headers.items() if k not in PROTOCOL_HEADERS},
        "celeriac_bridge": {
            "chain": embed.get("chain"),
            "callbacks": embed.get("callbacks"),
            "chord": embed.get("chord"),
            "ignore_result": bool(headers.get("ignore_result")),
        },
    }
    options = {k: v for k, v in options.items() if v is not None}
    try:
        return _calling.plan(app, name, tuple(args), dict(kwargs), options, task).message
    except (TypeError, ValueError) as exc:
        raise Foreign(f"cannot read the message's options: {exc}") from exc


def broker_url(app: Celery) -> str:
    return str(app.conf.get("celeriac_celery_broker_url") or app.conf.broker_url)


_clients: dict[tuple[int, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    """One client per process and URL (a pool child makes its own)."""
    key = (os.getpid(), url)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = redis.Redis.from_url(url)
        return _clients[key]


_connections: dict[tuple[int, str], Any] = {}


def _producers(url: str) -> Any:
    """kombu's pool of producers for ``url``, shared by this process's threads (a kombu
    connection is not thread-safe: each thread borrows its own from the pool)."""
    key = (os.getpid(), url)
    with _clients_lock:
        if key not in _connections:
            _connections[key] = kombu.Connection(url)
        return pools.producers[_connections[key]]


def goes_to_celery(app: Celery, name: str) -> bool:
    """Whether ``name`` is sent to Celery workers (``celeriac_celery_tasks``: names or
    glob patterns, e.g. ``["legacy.*"]``)."""
    patterns = app.conf.get("celeriac_celery_tasks") or ()
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",")]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def send_to_celery(app: Celery, message: TaskMessage, link: Any = None) -> None:
    """Send a planned call as Celery protocol 2 on kombu's Redis transport, for a Celery
    worker to run (``link``: its callbacks)."""
    meta = message.headers.get(META)
    meta = meta if isinstance(meta, Mapping) else {}
    args, kwargs = list(message.args), dict(message.kwargs)
    headers = {
        **{k: v for k, v in message.headers.items() if k != META},
        "lang": "py",
        "task": message.name,
        "id": message.id,
        "shadow": meta.get("shadow"),
        "eta": iso_time(message.eta),
        "expires": iso_time(message.expires),
        "group": meta.get("group"),
        "group_index": meta.get("group_index"),
        "retries": message.retries,
        "timelimit": [message.timeout, message.soft_timeout],
        "root_id": message.root_id or message.id,
        "parent_id": message.parent_id,
        "argsrepr": repr(tuple(args)),
        "kwargsrepr": repr(kwargs),
        "origin": _calling.ORIGIN,
        "ignore_result": message.ignore_result,
    }
    embed = {
        "callbacks": [_as_dict(s) for s in _as_list(link)] or None,
        "errbacks": meta.get("errbacks"),
        "chain": meta.get("chain"),
        "chord": meta.get("chord"),
    }
    with _producers(broker_url(app)).acquire(block=True) as producer:
        producer.publish(
            [args, kwargs, embed],
            exchange="",
            routing_key=message.queue,
            headers=headers,
            priority=meta.get("priority"),
            correlation_id=message.id,
            serializer="json",
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2},
        )


def _as_dict(sig: Any) -> dict[str, Any]:
    return dict(sig.to_dict() if hasattr(sig, "to_dict") else sig)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
