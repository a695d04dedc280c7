"""Handles on enqueued tasks: read their state and wait for their results.

:class:`Handle` is for async code, :class:`SyncHandle` for sync code. Waiting never
polls: it is woken when the worker stores the result.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import ResultTimeout, TaskRevoked
from .result import FAILURE, PENDING, REVOKED, ResultRecord

if TYPE_CHECKING:
    from .app import App

__all__ = ["Handle", "SyncHandle"]

R = TypeVar("R")


def _outcome(record: ResultRecord) -> Any:
    """The value of a ready record, or its exception raised again."""
    if record.state == FAILURE and record.exc is not None:
        raise record.exc.rebuild()
    if record.state == REVOKED:
        reason = record.exc.message if record.exc else "revoked"
        raise TaskRevoked(f"task {record.id} was revoked: {reason}")
    return record.value


def _timeout_error(task_id: str, timeout: float | None, last: ResultRecord | None) -> ResultTimeout:
    state = last.state if last else PENDING
    return ResultTimeout(f"task {task_id} did not finish within {timeout}s (last state: {state})")


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class _HandleBase(Generic[R]):
    def __init__(self, app: App, task_id: str) -> None:
        self.app = app
        self.id = task_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _HandleBase) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def _decode(self, data: bytes | None) -> ResultRecord | None:
        return None if data is None else ResultRecord.decode(data, self.app.codec)


class Handle(_HandleBase[R]):
    """An enqueued task, seen from async code."""

    async def revoke(self) -> None:
        """Revoke this task (see :meth:`App.revoke`)."""
        await self.app.revoke(self.id)

    async def record(self) -> ResultRecord | None:
        """The stored result record, or None while there is none (PENDING)."""
        return self._decode(await self.app.broker.get_result(self.id))

    async def state(self) -> str:
        """The task's state: PENDING until it is done (or unknown), then its outcome."""
        return await self.app.broker.get_state(self.id) or PENDING

    async def wait(self, timeout: float | None = None) -> ResultRecord:
        """The record once the task is ready (SUCCESS, FAILURE or REVOKED)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: ResultRecord | None = None
        previous: bytes | None = None
        while True:
            data = await self.app.broker.wait_result(self.id, _remaining(deadline), previous)
            if data is None or data == previous:
                raise _timeout_error(self.id, timeout, last)
            last, previous = self._decode(data), data
            if last is not None and last.ready:
                return last

    async def result(self, timeout: float | None = None) -> R:
        """The task's return value; its exception is raised again if it failed."""
        value: R = _outcome(await self.wait(timeout))
        return value


class SyncHandle(_HandleBase[R]):
    """An enqueued task, seen from sync code (thread-safe)."""

    def record(self) -> ResultRecord | None:
        return self._decode(self.app.sync_broker.get_result(self.id))

    def state(self) -> str:
        return self.app.sync_broker.get_state(self.id) or PENDING

    def wait(self, timeout: float | None = None) -> ResultRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        last: ResultRecord | None = None
        previous: bytes | None = None
        while True:
            data = self.app.sync_broker.wait_result(self.id, _remaining(deadline), previous)
            if data is None or data == previous:
                raise _timeout_error(self.id, timeout, last)
            last, previous = self._decode(data), data
            if last is not None and last.ready:
                return last

    def result(self, timeout: float | None = None) -> R:
        value: R = _outcome(self.wait(timeout))
        return value
