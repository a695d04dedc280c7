"""Control: the worker's ear on the broker's control channel, and its list of revoked
tasks.

Revocations are kept in the broker with a TTL; the worker reads them when it starts and
at every heartbeat, and hears new ones at once on the control channel, where they stop
the tasks it is running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import anyio

from ..broker import Broker
from ..errors import BrokerError
from ..logs import worker_logger as logger
from .backoff import Backoff

__all__ = ["Control"]


class Control:
    def __init__(self, broker: Broker, on_revoke: Callable[[Iterable[str]], None]) -> None:
        self.broker = broker
        self.revoked: set[str] = set()
        self._on_revoke = on_revoke

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
        words = message.decode(errors="replace").split()
        if words[:1] == ["revoke"]:
            ids = words[1:]
            self.revoked.update(ids)
            self._on_revoke(ids)

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
