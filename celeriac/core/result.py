"""`ResultRecord`: what a worker stores about a task's outcome, and task states."""

from __future__ import annotations

import builtins
import sys
import time
import traceback as tb
from dataclasses import dataclass, field, replace
from typing import Any

from . import _fields as f
from .codec import Codec
from .errors import DecodeError, EncodeError, RemoteTaskError

__all__ = [
    "FAILURE",
    "PENDING",
    "READY_STATES",
    "RETRY",
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "ExceptionInfo",
    "ResultRecord",
    "revoked_record",
]

PENDING = "PENDING"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
RETRY = "RETRY"
REVOKED = "REVOKED"
READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})

_WHAT = "result record"
MAX_CAUSES = 4  # how deep a chain of causes is kept


@dataclass(frozen=True)
class ExceptionInfo:
    """An exception as stored: its type, message, arguments, formatted traceback, and
    the exception that caused it (``raise ... from ...``), if any."""

    type_name: str
    module: str
    message: str
    args: tuple[Any, ...] = ()
    traceback: str | None = None
    cause: ExceptionInfo | None = None

    @classmethod
    def from_exception(
        cls, exc: BaseException, with_traceback: bool = True, _depth: int = 0
    ) -> ExceptionInfo:
        """Capture ``exc`` and its chain of causes (a few levels deep)."""
        captured = getattr(exc, "__celeriac_info__", None)  # captured where it was raised
        if isinstance(captured, ExceptionInfo):
            return captured
        kind = type(exc)
        text = (
            "".join(tb.format_exception(kind, exc, exc.__traceback__)) if with_traceback else None
        )
        cause = None
        if exc.__cause__ is not None and _depth < MAX_CAUSES:
            cause = cls.from_exception(exc.__cause__, with_traceback=False, _depth=_depth + 1)
        return cls(kind.__qualname__, kind.__module__, str(exc), tuple(exc.args), text, cause)

    @property
    def qualified_name(self) -> str:
        if self.module == "builtins":
            return self.type_name
        return f"{self.module}.{self.type_name}"

    def rebuild(self) -> BaseException:
        """The exception again, as its own type when that type is already imported here,
        with its cause rebuilt as ``__cause__``.

        Types are looked up in modules the caller has imported, never imported on the
        caller's behalf: a result from Redis must not be able to load code.
        """
        exc = self._rebuild_one()
        if self.cause is not None:
            exc.__cause__ = self.cause.rebuild()
        return exc

    def _rebuild_one(self) -> BaseException:
        cls = self._local_class()
        if cls is not None:
            try:
                return cls(*self.args)
            except Exception:  # constructors with other signatures: fall back
                pass
        return RemoteTaskError(self.qualified_name, self.message, self.traceback)

    def _local_class(self) -> type[BaseException] | None:
        obj: Any = builtins if self.module == "builtins" else sys.modules.get(self.module)
        for part in self.type_name.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return obj
        return None

    def with_text_args(self) -> ExceptionInfo:
        """This, with every argument list replaced by the message (always serializable)."""
        cause = self.cause.with_text_args() if self.cause is not None else None
        return replace(self, args=(self.message,), cause=cause)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type_name,
            "module": self.module,
            "message": self.message,
            "args": list(self.args),
            "traceback": self.traceback,
        }
        if self.cause is not None:
            out["cause"] = self.cause.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> ExceptionInfo:
        what = "exception info"
        raw = f.as_mapping(raw, what)
        cause = raw.get("cause")
        return cls(
            type_name=f.required_str(raw, "type", what),
            module=f.optional(raw, "module", str, what) or "builtins",
            message=f.optional(raw, "message", str, what) or "",
            args=tuple(f.optional(raw, "args", (list, tuple), what) or ()),
            traceback=f.optional(raw, "traceback", str, what),
            cause=None if cause is None else cls.from_dict(cause),
        )


@dataclass(frozen=True)
class ResultRecord:
    """A task's state and outcome: its return value, or the exception it raised."""

    id: str
    state: str
    value: Any = None
    exc: ExceptionInfo | None = None
    name: str | None = None
    retries: int = 0
    worker: str | None = None
    date_done: float = field(default_factory=time.time)
    # the call itself, kept only when the app asks for it (Celery's result_extended)
    args: tuple[Any, ...] | None = None
    kwargs: dict[str, Any] | None = None
    queue: str | None = None
    children: tuple[str, ...] = ()  # ids of the tasks it sent while it ran

    @property
    def ready(self) -> bool:
        return self.state in READY_STATES

    def encode(self, codec: Codec) -> bytes:
        """Serialize and sign; a value or exception the serializer cannot carry is
        replaced by an EncodeError failure rather than lost."""
        try:
            return codec.encode(self.to_dict(), what=f"result of task {self.id}")
        except EncodeError as exc:
            return self._unencodable(exc).encode_plain(codec)

    def _unencodable(self, exc: EncodeError) -> ResultRecord:
        if self.exc is not None:  # the exceptions' args are what failed: keep their text
            return replace(self, exc=self.exc.with_text_args())
        return replace(self, state=FAILURE, value=None, exc=ExceptionInfo.from_exception(exc))

    def encode_plain(self, codec: Codec) -> bytes:
        return codec.encode(self.to_dict(), what=f"result of task {self.id}")

    @classmethod
    def decode(cls, data: bytes, codec: Codec) -> ResultRecord:
        return cls.from_dict(codec.decode(data))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "state": self.state, "date_done": self.date_done}
        if self.value is not None:
            out["value"] = self.value
        if self.exc is not None:
            out["exc"] = self.exc.to_dict()
        if self.name is not None:
            out["name"] = self.name
        if self.retries:
            out["retries"] = self.retries
        if self.worker is not None:
            out["worker"] = self.worker
        if self.args is not None:
            out["args"] = list(self.args)
        if self.kwargs is not None:
            out["kwargs"] = self.kwargs
        if self.queue is not None:
            out["queue"] = self.queue
        if self.children:
            out["children"] = list(self.children)
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> ResultRecord:
        raw = f.as_mapping(raw, _WHAT)
        exc = raw.get("exc")
        return cls(
            id=f.required_str(raw, "id", _WHAT),
            state=f.required_str(raw, "state", _WHAT),
            value=raw.get("value"),
            exc=None if exc is None else ExceptionInfo.from_dict(exc),
            name=f.optional(raw, "name", str, _WHAT),
            retries=f.optional_int(raw, "retries", _WHAT, 0),
            worker=f.optional(raw, "worker", str, _WHAT),
            date_done=f.optional_number(raw, "date_done", _WHAT) or 0.0,
            args=_optional_args(raw),
            kwargs=f.optional(raw, "kwargs", dict, _WHAT),
            queue=f.optional(raw, "queue", str, _WHAT),
            children=_children(raw),
        )


def _children(raw: dict[str, Any]) -> tuple[str, ...]:
    found = f.optional(raw, "children", (list, tuple), _WHAT) or ()
    if not all(isinstance(child, str) for child in found):
        raise DecodeError(f"{_WHAT} field 'children' must hold task ids (strings)")
    return tuple(found)


def _optional_args(raw: dict[str, Any]) -> tuple[Any, ...] | None:
    args = f.optional(raw, "args", (list, tuple), _WHAT)
    return None if args is None else tuple(args)


def revoked_record(task_id: str, reason: str, **fields: Any) -> ResultRecord:
    """The record of a revoked (or expired) task; waiting on it raises TaskRevoked."""
    info = ExceptionInfo("TaskRevoked", "celeriac.core.errors", reason, (reason,))
    return ResultRecord(task_id, REVOKED, exc=info, **fields)
