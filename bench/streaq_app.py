"""The benchmark's streaQ worker: a no-op task and a 10 ms sleep, both ``async def``.

``silent=True`` is streaQ's switch for its per-task INFO line (it formats the line
whatever the log level), the counterpart of running the others at WARNING.
"""

from __future__ import annotations

from typing import Any

import anyio
from streaq import Worker

from bench.common import SLEEP_SECONDS, STREAQ_QUEUE, redis_url, use_uvloop


def make_worker(concurrency: int = 16) -> tuple[Worker[Any], Any, Any]:
    worker: Worker[Any] = Worker(
        redis_url=redis_url(),
        queue_name=STREAQ_QUEUE,
        concurrency=concurrency,
        anyio_kwargs={"use_uvloop": use_uvloop()},
    )

    @worker.task(name="bench.noop", silent=True)
    async def noop(i: int) -> int:
        return i

    @worker.task(name="bench.sleep", silent=True)
    async def sleep(i: int) -> int:
        await anyio.sleep(SLEEP_SECONDS)
        return i

    return worker, noop, sleep
