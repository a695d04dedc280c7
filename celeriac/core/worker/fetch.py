"""The fetcher: keeps the worker supplied with messages, never holding more than it can
run soon (its capacity: running slots plus prefetch).

Messages are fetched in batches; when none is ready the broker's blocking read wakes
it as soon as one arrives, so an idle worker still picks work up within milliseconds.
Every few seconds it also takes over messages of workers that died (the broker's
``reclaim``), before fetching new ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import anyio

from ..broker import Broker, Delivery, Recovery, safe_url
from ..errors import BrokerError
from ..liveness import Counters
from ..logs import worker_logger as logger
from .backoff import Backoff
from .holdings import Holdings

__all__ = ["Fetcher"]


class Fetcher:
    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        consumer: str,
        *,
        capacity: int,
        holdings: Holdings,
        counters: Counters,
        strict: bool,
        block: float,
        recovery: Recovery,
        reclaim_every: float,
        idle_timeout: float | None,
        deliver: Callable[[Delivery], None],
    ) -> None:
        self.broker = broker
        self.queues = list(queues)
        self.consumer = consumer
        self.capacity = capacity
        self.holdings = holdings
        self.counters = counters
        self.strict = strict
        self.block = block
        self.recovery = recovery
        self.reclaim_every = reclaim_every
        self.idle_timeout = idle_timeout
        self._deliver = deliver
        self.stopping = False
        self.paused = False
        self._poked = anyio.Event()
        self._next_reclaim = 0.0
        self._last_message = time.monotonic()
        self._releases = 0  # counts finished batches: an outcome may have sent a message

    # -- control, from any task of the worker ------------------------------------------

    def release(self, deliveries: Sequence[Delivery]) -> None:
        """These messages are finished: room for more."""
        self.holdings.remove(deliveries)
        self._releases += 1
        self._poked.set()

    def poke(self) -> None:
        """Look again now (the capacity changed)."""
        self._poked.set()

    def stop(self) -> None:
        self.stopping = True
        self._poked.set()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._poked.set()

    # -- the loop -----------------------------------------------------------------------

    async def run(self, *, burst: bool) -> None:
        """Fetch until stopped (or, in burst mode, until nothing is left, or idle for
        ``idle_timeout`` seconds with nothing held)."""
        backoff = Backoff()
        while not self.stopping:
            self._poked = anyio.Event()  # made before looking, so no release is missed
            want = self.capacity - len(self.holdings)
            if self.paused or want <= 0:
                await self._poked.wait()
                continue
            releases = self._releases
            try:
                batch = await self._reclaim(want) or await self._fetch(want, burst)
            except BrokerError as exc:
                await self._retry_later(exc, backoff)
                continue
            if backoff.attempts:
                logger.info("Connected to %s", self._where())
                backoff = Backoff()
            if batch:
                self._hand_over(batch)
            elif releases == self._releases and self._done(burst):
                return
            elif burst:
                await self._poked.wait()

    async def _fetch(self, want: int, burst: bool) -> list[Delivery]:
        block = 0 if burst else self.block
        return await self.broker.fetch(self.queues, self.consumer, want, block, self.strict)

    async def _reclaim(self, want: int) -> list[Delivery]:
        """Now and then, take over messages of dead workers first."""
        if time.monotonic() < self._next_reclaim:
            return []
        self._next_reclaim = time.monotonic() + self.reclaim_every
        taken, dead = await self.broker.reclaim(self.queues, self.consumer, want, self.recovery)
        if dead:
            self.counters.dead_lettered += dead
            logger.error(
                "%d message(s) were delivered %d times without ever finishing: moved to "
                "the dead letters.",
                dead,
                self.recovery.max_deliveries,
            )
        if taken:
            self.counters.taken_over += len(taken)
            logger.warning(
                "Took over %d message(s) from workers that stopped without finishing them.",
                len(taken),
            )
        return taken

    def _hand_over(self, batch: list[Delivery]) -> None:
        self._last_message = time.monotonic()
        self.holdings.add(batch)
        for delivery in batch:
            self._deliver(delivery)

    def _done(self, burst: bool) -> bool:
        """Nothing came, and no outcome was recorded while we looked (a retry would have
        sent a message): time to return? (burst: nothing left; idle: quiet too long)"""
        if len(self.holdings):
            return False
        if burst:
            return True
        quiet = time.monotonic() - self._last_message
        if self.idle_timeout is not None and quiet >= self.idle_timeout:
            logger.info("No task for %.0f seconds: stopping (idle timeout).", quiet)
            return True
        return False

    async def _retry_later(self, exc: BrokerError, backoff: Backoff) -> None:
        delay = backoff.next()
        logger.error(
            "consumer: Cannot fetch from %s: %s. Trying again in %.2f seconds... (%d)",
            self._where(),
            exc,
            delay,
            backoff.attempts,
        )
        with anyio.move_on_after(delay):
            while not self.stopping:  # a stop cuts the wait short
                self._poked = anyio.Event()
                await self._poked.wait()

    def _where(self) -> str:
        url = getattr(self.broker, "url", None)
        return safe_url(url) if isinstance(url, str) else repr(self.broker)
