"""Mixed fleets: Celery's wire protocol (version 2) on kombu's Redis transport, so that
Celery and celeriac processes share work during a gradual migration.

In: a celeriac worker started with ``--celery-queues q1,q2`` (setting
``celeriac_celery_queues``) also reads those queues as Celery writes them (kombu's list
per queue and priority, with its unacked bookkeeping). Each message becomes a celeriac
task of the same id in the celeriac queue of the same name (which the worker then
consumes), and is acknowledged to kombu once that is stored, so none is lost between
the two. When the task ends, its result is written where Celery's Redis result backend
keeps it (``celery-task-meta-<id>``, published on the key's channel too), so the Celery
caller's ``AsyncResult.get()`` returns it, or raises its exception; the rest of a
Celery chain, and the ``link`` callbacks, are then sent on as Celery messages (a Celery
worker, or this bridge again, runs them).

Out: :func:`publish` sends a task as a Celery protocol 2 message on kombu's transport,
for Celery workers to run (``app.conf.celeriac_celery_tasks`` names the tasks that go
this way; see ``_calling.py``).

What cannot be run here is never dropped silently: a message that is not Celery
protocol 2 (protocol 1, another producer's), whose content type or body cannot be
decoded, or that names a task this app does not have, is logged and moved to the Redis
list ``celeriac.celery-dead.<queue>`` (a JSON record: the reason, the queue, and the
message as kombu stored it), from where it can be inspected or pushed back.

Broker and backend: kombu connects to ``celeriac_celery_broker_url`` (default: the
app's ``broker_url``, which in a migrating project is Celery's); results go to
``celeriac_celery_result_backend`` (default: ``result_backend`` when it is a Redis URL,
else the broker).
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import importlib
import json
import logging
import os
import socket
import threading
import time
import traceback as tb
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import redis

from ..core.errors import BrokerError
from ..core.message import TaskMessage, new_id
from . import _calling
from . import exceptions as celery_exceptions
from .exceptions import TimeoutError as CeleryTimeoutError
from .request import META
from .request import _iso as iso_time
from .result import AsyncResult

if TYPE_CHECKING:
    from .app import Celery

__all__ = [
    "BRIDGE",
    "CeleryConsumer",
    "CeleryResult",
    "Foreign",
    "celery_meta",
    "dead_letter_key",
    "from_celery",
    "publish",
    "store_result",
]

logger = logging.getLogger("celeriac.worker")
kombu: Any = importlib.import_module("kombu")  # untyped: reached through Any

BRIDGE = "bridge"  # in a message's façade meta: it came from Celery, how to answer it
RESULT_PREFIX = "celery-task-meta-"
DEFAULT_EXPIRES = 86400  # Celery's result_expires
# the headers of protocol 2 itself; any other header is the caller's own
PROTOCOL_HEADERS = frozenset(
    {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
        "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
        "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    }
)  # fmt: skip
ORIGIN = f"{os.getpid()}@{socket.gethostname()}"


class Foreign(Exception):
    """A message this bridge cannot run (the reason is the message)."""


def dead_letter_key(queue: str) -> str:
    return f"celeriac.celery-dead.{queue}"


# -- Celery's message -> celeriac's -------------------------------------------------------


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


# -- celeriac's outcome -> Celery's result backend ---------------------------------------


def _exception_meta(exc: BaseException) -> dict[str, Any]:
    try:
        json.dumps(list(exc.args))
        message: Any = list(exc.args)
    except (TypeError, ValueError):
        message = [str(exc)]
    module = type(exc).__module__
    if module.startswith("celeriac.") and hasattr(celery_exceptions, type(exc).__name__):
        module = "celery.exceptions"  # ours mirror Celery's: a Celery caller rebuilds its own
    return {"exc_type": type(exc).__name__, "exc_message": message, "exc_module": module}


def celery_meta(
    task_id: str,
    state: str,
    result: Any = None,
    *,
    exc: BaseException | None = None,
    children: Iterable[Any] = (),
) -> dict[str, Any]:
    """A result as Celery's Redis backend stores it (JSON)."""
    value = _exception_meta(exc) if exc is not None else result
    trace = None
    if exc is not None and exc.__traceback__ is not None:
        trace = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "status": state,
        "result": value,
        "traceback": trace,
        "children": list(children),
        "date_done": dt.datetime.now(dt.timezone.utc).isoformat(),
        "task_id": task_id,
    }


_clients: dict[tuple[int, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> redis.Redis:
    """One client per process and URL (a pool child makes its own)."""
    key = (os.getpid(), url)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = redis.Redis.from_url(url)
        return _clients[key]


def result_backend_url(app: Celery) -> str:
    conf = app.conf
    configured = conf.get("celeriac_celery_result_backend")
    if configured:
        return str(configured)
    backend = str(conf.result_backend or "")
    return backend if backend.startswith(("redis://", "rediss://")) else broker_url(app)


def broker_url(app: Celery) -> str:
    return str(app.conf.get("celeriac_celery_broker_url") or app.conf.broker_url)


def store_result(app: Celery, meta: Mapping[str, Any]) -> None:
    """Write a result where Celery's Redis backend keeps it, and publish it on the key's
    channel (a Celery caller waiting in ``get()`` listens there)."""
    key = RESULT_PREFIX + str(meta["task_id"])
    data = json.dumps(meta, default=repr)
    expires = app.conf.result_expires
    if isinstance(expires, dt.timedelta):
        expires = expires.total_seconds()
    seconds = int(expires) if expires else DEFAULT_EXPIRES
    client = _client(result_backend_url(app))
    with client.pipeline() as pipe:
        pipe.set(key, data, ex=seconds)
        pipe.publish(key, data)
        pipe.execute()


def read_result(app: Celery, task_id: str) -> dict[str, Any] | None:
    """A result as Celery's Redis backend holds it, or None."""
    data = _client(result_backend_url(app)).get(RESULT_PREFIX + task_id)
    if data is None:
        return None
    found: dict[str, Any] = json.loads(data)
    return found


# -- celeriac -> Celery's queues ------------------------------------------------------------

_connections: dict[tuple[int, str], Any] = {}


def _connection(url: str) -> Any:
    key = (os.getpid(), url)
    with _clients_lock:
        if key not in _connections:
            _connections[key] = kombu.Connection(url)
        return _connections[key]


def publish(
    app: Celery,
    name: str,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    task_id: str,
    queue: str,
    priority: int | None = None,
    eta: str | None = None,
    expires: str | None = None,
    retries: int = 0,
    time_limit: float | None = None,
    soft_time_limit: float | None = None,
    parent_id: str | None = None,
    root_id: str | None = None,
    chain: list[Any] | None = None,
    callbacks: list[Any] | None = None,
    errbacks: list[Any] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> None:
    """Send a task as Celery protocol 2 on kombu's Redis transport (to ``queue``)."""
    args = list(args)
    kwargs = dict(kwargs or {})
    message_headers = {
        **dict(headers or {}),
        "lang": "py",
        "task": name,
        "id": task_id,
        "shadow": None,
        "eta": eta,
        "expires": expires,
        "group": None,
        "group_index": None,
        "retries": retries,
        "timelimit": [time_limit, soft_time_limit],
        "root_id": root_id or task_id,
        "parent_id": parent_id,
        "argsrepr": repr(tuple(args)),
        "kwargsrepr": repr(kwargs),
        "origin": ORIGIN,
        "ignore_result": False,
    }
    body = [
        args,
        kwargs,
        {"callbacks": callbacks, "errbacks": errbacks, "chain": chain, "chord": None},
    ]
    connection = _connection(broker_url(app))
    producer = connection.Producer(serializer="json")
    producer.publish(
        body,
        exchange="",
        routing_key=queue,
        headers=message_headers,
        priority=priority,
        correlation_id=task_id,
        retry=True,
        retry_policy={"max_retries": 3, "interval_start": 0.2},
    )


def forward(app: Celery, signature: Any, result: Any, parent_id: str, root_id: str) -> str:
    """Send one of a Celery chain's next steps, or a ``link`` callback, as Celery would:
    the result first in its arguments (unless immutable), routed by ``task_routes``."""
    sig = dict(signature)
    options = dict(sig.get("options") or {})
    args = list(sig.get("args") or ())
    if not sig.get("immutable"):
        args = [result, *args]
    kwargs = dict(sig.get("kwargs") or {})
    name = str(sig["task"])
    task_id = str(options.get("task_id") or new_id())
    routed = app.router.route(options, name, tuple(args), kwargs, app.tasks.get(name))
    publish(
        app,
        name,
        args,
        kwargs,
        task_id=task_id,
        queue=str(routed["queue"]),
        priority=routed.get("priority"),
        parent_id=parent_id,
        root_id=root_id,
        chain=options.get("chain") or sig.get("chain"),
        callbacks=options.get("link"),
        errbacks=options.get("link_error"),
    )
    return task_id


def answer(app: Celery, request: Any, state: str, value: Any, exc: BaseException | None) -> None:
    """A task that came from Celery ended (or will retry): its result where Celery reads
    it and, after a success, the chain's next step and the callbacks sent on."""
    bridge = getattr(request, "bridge", None)
    if not isinstance(bridge, Mapping):
        return
    task_id = str(request.id)
    root_id = str(request.root_id or task_id)
    try:
        if not bridge.get("ignore_result") or exc is not None:
            store_result(app, celery_meta(task_id, state, value, exc=exc))
        if state != "SUCCESS":
            return
        chain = list(bridge.get("chain") or ())
        if chain:
            step = dict(chain.pop())
            step["options"] = {**dict(step.get("options") or {}), "chain": chain or None}
            forward(app, step, value, task_id, root_id)
        for callback in bridge.get("callbacks") or ():
            forward(app, callback, value, task_id, root_id)
    except Exception:
        logger.exception("Cannot answer Celery for task %s[%s]", request.task, task_id)


# -- the consumer in a worker ---------------------------------------------------------------


class CeleryConsumer:
    """Reads Celery's queues with kombu in a thread of the worker's process and hands
    each message over to celeriac (see the module docstring)."""

    def __init__(self, app: Celery, queues: Iterable[str], *, prefetch: int = 100) -> None:
        self.app = app
        self.queues = list(queues)
        self.prefetch = prefetch  # kombu's unacked messages at most: a hand-over's size
        self._pending: list[tuple[TaskMessage, Any]] = []
        self.handed = 0
        self.dead = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="celery-bridge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        url = broker_url(self.app)
        while not self._stop.is_set():
            try:
                with kombu.Connection(url) as connection:
                    self._consume(connection)
            except Exception as exc:  # the broker went away: again in a moment
                # messages read but not handed over stay unacked: kombu restores them
                self._pending.clear()
                if self._stop.is_set():
                    return
                logger.error("Celery bridge: %s; reconnecting in 1 second.", exc)
                self._stop.wait(1.0)

    def _consume(self, connection: Any) -> None:
        queues = [kombu.Queue(name, routing_key=name) for name in self.queues]
        consumer = connection.Consumer(
            queues, callbacks=[self.handle], accept=["json"], prefetch_count=self.prefetch
        )
        consumer.on_decode_error = self._undecodable
        with consumer:
            logger.info("Celery bridge: reading Celery's queues %s", ", ".join(self.queues))
            while not self._stop.is_set():
                try:
                    connection.drain_events(timeout=1.0)
                except TimeoutError:  # socket.timeout too: nothing came in a second
                    continue
                while len(self._pending) < self.prefetch:  # what else is there already
                    try:
                        connection.drain_events(timeout=0.001)
                    except TimeoutError:
                        break
                self._hand_over()

    def handle(self, body: Any, message: Any) -> None:
        """kombu's callback: a message to hand over (with the others read meanwhile)."""
        queue = str((message.delivery_info or {}).get("routing_key") or self.queues[0])
        try:
            task = from_celery(self.app, message.headers or {}, body, message.properties, queue)
        except Foreign as exc:
            self._dead_letter(message, queue, str(exc))
            return
        self._pending.append((task, message))

    def _hand_over(self) -> None:
        """Store the messages read as celeriac tasks, in one round trip, then ack them to
        kombu (while celeriac's Redis is unreachable they wait; at a stop they go back)."""
        if not self._pending:
            return
        tasks = [task for task, _ in self._pending]
        while not self._stop.is_set():
            try:
                self.app.core.send_sync(tasks)
            except BrokerError as exc:
                logger.error("Celery bridge: cannot store %d task(s): %s", len(tasks), exc)
                self._stop.wait(1.0)
                continue
            for _, message in self._pending:
                message.ack()
            self.handed += len(tasks)
            self._pending.clear()
            return
        for _, message in self._pending:
            message.requeue()
        self._pending.clear()

    def _undecodable(self, message: Any, exc: Exception) -> None:
        queue = str((message.delivery_info or {}).get("routing_key") or self.queues[0])
        self._dead_letter(message, queue, f"cannot decode the body: {exc}")

    def _dead_letter(self, message: Any, queue: str, reason: str) -> None:
        raw = message.body
        if isinstance(raw, bytes):
            try:
                raw = raw.decode()
            except UnicodeDecodeError:
                raw = base64.b64encode(raw).decode()
        record = {
            "reason": reason,
            "queue": queue,
            "at": time.time(),
            "headers": message.headers,
            "properties": message.properties,
            "content_type": message.content_type,
            "body": raw,
        }
        key = dead_letter_key(queue)
        _client(broker_url(self.app)).rpush(key, json.dumps(record, default=repr))
        logger.error(
            "Celery bridge: a message from %s cannot run here (%s): moved to %s",
            queue,
            reason,
            key,
        )
        message.ack()
        self.dead += 1


def incoming_meta(message: TaskMessage) -> Mapping[str, Any] | None:
    meta = message.headers.get(META)
    if isinstance(meta, Mapping) and isinstance(meta.get(BRIDGE), Mapping):
        found: Mapping[str, Any] = meta[BRIDGE]
        return found
    return None


# -- celeriac's calls that go to Celery workers ------------------------------------------


def goes_to_celery(app: Celery, name: str) -> bool:
    """Whether ``name`` is sent to Celery workers (``celeriac_celery_tasks``: names or
    glob patterns, e.g. ``["legacy.*"]``)."""
    patterns = app.conf.get("celeriac_celery_tasks") or ()
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",")]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def send_to_celery(app: Celery, message: TaskMessage, link: Any = None) -> None:
    """Send a planned call as Celery protocol 2, for a Celery worker to run."""
    meta = message.headers.get(META)
    meta = meta if isinstance(meta, Mapping) else {}
    callbacks = [dict(s) for s in _as_list(link)] or None
    publish(
        app,
        message.name,
        message.args,
        message.kwargs,
        task_id=message.id,
        queue=message.queue,
        priority=meta.get("priority"),
        eta=iso_time(message.eta),
        expires=iso_time(message.expires),
        retries=message.retries,
        time_limit=message.timeout,
        soft_time_limit=message.soft_timeout,
        parent_id=message.parent_id,
        root_id=message.root_id,
        callbacks=callbacks,
        errbacks=meta.get("errbacks"),
        headers={k: v for k, v in message.headers.items() if k != META},
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def rebuild_exception(value: Mapping[str, Any]) -> BaseException:
    """The exception a Celery result holds (its class imported when it can be, as
    Celery's own client does; else one of that name)."""
    name = str(value.get("exc_type") or "Exception")
    module_name = str(value.get("exc_module") or "builtins")
    message = value.get("exc_message")
    args = list(message) if isinstance(message, list | tuple) else [message]
    cls: Any = None
    try:
        cls = getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = type(name, (Exception,), {"__module__": module_name})
    try:
        exc: BaseException = cls(*args)
    except Exception:
        exc = Exception(*args)
    return exc


class CeleryResult(AsyncResult):
    """The result of a call a Celery worker runs: read where Celery's Redis backend
    keeps it (``celery-task-meta-<id>``)."""

    def _meta(self) -> dict[str, Any] | None:
        return read_result(self.app, self.id)

    @property
    def state(self) -> str:
        meta = self._meta()
        return "PENDING" if meta is None else str(meta.get("status"))

    status = state

    @property
    def result(self) -> Any:
        meta = self._meta()
        return None if meta is None else _outcome(meta)

    info = result

    @property
    def traceback(self) -> str | None:
        meta = self._meta()
        return None if meta is None else meta.get("traceback")

    def ready(self) -> bool:
        return self.state in READY

    def get(  # type: ignore[override]  # the waiting options of Celery's get() are ignored
        self, timeout: float | None = None, propagate: bool = True, **kwargs: Any
    ) -> Any:
        """Wait for Celery's worker to store the result (read every 50 ms at first, then
        less often)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            meta = self._meta()
            if meta is not None and meta.get("status") in READY:
                value = _outcome(meta)
                if propagate and isinstance(value, BaseException):
                    raise value
                return value
            if deadline is not None and time.monotonic() >= deadline:
                raise CeleryTimeoutError("The operation timed out.")
            time.sleep(pause if deadline is None else min(pause, deadline - time.monotonic()))
            pause = min(pause * 1.5, 0.5)


READY = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


def _outcome(meta: Mapping[str, Any]) -> Any:
    value = meta.get("result")
    if meta.get("status") in ("FAILURE", "REVOKED", "RETRY") and isinstance(value, Mapping):
        return rebuild_exception(value)
    return value
