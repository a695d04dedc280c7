"""Delays wait in the broker, never in a worker: on time, exactly once with many workers,
even when the delay is longer than any visibility window."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
import redis.asyncio as aioredis

from celeriac.core import App, Recovery, RedisBroker, TaskRevoked, Worker

pytestmark = pytest.mark.anyio

QUICK = Recovery(window=0.3, max_deliveries=5, grace=0.05)


@asynccontextmanager
async def workers(
    app: App, count: int = 2, recovery: Recovery = QUICK
) -> AsyncIterator[list[Worker]]:
    """``count`` workers, with short heartbeats and (by default) visibility windows."""
    crew = [
        Worker(app, name=f"w{n}", heartbeat=0.1, recovery=recovery, block=0.05)
        for n in range(count)
    ]
    async with anyio.create_task_group() as tg:
        for worker in crew:
            tg.start_soon(worker.run)
        try:
            yield crew
        finally:
            for worker in crew:
                worker.stop()


async def test_a_one_second_countdown_runs_on_time(app: App) -> None:
    started: list[float] = []

    @app.task
    async def later() -> None:
        started.append(time.time())

    async with workers(app, 1):
        await anyio.sleep(0.3)  # idle, blocked in its read
        due = time.time() + 1.0
        handle = await later.options(delay=1.0).enqueue()
        await handle.result(timeout=5)
    lateness = started[0] - due
    assert -0.01 <= lateness < 0.25, lateness  # a few ms in practice (see docs)


async def test_a_delay_past_the_visibility_window_runs_exactly_once(app: App) -> None:
    runs: list[float] = []

    @app.task
    async def once() -> None:
        runs.append(time.time())

    async with workers(app, 2):
        handles = await app.enqueue_many([once.options(delay=1.0).message() for _ in range(20)])
        with anyio.fail_after(10):
            for handle in handles:
                await handle.result(timeout=10)
        await anyio.sleep(0.5)  # room for a wrong second run
    assert len(runs) == 20


async def test_many_workers_never_promote_twice(app: App) -> None:
    counts: dict[int, int] = {}

    @app.task
    async def tick(n: int) -> None:
        counts[n] = counts.get(n, 0) + 1

    # A window far longer than the test: under load a 0.3 s window can rightly take a
    # message from a worker whose loop stalled, and that second run is not a promotion.
    async with workers(app, 3, Recovery(window=60.0)):
        now = time.time()
        messages = [tick.options(eta=now + 0.2 + (n % 10) / 50).message(n) for n in range(300)]
        handles = await app.enqueue_many(messages)
        with anyio.fail_after(15):
            for handle in handles:
                await handle.result(timeout=10)
    assert counts == dict.fromkeys(range(300), 1)


async def test_expires_as_a_datetime(app: App) -> None:
    ran: list[int] = []

    @app.task
    async def job() -> None:
        ran.append(1)

    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    handle = await job.options(expires=past).enqueue()
    async with workers(app, 1):
        with pytest.raises(TaskRevoked, match="expired"):
            await handle.result(timeout=5)
    assert ran == []


async def test_a_delay_of_days_waits_in_redis_and_runs_once(redis_url: str, prefix: str) -> None:
    """Three days, with workers running meanwhile: the task stays in Redis's delayed set
    (held by no worker, so no window can redeliver it) until it is due, then runs once.
    "Days later" is made by moving its due time in Redis, as time would."""
    app = App(RedisBroker(redis_url, prefix=prefix))
    runs: list[int] = []

    @app.task
    async def far() -> None:
        runs.append(1)

    client = aioredis.Redis.from_url(redis_url)
    try:
        async with workers(app, 2):
            handle = await far.options(delay=3 * 24 * 3600).enqueue()
            await anyio.sleep(1.0)  # more than three windows
            stats = await app.broker.stats(app.default_queue)
            assert (stats.delayed, stats.in_flight, runs) == (1, 0, [])
            assert isinstance(app.broker, RedisBroker)
            delayed = app.broker.keys.delayed(app.default_queue)
            (member,) = await client.zrange(delayed, 0, -1)
            await client.zadd(delayed, {member: int(time.time() * 1000)})  # days pass
            await handle.result(timeout=5)
            await anyio.sleep(0.5)
    finally:
        await client.aclose()
        await app.aclose()
        app.close()
    assert runs == [1]
