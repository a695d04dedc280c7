"""`RedisPeriodic`: periodic entries and their state in Redis (see ``periodic.py``).

Entries added at run time sit in one hash; each entry's state sits in its queue's
``cron`` hash, on the queue's slot, so that commit.lua's guard ('T') and the tick's
message are written in one call, on a Cluster too. The state is read with cron.lua.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._lua import text
from .periodic import FIRED, Tick

if TYPE_CHECKING:
    from .redis import RedisBroker

__all__ = ["RedisPeriodic"]


class RedisPeriodic:
    """The :class:`~.periodic.PeriodicStore` of a :class:`RedisBroker`."""

    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        self._keys = broker.keys

    async def entries(self) -> dict[str, bytes]:
        async with self._broker._errors():
            found = await self._broker._redis.hgetall(self._keys.cron_entries())
        return {text(name): data for name, data in found.items()}

    async def put(self, name: str, data: bytes, queue: str) -> None:
        now_ms, _ = await self.state([])
        async with self._broker._errors():
            await self._broker._redis.hset(self._keys.cron(queue), name, now_ms)
            await self._broker._redis.hset(self._keys.cron_entries(), name, data)

    async def remove(self, name: str) -> bytes | None:
        async with self._broker._errors():
            pipe = self._broker._redis.pipeline(transaction=False)  # one key: in order
            pipe.hget(self._keys.cron_entries(), name)
            pipe.hdel(self._keys.cron_entries(), name)
            data, _ = await pipe.execute()
        return data if isinstance(data, bytes) else None

    async def forget(self, queue: str, name: str) -> None:
        async with self._broker._errors():
            await self._broker._redis.hdel(self._keys.cron(queue), name)

    async def state(self, entries: Sequence[tuple[str, str]]) -> tuple[int, list[int]]:
        by_queue: dict[str, list[str]] = {}
        for queue, name in entries:
            by_queue.setdefault(queue, []).append(name)
        if self._broker.cluster or not by_queue:  # one call per slot (or just the clock)
            groups = [[queue] for queue in by_queue] or [[]]
        else:
            groups = [list(by_queue)]
        calls = [self._state_call(by_queue, queues) for queues in groups]
        replies = await self._broker._run(calls)
        lasts: dict[tuple[str, str], int] = {}
        for queues, reply in zip(groups, replies, strict=True):
            values = iter(reply[1:])
            for queue in queues:
                for name in by_queue[queue]:
                    lasts[queue, name] = int(next(values))
        now_ms = max(int(reply[0]) for reply in replies)
        return now_ms, [lasts[entry] for entry in entries]

    def _state_call(
        self, by_queue: dict[str, list[str]], queues: list[str]
    ) -> tuple[str, list[str], list[Any]]:
        args: list[Any] = []
        for queue in queues:
            args += [len(by_queue[queue]), *by_queue[queue]]
        return "cron", [self._keys.cron(queue) for queue in queues], args

    async def fire(self, ticks: Sequence[Tick]) -> list[str | None]:
        commit = self._broker._commit()
        for tick in ticks:
            commit.tick(tick)
        await self._broker._apply(commit)
        # a unique task whose lock is held was not sent, and its guard may not have run:
        # move its entry's state all the same, so the tick is not tried again
        held = [t for t in ticks if t.item and t.item.id in commit.existing]
        if held:
            again = self._broker._commit()
            for tick in held:
                again.tick(Tick(tick.entry, tick.queue, tick.at))
            await self._broker._apply(again)
        return [_outcome(tick, commit.refused, commit.existing) for tick in ticks]


def _outcome(tick: Tick, refused: set[str], existing: dict[str, str]) -> str | None:
    if tick.item is None:
        return None
    if tick.item.id in refused:
        return FIRED
    return existing.get(tick.item.id)
