"""The finisher: records outcomes in batches, so a busy worker pays one round trip
for many tasks; an idle one flushes each outcome at once.

An outcome is only dropped from memory once the broker has it. While Redis is
unreachable the finisher keeps its batch and tries again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from ..broker import Broker, Completion, Delivery
from ..errors import BrokerError
from ..logs import worker_logger as logger
from ..result import FAILURE
from .backoff import Backoff

__all__ = ["DeadItem", "Finisher", "NackItem", "StoredFailure"]

MAX_BATCH = 500


@dataclass(frozen=True)
class StoredFailure:
    """The result a dead letter leaves for its callers (a failure they can see)."""

    task_id: str
    data: bytes
    ttl: float | None


@dataclass(frozen=True)
class DeadItem:
    """A message for the dead letters; with ``failure``, its result is stored first so
    whoever waits on it sees why it did not run."""

    delivery: Delivery
    reason: str
    error: str
    failure: StoredFailure | None = None


@dataclass(frozen=True)
class NackItem:
    delivery: Delivery


Item = Completion | DeadItem | NackItem


class Finisher:
    def __init__(self, broker: Broker, on_done: Callable[[list[Delivery]], None]) -> None:
        self._broker = broker
        self._on_done = on_done
        self._send, self._receive = anyio.create_memory_object_stream[Item](math.inf)

    def submit(self, item: Item) -> None:
        self._send.send_nowait(item)

    def close(self) -> None:
        """No more items: :meth:`run` returns once everything is flushed."""
        self._send.close()

    async def run(self) -> None:
        async with self._receive:
            async for first in self._receive:
                batch: list[Item] = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self._flush_until_done(batch)
                self._on_done([item.delivery for item in batch])

    async def _flush_until_done(self, batch: list[Item]) -> None:
        backoff = Backoff()
        pending = list(batch)
        while True:
            try:
                await self._flush(pending)
                if backoff.attempts:
                    logger.info("Stored %d pending outcome(s) after reconnecting.", len(batch))
                return
            except BrokerError as exc:
                delay = backoff.next()
                logger.error(
                    "Cannot record %d task outcome(s): %s. Trying again in %.2f seconds... (%d)",
                    len(pending),
                    exc,
                    delay,
                    backoff.attempts,
                )
                await anyio.sleep(delay)

    async def _flush(self, pending: list[Item]) -> None:
        """Record ``pending``, removing each part from it once the broker has it, so a
        retry after a failure does not apply a part twice."""
        completions = [item for item in pending if isinstance(item, Completion)]
        if completions:
            await self._broker.finish(completions)
            pending[:] = [item for item in pending if not isinstance(item, Completion)]
        nacks = [item for item in pending if isinstance(item, NackItem)]
        if nacks:
            await self._broker.nack([item.delivery for item in nacks])
            pending[:] = [item for item in pending if not isinstance(item, NackItem)]
        while pending:
            item = pending[0]
            assert isinstance(item, DeadItem)
            if item.failure is not None:  # stored again if the dead letter fails: harmless
                failure = item.failure
                await self._broker.store_result(failure.task_id, FAILURE, failure.data, failure.ttl)
            await self._broker.dead_letter(item.delivery, item.reason, item.error)
            pending.pop(0)
