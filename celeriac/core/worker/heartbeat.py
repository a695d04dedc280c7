"""The heartbeat: every few seconds the worker tells the broker it is alive (per queue,
and in the registry of workers) and refreshes the messages it holds, so that no other
worker takes them over. When it stops beating (it died), others take them after the
liveness lapses: three intervals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio

from ..broker import Broker
from ..errors import BrokerError
from ..liveness import WorkerInfo
from ..logs import worker_logger as logger
from .holdings import Holdings

__all__ = ["Heartbeat"]

MISSED_BEATS = 3  # a worker silent this many intervals counts as dead


class Heartbeat:
    def __init__(
        self,
        broker: Broker,
        consumer: str,
        queues: Sequence[str],
        *,
        holdings: Holdings,
        interval: float,
        info: Callable[[], WorkerInfo],
        also: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.broker = broker
        self.consumer = consumer
        self.queues = list(queues)
        self.holdings = holdings
        self.interval = interval
        self.info = info
        self.also = also  # more to do at each beat (re-read the revocations)
        self.ttl = interval * MISSED_BEATS
        self.failing = False

    async def beat(self) -> None:
        """One heartbeat: alive on each queue, held messages refreshed, info published."""
        lost = await self.broker.heartbeat(
            self.consumer, self.queues, self.holdings.to_refresh(), self.ttl
        )
        lost = [d for d in lost if self.holdings.holds(d)]  # not just finished meanwhile
        if lost:
            logger.warning(
                "%d message(s) held here were taken over by another worker (this one was "
                "silent too long, or ran past a time limit): they may run twice.",
                len(lost),
            )
        await self.broker.announce(self.consumer, self.info().encode(), self.ttl)
        if self.also is not None:
            await self.also()

    async def run(self) -> None:
        """Beat until cancelled; Redis trouble is logged, and beating goes on."""
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.beat()
            except BrokerError as exc:
                logger.error(
                    "Heartbeat failed: %s. Trying again in %.2f seconds.", exc, self.interval
                )
                self.failing = True
                continue
            if self.failing:
                logger.info("Heartbeat restored.")
                self.failing = False

    async def withdraw(self) -> None:
        """Leave the registry (best effort: Redis may be gone)."""
        try:
            await self.broker.withdraw(self.consumer)
        except BrokerError as exc:
            logger.warning("Could not remove this worker from the registry: %s", exc)
