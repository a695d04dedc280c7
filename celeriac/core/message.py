"""`TaskMessage`: one request to run a task, as it travels through the broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from . import _fields as f
from .codec import Codec
from .errors import DecodeError

__all__ = ["TaskMessage", "new_id"]

_WHAT = "task message"


def new_id() -> str:
    """A fresh task id (a UUID4 string, as Celery uses)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class TaskMessage:
    """A task call: which task, with what arguments, where and when to run it.

    Times (``eta``, ``expires``, ``created``) are POSIX timestamps in seconds.
    ``timeout`` is the hard time limit in seconds, ``soft_timeout`` the soft one.
    ``parents``: ids of tasks this one waits for; with ``pass_results`` it also receives
    their results before its own arguments: ``"first"`` the first parent's (a pipeline),
    ``"all"`` the list of all of them, in order (a fan-in).
    ``unique``: the lock of a unique task (see ``SendOptions``), released when it ends.
    ``after_delay``: seconds a task with parents still waits once they are done.
    """

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    queue: str = "default"
    priority: int = 0
    eta: float | None = None
    expires: float | None = None
    retries: int = 0
    max_retries: int | None = None
    timeout: float | None = None
    soft_timeout: float | None = None
    ignore_result: bool = False
    parent_id: str | None = None
    root_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    parents: tuple[str, ...] = ()
    pass_results: str | None = None
    unique: str | None = None
    after_delay: float | None = None

    def encode(self, codec: Codec) -> bytes:
        """Serialize and sign through ``codec``."""
        return codec.encode(self.to_dict(), what=f"message for task {self.name!r}")

    @classmethod
    def decode(cls, data: bytes, codec: Codec) -> TaskMessage:
        """Verify and deserialize; a :class:`DecodeError` names what is wrong."""
        return cls.from_dict(codec.decode(data))

    def to_dict(self) -> dict[str, Any]:
        """The wire form: defaults left out to keep messages small."""
        out: dict[str, Any] = {"id": self.id, "task": self.name}
        for fld in _OPTIONAL_FIELDS:
            value = getattr(self, fld.name)
            if value != _DEFAULTS[fld.name]:
                out[fld.name] = list(value) if fld.name in ("args", "parents") else value
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> TaskMessage:
        """Build from the wire form, checking the type of every field present."""
        raw = f.as_mapping(raw, _WHAT)
        values: dict[str, Any] = {
            "id": f.required_str(raw, "id", _WHAT),
            "name": f.required_str(raw, "task", _WHAT),
        }
        for key, value in raw.items():
            check = _CHECKS.get(key)
            if check is not None and value is not None:
                values[key] = check(value, key)
        return _build(values)

    def retried(
        self,
        eta: float | None,
        args: tuple[Any, ...] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> TaskMessage:
        """The same call with the retry count raised by one, due at ``eta`` (with other
        arguments when given)."""
        return replace(
            self,
            retries=self.retries + 1,
            eta=eta,
            args=self.args if args is None else tuple(args),
            kwargs=self.kwargs if kwargs is None else dict(kwargs),
        )


def _build(values: dict[str, Any]) -> TaskMessage:
    """``TaskMessage(**values)``, for values already checked, at a fraction of the cost:
    the frozen dataclass's ``__init__`` sets each of its 20 fields through
    ``object.__setattr__``, a third of decoding a message in the worker. The instance is
    the same: every field set, a missing one to its default (made fresh by its factory).
    """
    message = object.__new__(TaskMessage)
    state = message.__dict__
    state.update(_PLAIN_DEFAULTS)
    for name, make in _DEFAULT_FACTORIES.items():
        if name not in values:
            state[name] = make()
    state.update(values)
    return message


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"{_WHAT} field {key!r} must be a number, got {value!r}")
    return float(value)


def _typed(kind: type, convert: Callable[[Any], Any] = lambda v: v) -> Callable[[Any, str], Any]:
    def check(value: Any, key: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise DecodeError(
                f"{_WHAT} field {key!r} has type {type(value).__name__}, not {kind.__name__}"
            )
        return convert(value)

    return check


def _str_keyed(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DecodeError(f"{_WHAT} field {key!r} has type {type(value).__name__}, not dict")
    if not all(isinstance(k, str) for k in value):
        raise DecodeError(f"{_WHAT} field {key!r} must have string keys")
    return dict(value)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    items = _sequence(value, key)
    if not all(isinstance(item, str) for item in items):
        raise DecodeError(f"{_WHAT} field {key!r} must hold only strings")
    return tuple(items)


def _sequence(value: Any, key: str) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise DecodeError(f"{_WHAT} field {key!r} has type {type(value).__name__}, not list")
    return tuple(value)


# wire key -> check and convert; "id" and "task" are read separately (both required)
_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "args": _sequence,
    "kwargs": _str_keyed,
    "queue": _typed(str),
    "priority": _typed(int),
    "eta": _number,
    "expires": _number,
    "retries": _typed(int),
    "max_retries": _typed(int),
    "timeout": _number,
    "soft_timeout": _number,
    "ignore_result": _typed(bool),
    "parent_id": _typed(str),
    "root_id": _typed(str),
    "headers": _str_keyed,
    "created": _number,
    "parents": _strings,
    "pass_results": _typed(str),
    "unique": _typed(str),
    "after_delay": _number,
}

_OPTIONAL_FIELDS = [fld for fld in fields(TaskMessage) if fld.name not in ("id", "name")]
_PLAIN_DEFAULTS = {
    fld.name: fld.default for fld in fields(TaskMessage) if fld.default is not MISSING
}
_DEFAULT_FACTORIES = {
    fld.name: fld.default_factory
    for fld in fields(TaskMessage)
    if fld.default_factory is not MISSING
}
_DEFAULTS: dict[str, Any] = {
    "args": (),
    "kwargs": {},
    "queue": "default",
    "priority": 0,
    "eta": None,
    "expires": None,
    "retries": 0,
    "max_retries": None,
    "timeout": None,
    "soft_timeout": None,
    "ignore_result": False,
    "parent_id": None,
    "root_id": None,
    "headers": {},
    "created": None,  # always written
    "parents": (),
    "pass_results": None,
    "unique": None,
    "after_delay": None,
}
