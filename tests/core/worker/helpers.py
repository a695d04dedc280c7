"""Running a worker in the background of a test, bounded in time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from celeriac.core import App, Worker


@asynccontextmanager
async def running_worker(app: App, limit: float = 20, **options: Any) -> AsyncIterator[Worker]:
    """A worker consuming in the background; stopped (and awaited) on exit."""
    options.setdefault("block", 0.05)
    worker = Worker(app, **options)
    with anyio.fail_after(limit):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            try:
                yield worker
            finally:
                worker.stop()


async def drain(app: App, limit: float = 20, **options: Any) -> Worker:
    """Run a worker in burst mode: until the queues are empty."""
    worker = Worker(app, **options)
    with anyio.fail_after(limit):
        await worker.run(burst=True)
    return worker
