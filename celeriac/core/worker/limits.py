"""Time limits for ``async def`` tasks.

Hard limit: the task runs in a cancel scope; at the limit it is cancelled (it cannot
swallow that: anyio cancels again at its next await) and recorded as failed.

Soft limit: ``SoftTimeLimitExceeded`` is raised *inside* the task, at the await where it
is waiting, so the task may catch it and clean up. asyncio can only interrupt a waiting
coroutine by cancelling its task, so the task runs in a child task of its own, through
a small driver that sits between asyncio and the task's coroutine: when the child is
cancelled for the soft limit (and only then, told apart by the cancel message), the
driver throws ``SoftTimeLimitExceeded`` into the coroutine instead of the cancellation,
and tells asyncio that the cancel request was handled (``uncancel``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

import anyio

from ..errors import SoftTimeLimitExceeded, TimeLimitExceeded

__all__ = ["run_limited"]

_SOFT = "celeriac: soft time limit"


async def run_limited(
    coro: Coroutine[Any, Any, Any], soft: float | None, hard: float | None
) -> Any:
    """Await ``coro`` under its limits (seconds; None: no limit)."""
    if soft is None or (hard is not None and hard <= soft):
        return await _hard_limited(coro, hard)
    return await _hard_limited(_soft_limited(coro, soft), hard)


async def _hard_limited(awaitable: Awaitable[Any], hard: float | None) -> Any:
    if hard is None:
        return await awaitable
    with anyio.move_on_after(hard) as scope:
        return await awaitable
    if scope.cancelled_caught:
        raise TimeLimitExceeded(f"hard time limit ({hard}s) exceeded")
    raise AssertionError("unreachable: the scope returns or is cancelled")  # pragma: no cover


async def _soft_limited(coro: Coroutine[Any, Any, Any], soft: float) -> Any:
    value: list[Any] = []
    error: list[Exception] = []

    async def child() -> None:
        task = asyncio.current_task()
        assert task is not None
        timer = asyncio.get_running_loop().call_later(soft, task.cancel, _SOFT)
        try:
            value.append(await _Driver(coro, task))
        except Exception as exc:  # raised again below, outside the task group's wrapping
            error.append(exc)
        finally:
            timer.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(child)
    if error:
        raise error[0]
    return value[0]


class _Driver(Awaitable[Any]):
    """Drives ``coro`` on behalf of ``task``; turns the soft-limit cancel into
    ``SoftTimeLimitExceeded`` thrown at the coroutine's current await."""

    def __init__(self, coro: Coroutine[Any, Any, Any], task: asyncio.Task[Any]) -> None:
        self.coro = coro
        self.task = task

    def __await__(self) -> Generator[Any, Any, Any]:
        return self._drive()

    def _drive(self) -> Generator[Any, Any, Any]:
        send: Any = None
        throw: BaseException | None = None
        while True:
            try:
                yielded = self.coro.throw(throw) if throw is not None else self.coro.send(send)
            except StopIteration as stop:
                return stop.value
            try:
                send, throw = (yield yielded), None
            except asyncio.CancelledError as exc:
                send, throw = None, self._translate(exc)
            except BaseException as exc:  # passed on to the coroutine
                send, throw = None, exc

    def _translate(self, exc: asyncio.CancelledError) -> BaseException:
        if exc.args != (_SOFT,):
            return exc  # a real cancellation (hard limit, shutdown): pass it on
        if hasattr(self.task, "uncancel"):  # Python >= 3.11 counts cancel requests
            self.task.uncancel()
        return SoftTimeLimitExceeded("soft time limit exceeded")
