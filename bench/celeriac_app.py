"""The benchmark's celeriac app: a no-op task and a 10 ms sleep, both ``async def``."""

from __future__ import annotations

import anyio

from bench.common import CELERIAC_PREFIX, CELERIAC_QUEUE, SLEEP_SECONDS, redis_url
from celeriac.core import App

app = App(redis_url(), prefix=CELERIAC_PREFIX, default_queue=CELERIAC_QUEUE)


@app.task(name="bench.noop")
async def noop(i: int) -> int:
    return i


@app.task(name="bench.sleep")
async def sleep(i: int) -> int:
    await anyio.sleep(SLEEP_SECONDS)
    return i
