"""`Jobs`: the decoded jobs waiting for a free runner.

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
from typing import Generic, TypeVar

__all__ = ["Jobs"]

T = TypeVar("T")


class Jobs(Generic[T]):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()  # None: closed
        self._closed = False

    def put(self, job: T) -> None:
        if self._closed:
            raise RuntimeError("no jobs can be added after close()")
        self._queue.put_nowait(job)

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
