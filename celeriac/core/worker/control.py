"""Control: the worker's ear on the broker's control channel, and its list of revoked
tasks.

Revocations are kept in the broker with a TTL; the worker reads them when it starts and
at every heartbeat, and hears new ones at once on the control channel, where they stop
the tasks it is running.

Remote control requests come on the same channel, as JSON: ``{"request": name, "id":
reply id, "arguments": {...}, "destination": [worker names] or null, "reply": bool}``.
A worker they are for answers through ``answer(name, arguments)`` and puts the outcome,
``{"worker": name, "reply": ...}`` or ``{"worker": name, "error": "..."}``, in the
request's reply list (see ``Broker.reply``).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ..broker import Broker
from ..errors import BrokerError
from ..logs import worker_logger as logger
from .backoff import Backoff

__all__ = ["Control"]


Answer = Callable[[str, Mapping[str, Any]], Awaitable[Any]]
REPLY_TTL = 60.0  # seconds a reply waits for the caller


class Control:
    def __init__(
        self,
        broker: Broker,
        on_revoke: Callable[[Iterable[str]], None],
        name: str = "",
        answer: Answer | None = None,
    ) -> None:
        self.broker = broker
        self.revoked: set[str] = set()
        self._on_revoke = on_revoke
        self.name = name
        self._answer = answer
        self._requests: MemoryObjectSendStream[dict[str, Any]] | None = None  # answering

    def is_revoked(self, task_id: str) -> bool:
        return task_id in self.revoked

    async def refresh(self) -> None:
        """Read the broker's list (start, heartbeats); revocations that expired go."""
        found = await self.broker.revoked()
        new = found - self.revoked
        self.revoked = found
        if new:
            self._on_revoke(new)

    def _heard(self, message: bytes) -> None:
        if message.startswith(b"{"):
            self._request(message)
            return
        words = message.decode(errors="replace").split()
        if words[:1] == ["revoke"]:
            ids = words[1:]
            self.revoked.update(ids)
            self._on_revoke(ids)

    def _request(self, message: bytes) -> None:
        try:
            request = json.loads(message)
        except ValueError as exc:
            logger.warning("Control: unreadable request ignored: %s", exc)
            return
        if not isinstance(request, dict) or not isinstance(request.get("request"), str):
            logger.warning("Control: a request without a name ignored: %.200r", message)
            return
        destination = request.get("destination")
        if destination and self.name not in destination:
            return
        if self._requests is not None:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._requests.send_nowait(request)

    async def answer_requests(self) -> None:
        """Answer the requests heard, one at a time, until cancelled."""
        requests, incoming = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        self._requests = requests
        try:
            async with requests, incoming:
                async for request in incoming:
                    await self._answer_one(request)
        finally:
            self._requests = None

    async def _answer_one(self, request: dict[str, Any]) -> None:
        outcome: dict[str, Any] = {"worker": self.name}
        try:
            if self._answer is None:
                raise LookupError("this worker takes no remote control requests")
            arguments = request.get("arguments") or {}
            outcome["reply"] = await self._answer(request["request"], arguments)
        except Exception as exc:
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        if not request.get("reply", True) or not isinstance(request.get("id"), str):
            return
        try:
            data = json.dumps(outcome, default=repr).encode()
            await self.broker.reply(request["id"], data, REPLY_TTL)
        except BrokerError as exc:
            logger.error("Control: cannot reply to %r: %s", request["request"], exc)

    async def listen(self, listening: anyio.Event | None = None) -> None:
        """Listen until cancelled; a lost connection is logged and listened again.
        ``listening`` is set once subscribed and the list read again (so a revocation
        made before the subscription is not missed either)."""
        backoff = Backoff()
        while True:
            subscribed = anyio.Event()
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._caught_up, subscribed, listening)
                    await self.broker.listen_control(self._heard, subscribed.set)
            except Exception as raised:
                exc = _broker_error(raised)
                if exc is None:
                    raise
                delay = backoff.next()
                logger.error("Control channel lost: %s. Again in %.2f seconds.", exc, delay)
                await anyio.sleep(delay)
                with contextlib.suppress(BrokerError):  # else the heartbeat tries again
                    await self.refresh()

    async def _caught_up(self, subscribed: anyio.Event, listening: anyio.Event | None) -> None:
        await subscribed.wait()
        with contextlib.suppress(BrokerError):  # else the heartbeat reads it
            await self.refresh()
        if listening is not None:
            listening.set()


def _broker_error(exc: BaseException) -> BrokerError | None:
    """The BrokerError ``exc`` is, or the one a task group wrapped it in (else None)."""
    if isinstance(exc, BrokerError):
        return exc
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup (no except* on 3.10)
    if inner is not None and len(inner) == 1:
        return _broker_error(inner[0])
    return None
