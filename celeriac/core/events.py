"""Task events: what workers started with ``events=True`` tell monitors, and how a
monitor reads them (``async for event in app.events(): ...``).

Each event is one entry of the broker's events stream, JSON-encoded. The names are
Celery's (``task-received`` ... ``task-revoked``); so are the type-specific fields:

================  ==========================================================
type              fields
================  ==========================================================
task-received     args, kwargs (short reprs), retries, eta, expires, root_id,
                  parent_id
task-started      (none)
task-succeeded    result (a short repr), runtime (seconds)
task-failed       exception (repr), traceback (text)
task-retried      exception (repr), traceback (text)
task-revoked      terminated (stopped while running), expired
================  ==========================================================
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _fields as f
from .broker.base import event_id_key
from .errors import DecodeError, EncodeError
from .logs import worker_logger as logger

if TYPE_CHECKING:
    from .app import App

__all__ = [
    "EVENT_TYPES",
    "TASK_FAILED",
    "TASK_RECEIVED",
    "TASK_RETRIED",
    "TASK_REVOKED",
    "TASK_STARTED",
    "TASK_SUCCEEDED",
    "TaskEvent",
    "read_events",
]

TASK_RECEIVED = "task-received"
TASK_STARTED = "task-started"
TASK_SUCCEEDED = "task-succeeded"
TASK_FAILED = "task-failed"
TASK_RETRIED = "task-retried"
TASK_REVOKED = "task-revoked"
EVENT_TYPES = (
    TASK_RECEIVED,
    TASK_STARTED,
    TASK_SUCCEEDED,
    TASK_FAILED,
    TASK_RETRIED,
    TASK_REVOKED,
)

_WHAT = "task event"
_NUMBER = (int, float)
# the type-specific fields a reader may rely on: kinds, and whether null is allowed
_FIELD_TYPES: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "args": (str, False),
    "kwargs": (str, False),
    "retries": (int, False),
    "eta": (_NUMBER, True),
    "expires": (_NUMBER, True),
    "root_id": (str, True),
    "parent_id": (str, True),
    "result": (str, False),
    "runtime": (_NUMBER, False),
    "exception": (str, False),
    "traceback": (str, True),
    "terminated": (bool, False),
    "expired": (bool, False),
}

READ_BATCH = 100  # events read per round trip
READ_BLOCK = 5.0  # seconds one read waits when iterating without a timeout


@dataclass(frozen=True)
class TaskEvent:
    """Something that happened to a task in a worker.

    ``type``: one of :data:`EVENT_TYPES`. ``worker``: the consumer name of the worker
    that sent it (as in ``WorkerInfo.consumer``). ``timestamp``: when, in POSIX seconds.
    ``id``: the stream entry id, set on events read from the broker (they sort in the
    order they were stored). ``fields``: the type's own data (see the module's table).
    """

    type: str
    task_id: str
    name: str
    queue: str
    worker: str
    timestamp: float = field(default_factory=time.time)
    fields: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def encode(self) -> bytes:
        """JSON bytes (without ``id``: the stream gives it)."""
        if self.type not in EVENT_TYPES:
            raise EncodeError(f"unknown task event type {self.type!r}: use one of {EVENT_TYPES}")
        data = {
            "type": self.type,
            "task_id": self.task_id,
            "name": self.name,
            "queue": self.queue,
            "worker": self.worker,
            "timestamp": self.timestamp,
            "fields": dict(self.fields),
        }
        try:
            return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise EncodeError(
                f"{self.type} event of task {self.task_id} cannot be encoded as JSON: {exc}"
            ) from exc

    @classmethod
    def decode(cls, data: bytes, id: str = "") -> TaskEvent:
        """From :meth:`encode`'s bytes; a :class:`DecodeError` names a missing or
        mistyped field."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"{_WHAT} is not JSON: {exc}") from exc
        raw = f.as_mapping(raw, _WHAT)
        kind = raw.get("type")
        if kind not in EVENT_TYPES:
            raise DecodeError(f"{_WHAT} field 'type' must be one of {EVENT_TYPES}, got {kind!r}")
        task_id, name, queue, worker = (
            f.required_str(raw, key, _WHAT) for key in ("task_id", "name", "queue", "worker")
        )
        timestamp = f.optional_number(raw, "timestamp", _WHAT)
        if timestamp is None:
            raise DecodeError(f"{_WHAT} field 'timestamp' must be a number, got None")
        fields = _checked_fields(raw.get("fields", {}))
        return cls(kind, task_id, name, queue, worker, timestamp, fields, id)


def _checked_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise DecodeError(f"{_WHAT} field 'fields' must be a mapping with string keys")
    for key, item in value.items():
        if key in _FIELD_TYPES:
            _check_field(key, item, *_FIELD_TYPES[key])
    return dict(value)


def _check_field(key: str, item: Any, kinds: type | tuple[type, ...], nullable: bool) -> None:
    if item is None and nullable:
        return
    wrong_bool = isinstance(item, bool) and kinds is not bool  # JSON true is no number
    if wrong_bool or not isinstance(item, kinds):
        raise DecodeError(
            f"{_WHAT} field {key!r} has type {type(item).__name__}, not {_named(kinds)}"
        )


def _named(kinds: type | tuple[type, ...]) -> str:
    if isinstance(kinds, tuple):
        return " or ".join(kind.__name__ for kind in kinds)
    return kinds.__name__


def read_events(app: App, after: str, timeout: float | None) -> AsyncIterator[TaskEvent]:
    """What :meth:`App.events` iterates: the events after ``after``, read in batches;
    with a ``timeout``, until that many seconds pass without one. A malformed ``after``
    is refused at once (a ConfigurationError)."""
    if after != "$":
        event_id_key(after)
    return _read(app, after, timeout)


async def _read(app: App, after: str, timeout: float | None) -> AsyncIterator[TaskEvent]:
    broker = app.broker
    if after == "$":  # pinned now, so that nothing falls between two reads
        after = await broker.last_event_id()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = READ_BLOCK if deadline is None else max(0.0, deadline - time.monotonic())
        entries = await broker.read_events(after, READ_BATCH, wait)
        if not entries and deadline is not None and time.monotonic() >= deadline:
            return
        for entry_id, data in entries:
            after = entry_id
            event = _decoded(entry_id, data)
            if event is not None:
                yield event
                if timeout is not None:  # quiet time counts from when the next is asked
                    deadline = time.monotonic() + timeout


def _decoded(entry_id: str, data: bytes) -> TaskEvent | None:
    try:
        return TaskEvent.decode(data, id=entry_id)
    except DecodeError as exc:
        logger.warning("Skipping task event %s, which cannot be read: %s", entry_id, exc)
        return None
