"""Serializers: turn task arguments and results into bytes and back.

Built in: ``json`` (the default, as in Celery), ``msgpack`` and ``pickle``. Pickle runs
code while it decodes, so a worker only decodes it when ``pickle`` is in its accept list.
Users add their own with :func:`register_serializer`.

Both ``json`` and ``msgpack`` carry ``datetime``, ``date``, ``time``, ``UUID``, ``Decimal``
and ``bytes`` through a round trip; tuples come back as lists, as in Celery.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgpack

from .errors import ConfigurationError

__all__ = [
    "Serializer",
    "get_serializer",
    "register_serializer",
    "registered_serializers",
    "unregister_serializer",
]


@dataclass(frozen=True)
class Serializer:
    """A named pair of functions from values to bytes and back."""

    name: str
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]


# -- json ---------------------------------------------------------------------------------

_TYPE, _VALUE = "__type__", "__value__"


def _json_default(obj: Any) -> Any:
    for kind, cls, to_text, _ in _TAGGED:
        if isinstance(obj, cls):
            return {_TYPE: kind, _VALUE: to_text(obj)}
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _json_object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and _TYPE in obj and _VALUE in obj:
        kind = obj[_TYPE]
        for name, _, _, from_text in _TAGGED:
            if name == kind:
                return from_text(obj[_VALUE])
    return obj


# Built once: json.dumps/json.loads with options build a new coder on every call.
_JSON_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
_JSON_PLAIN_DECODER = json.JSONDecoder()
_JSON_TAGGED_DECODER = json.JSONDecoder(object_hook=_json_object_hook)


def _json_dumps(obj: Any) -> bytes:
    return _JSON_ENCODER.encode(obj).encode()


def _json_loads(data: bytes) -> Any:
    text = data.decode()
    # the per-object hook only matters when a tagged value can be present
    decoder = _JSON_TAGGED_DECODER if _TYPE in text else _JSON_PLAIN_DECODER
    return decoder.decode(text)


# datetime is checked before date: every datetime is also a date.
_TAGGED: tuple[tuple[str, type, Callable[[Any], str], Callable[[str], Any]], ...] = (
    ("datetime", dt.datetime, dt.datetime.isoformat, dt.datetime.fromisoformat),
    ("date", dt.date, dt.date.isoformat, dt.date.fromisoformat),
    ("time", dt.time, dt.time.isoformat, dt.time.fromisoformat),
    ("uuid", uuid.UUID, str, uuid.UUID),
    ("decimal", Decimal, str, Decimal),
    ("bytes", bytes, lambda b: b.hex(), bytes.fromhex),
)

# -- msgpack ------------------------------------------------------------------------------

_EXT_CODES = {name: code for code, (name, *_) in enumerate(_TAGGED, start=1)}


def _msgpack_default(obj: Any) -> Any:
    for kind, cls, to_text, _ in _TAGGED:
        if kind != "bytes" and isinstance(obj, cls):
            return msgpack.ExtType(_EXT_CODES[kind], to_text(obj).encode())
    raise TypeError(f"Object of type {type(obj).__name__} is not msgpack serializable")


def _msgpack_ext_hook(code: int, data: bytes) -> Any:
    for kind, _, _, from_text in _TAGGED:
        if _EXT_CODES[kind] == code:
            return from_text(data.decode())
    return msgpack.ExtType(code, data)


def _msgpack_dumps(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, default=_msgpack_default, use_bin_type=True)
    return data


def _msgpack_loads(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, ext_hook=_msgpack_ext_hook, strict_map_key=False)


# -- pickle -------------------------------------------------------------------------------


def _pickle_dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_loads(data: bytes) -> Any:
    return pickle.loads(data)


# -- registry -----------------------------------------------------------------------------

_BUILTIN = {
    s.name: s
    for s in (
        Serializer("json", _json_dumps, _json_loads),
        Serializer("msgpack", _msgpack_dumps, _msgpack_loads),
        Serializer("pickle", _pickle_dumps, _pickle_loads),
    )
}
_registry: dict[str, Serializer] = dict(_BUILTIN)


def register_serializer(
    name: str, dumps: Callable[[Any], bytes], loads: Callable[[bytes], Any]
) -> Serializer:
    """Register a serializer under ``name`` (at most 255 ASCII characters).

    A worker decodes it only when ``name`` is in its accept list, like every serializer.
    """
    if not name or len(name) > 255 or not name.isascii():
        raise ConfigurationError(f"serializer name must be 1-255 ASCII characters, got {name!r}")
    if name in _BUILTIN:
        raise ConfigurationError(f"{name!r} is a built-in serializer and cannot be replaced")
    serializer = Serializer(name, dumps, loads)
    _registry[name] = serializer
    return serializer


def unregister_serializer(name: str) -> None:
    """Remove a serializer added with :func:`register_serializer`."""
    if name in _BUILTIN:
        raise ConfigurationError(f"{name!r} is a built-in serializer and cannot be removed")
    _registry.pop(name, None)


def get_serializer(name: str) -> Serializer:
    """The serializer registered under ``name``; a clear error when there is none."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise ConfigurationError(
            f"unknown serializer {name!r}; registered serializers: {known} "
            "(add one with celeriac.core.register_serializer)"
        ) from None


def registered_serializers() -> list[str]:
    """Names of every registered serializer, sorted."""
    return sorted(_registry)
