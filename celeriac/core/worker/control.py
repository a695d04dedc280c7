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

    async def listen(self) -> None:
        """Listen until cancelled; a lost connection is logged and listened again."""
        backoff = Backoff()
        while True:
            try:
                await self.broker.listen_control(self._heard)
            except BrokerError as exc:
                delay = backoff.next()
                logger.error("Control channel lost: %s. Again in %.2f seconds.", exc, delay)
                await anyio.sleep(delay)
                with contextlib.suppress(BrokerError):  # else the heartbeat tries again
                    await self.refresh()
