"""``self.request``: what a running task knows of its call, under Celery's field names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..core.message import TaskMessage

__all__ = ["META", "Context", "Request", "from_message", "meta_of"]

# the header under which the façade keeps Celery's own fields of a message (shadow,
# errbacks, origin...), apart from the user's headers
META = "celery"

_FIELDS: dict[str, Any] = {
    "id": None,
    "task": None,
    "args": None,
    "kwargs": None,
    "retries": 0,
    "is_eager": False,
    "eta": None,
    "expires": None,
    "group": None,
    "group_index": None,
    "chord": None,
    "chain": None,
    "callbacks": None,
    "errbacks": None,
    "root_id": None,
    "parent_id": None,
    "correlation_id": None,
    "reply_to": None,
    "hostname": None,
    "delivery_info": None,
    "headers": None,
    "properties": None,
    "origin": None,
    "ignore_result": False,
    "timelimit": None,
    "called_directly": True,
    "utc": True,
    "shadow": None,
    "stamps": None,
    "stamped_headers": None,
    "replaced_task_nesting": 0,
    "loglevel": None,
    "logfile": None,
    "taskset": None,
    "bridge": None,  # celeriac's: how to answer a task that came from Celery
}


class Context:
    """A task's request (Celery's ``Context``): attributes named as Celery's, ``None``
    (or Celery's default) where unknown; ``get(name, default)`` reads any of them, the
    message's custom headers included."""

    id: str | None
    task: str | None
    args: Any
    kwargs: Any
    retries: int
    is_eager: bool
    called_directly: bool
    hostname: str | None
    delivery_info: Any
    headers: Any
    root_id: str | None
    parent_id: str | None
    errbacks: Any
    callbacks: Any
    timelimit: Any
    shadow: str | None
    ignore_result: bool
    group: str | None
    group_index: int | None
    chord: Any
    chain: Any
    eta: str | None
    expires: str | None
    reply_to: str | None
    replaced_task_nesting: int
    origin: str | None

    def __init__(self, fields: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self.__dict__.update(_FIELDS)
        if fields:
            self.__dict__.update(fields)
        self.__dict__.update(kwargs)

    def update(self, fields: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if fields:
            self.__dict__.update(fields)
        self.__dict__.update(kwargs)

    def clear(self) -> None:
        self.__dict__.clear()
        self.__dict__.update(_FIELDS)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    @property
    def children(self) -> list[Any]:
        found: list[Any] = self.__dict__.setdefault("_children", [])
        return found

    @property
    def time_limit(self) -> Any:
        return self.timelimit[0] if self.timelimit else None

    @property
    def soft_time_limit(self) -> Any:
        return self.timelimit[1] if self.timelimit else None

    def as_execution_options(self) -> dict[str, Any]:
        """The options that send this call again as it was (used by ``retry``)."""
        limits = self.timelimit or (None, None)
        return {
            "task_id": self.id,
            "root_id": self.root_id,
            "parent_id": self.parent_id,
            "group_id": self.group,
            "group_index": self.group_index,
            "shadow": self.shadow,
            "chord": self.chord,
            "chain": self.chain,
            "link": self.callbacks,
            "link_error": self.errbacks,
            "expires": self.expires,
            "soft_time_limit": limits[1],
            "time_limit": limits[0],
            "headers": self.headers,
            "retries": self.retries,
            "reply_to": self.reply_to,
            "replaced_task_nesting": self.replaced_task_nesting,
            "origin": self.origin,
            "celeriac_bridge": self.get("bridge"),
        }

    def __repr__(self) -> str:
        return f"<Context: {self.__dict__!r}>"


def meta_of(message: TaskMessage) -> Mapping[str, Any]:
    """The façade's own fields of a message (empty for a message sent by core code)."""
    meta = message.headers.get(META)
    return meta if isinstance(meta, Mapping) else {}


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat()


def from_message(
    message: TaskMessage,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    hostname: str,
    redelivered: bool = False,
) -> Context:
    """The request of a call run by a worker, from its core message."""
    meta = meta_of(message)
    headers = {k: v for k, v in message.headers.items() if k != META}
    return Context(
        headers,
        id=message.id,
        task=message.name,
        args=list(args),
        kwargs=dict(kwargs),
        retries=message.retries,
        eta=_iso(message.eta),
        expires=_iso(message.expires),
        root_id=message.root_id,
        parent_id=message.parent_id,
        correlation_id=message.id,
        hostname=hostname,
        delivery_info={
            "exchange": "",
            "routing_key": message.queue,
            "priority": meta.get("priority"),
            "redelivered": redelivered,
        },
        headers=headers or None,
        properties={},
        origin=meta.get("origin"),
        ignore_result=message.ignore_result,
        timelimit=(message.timeout, message.soft_timeout),
        called_directly=False,
        shadow=meta.get("shadow"),
        errbacks=meta.get("errbacks"),
        callbacks=meta.get("callbacks"),
        group=meta.get("group"),
        group_index=meta.get("group_index"),
        chord=meta.get("chord"),
        chain=meta.get("chain"),
        stamps=meta.get("stamps"),
        stamped_headers=meta.get("stamped_headers"),
        replaced_task_nesting=meta.get("replaced_task_nesting", 0),
        bridge=meta.get("bridge"),
    )


def _datetime(timestamp: float | None) -> dt.datetime | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


class Request:
    """A message as the worker received it (Celery's worker ``Request``): what
    ``task_received`` receivers get. ``name`` is the shadow name when the call has one,
    ``type`` the registered task's; ``eta``/``expires`` are aware datetimes."""

    def __init__(self, message: TaskMessage, task: Any, hostname: str) -> None:
        context = from_message(message, message.args, message.kwargs, hostname)
        self._context = context
        self.id: str = message.id
        self.type: str = message.name
        self.name: str = context.shadow or message.name
        self.task = task
        self.args: list[Any] = context.args
        self.kwargs: dict[str, Any] = context.kwargs
        self.eta = _datetime(message.eta)
        self.expires = _datetime(message.expires)
        self.hostname = hostname
        self.delivery_info: dict[str, Any] = context.delivery_info
        self.root_id = message.root_id
        self.parent_id = message.parent_id
        self.correlation_id = message.id
        self.reply_to = None
        self.ignore_result = message.ignore_result
        self.time_limits = (message.timeout, message.soft_timeout)
        self.argsrepr = repr(tuple(message.args))
        self.kwargsrepr = repr(dict(message.kwargs))

    @property
    def task_id(self) -> str:
        return self.id

    @property
    def task_name(self) -> str:
        return self.name

    @property
    def request_dict(self) -> dict[str, Any]:
        return dict(self._context.__dict__)

    def humaninfo(self) -> str:
        return f"{self.name}[{self.id}]"

    def __str__(self) -> str:
        parts = [self.humaninfo()]
        if self.eta:
            parts.append(f"ETA:[{self.eta}]")
        if self.expires:
            parts.append(f"expires:[{self.expires}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"<Request: {self.humaninfo()} {self.argsrepr} {self.kwargsrepr}>"
