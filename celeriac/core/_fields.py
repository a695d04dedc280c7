"""Checked reading of decoded records: a field of the wrong type is a DecodeError.

Payloads come from Redis, where anyone with access can write; the wire records read
every field through here so a malformed payload fails with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import DecodeError

T = TypeVar("T")

_NUMBER = (int, float)


def as_mapping(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise DecodeError(f"{what} must be a mapping, got {type(raw).__name__}")
    return raw


def required_str(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise DecodeError(f"{what} field {key!r} must be a non-empty string, got {value!r}")
    return value


def optional(raw: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], what: str) -> Any:
    """The field's value, or None when absent; a DecodeError when of another type."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind in (int, _NUMBER):
        raise DecodeError(f"{what} field {key!r} must be a number, got {value!r}")
    if not isinstance(value, kind):
        raise DecodeError(f"{what} field {key!r} has type {type(value).__name__}, not {kind}")
    return value


def optional_number(raw: Mapping[str, Any], key: str, what: str) -> float | None:
    value = optional(raw, key, _NUMBER, what)
    return None if value is None else float(value)


def optional_int(raw: Mapping[str, Any], key: str, what: str, default: int) -> int:
    value = optional(raw, key, int, what)
    return default if value is None else int(value)
