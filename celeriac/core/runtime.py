"""Running async code from sync entry points: asyncio, with uvloop when installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

__all__ = ["run", "uvloop_available"]

T = TypeVar("T")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def run(fn: Callable[..., Awaitable[T]], *args: Any, uvloop: bool | None = None) -> T:
    """Run ``fn(*args)`` on a new asyncio loop; uvloop is used when installed, unless
    ``uvloop`` says otherwise. (trio is not supported: redis-py's async client is
    asyncio-only.)"""
    use_uvloop = uvloop_available() if uvloop is None else uvloop
    return anyio.run(fn, *args, backend="asyncio", backend_options={"use_uvloop": use_uvloop})
