"""Waiting for a result without polling: subscribe to its channel, then read its key.

Subscribing first (and waiting for Redis to confirm) means a result stored between the
two steps is still seen. Pub/sub connections are kept and reused: a waiter unsubscribes
when done, and the next one skips any message not on its own channel. (redis-py's
pub/sub objects are loosely typed, so they are held as Any.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["AsyncResultWaiter", "SyncResultWaiter"]

RESULT_FIELD = "d"  # the result hash's field holding the envelope (see keys.py)

MAX_IDLE = 16


def _matches(
    message: dict[str, Any] | None, kind: str, channel: bytes, previous: bytes | None
) -> bool:
    return (
        message is not None
        and message["type"] == kind
        and message["channel"] == channel
        and (kind != "message" or message["data"] != previous)
    )


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class AsyncResultWaiter:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._idle: list[Any] = []

    async def wait(self, key: str, timeout: float | None, previous: bytes | None) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        pubsub = self._idle.pop() if self._idle else self._client.pubsub()
        channel = key.encode()
        data: bytes | None
        try:
            await pubsub.subscribe(key)
            await self._next(pubsub, "subscribe", channel, deadline, None)
            data = await self._client.hget(key, RESULT_FIELD)
            if data is None or data == previous:
                message = await self._next(pubsub, "message", channel, deadline, previous)
                data = message["data"] if message else None
            await pubsub.unsubscribe(key)
        except BaseException:
            await pubsub.aclose()  # its state is unknown: never reuse it
            raise
        await self._release(pubsub)
        return data

    async def _next(
        self,
        pubsub: Any,
        kind: str,
        channel: bytes,
        deadline: float | None,
        previous: bytes | None,
    ) -> dict[str, Any] | None:
        while True:
            remaining = _remaining(deadline)
            if remaining == 0.0:
                return None
            message: dict[str, Any] | None = await pubsub.get_message(timeout=remaining)
            if _matches(message, kind, channel, previous):
                return message

    async def _release(self, pubsub: Any) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append(pubsub)
        else:
            await pubsub.aclose()

    async def aclose(self) -> None:
        while self._idle:
            await self._idle.pop().aclose()


class SyncResultWaiter:
    """The blocking counterpart; safe to share between threads."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def wait(self, key: str, timeout: float | None, previous: bytes | None) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            pubsub = self._idle.pop() if self._idle else self._client.pubsub()
        channel = key.encode()
        data: bytes | None
        try:
            pubsub.subscribe(key)
            self._next(pubsub, "subscribe", channel, deadline, None)
            data = self._client.hget(key, RESULT_FIELD)
            if data is None or data == previous:
                message = self._next(pubsub, "message", channel, deadline, previous)
                data = message["data"] if message else None
            pubsub.unsubscribe(key)
        except BaseException:
            pubsub.close()
            raise
        self._release(pubsub)
        return data

    def _next(
        self,
        pubsub: Any,
        kind: str,
        channel: bytes,
        deadline: float | None,
        previous: bytes | None,
    ) -> dict[str, Any] | None:
        while True:
            remaining = _remaining(deadline)
            if remaining == 0.0:
                return None
            message: dict[str, Any] | None = pubsub.get_message(timeout=remaining)
            if _matches(message, kind, channel, previous):
                return message

    def _release(self, pubsub: Any) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(pubsub)
                return
        pubsub.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for pubsub in idle:
            pubsub.close()
