"""`Jobs`: the decoded jobs waiting for a free runner; `Seats`: how many of them run.

An unbounded first-in first-out queue that the fetcher fills (without waiting) and the
runners take from; once closed, the runners take what is left, then stop. It stands
where an anyio memory object stream stood: a hand-over through that stream made two
anyio events, a receiver record and a task-state lookup per job, a tenth of a no-op
task's whole cost in the worker, where an asyncio queue costs a future. The worker only
runs on asyncio (redis-py's async client needs it), and a runner waiting here is still
cancelled by the worker's cancel scopes as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Jobs", "Seats"]

T = TypeVar("T")


class Jobs(Generic[T]):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()  # None: closed
        self._closed = False

    def put(self, job: T) -> None:
        if self._closed:
            raise RuntimeError("no jobs can be added after close()")
        self._queue.put_nowait(job)

    def __len__(self) -> int:
        """Jobs waiting (the end-of-jobs mark not counted)."""
        return self._queue.qsize() - (1 if self._closed else 0)

    def close(self) -> None:
        """No more jobs: each runner stops once none is left."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    async def next(self) -> T | None:
        """The next job, once there is one; None once closed and none is left. Yields to
        the event loop first, as the stream did, so that runners whose tasks never wait
        still take turns with the rest of the worker."""
        await asyncio.sleep(0)
        job = await self._queue.get()
        if job is None:
            self._queue.put_nowait(None)  # the end, for the next runner too
        return job


class Seats:
    """At most ``total`` holders at once, first come first served; ``total`` can change
    at any time (a smaller total lets current holders finish: it binds the next ones).
    Cheaper than a capacity limiter, which the runners would pay for on every job."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def take(self) -> None:
        if self.taken < self.total and not self._waiting:
            self.taken += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # given a seat, then cancelled
                self.give_back()
            else:
                self._waiting.remove(waiter)
            raise

    def give_back(self) -> None:
        self.taken -= 1
        self._seat_waiters()

    def resize(self, total: int) -> None:
        self.total = total
        self._seat_waiters()

    def _seat_waiters(self) -> None:
        while self._waiting and self.taken < self.total:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self.taken += 1
                waiter.set_result(None)
