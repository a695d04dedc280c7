"""Stopping a worker: within the grace period, past it, at once; max_tasks; idle timeout;
and the registry of live workers."""

from __future__ import annotations

import anyio
import pytest

from celeriac.core import App, Worker

pytestmark = pytest.mark.anyio


async def test_tasks_finishing_within_the_grace_period_complete(app: App) -> None:
    started = anyio.Event()

    @app.task
    async def short(n: int) -> int:
        started.set()
        await anyio.sleep(0.2)
        return n

    handles = await app.enqueue_many([short.message(n) for n in range(3)])
    worker = Worker(app, concurrency=3, grace=5, block=0.05)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            await started.wait()
            worker.stop()
    assert [await h.result(timeout=1) for h in handles] == [0, 1, 2]


async def test_tasks_still_running_after_the_grace_period_are_handed_back(app: App) -> None:
    started = anyio.Event()
    runs: list[int] = []

    @app.task
    async def long(n: int) -> int:
        runs.append(n)
        started.set()
        await anyio.sleep(30)
        return n

    handle = await long.enqueue(1)
    worker = Worker(app, grace=0.2, block=0.05)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            await started.wait()
            worker.stop()
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (1, 0)  # straight back to the queue
    assert await handle.record() is None
    assert runs == [1]


async def test_stop_now_leaves_running_tasks_to_recovery(app: App) -> None:
    started = anyio.Event()

    @app.task
    async def long() -> None:
        started.set()
        await anyio.sleep(30)

    await long.enqueue()
    worker = Worker(app, grace=30, block=0.05)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            await started.wait()
            worker.stop(now=True)
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (0, 1)  # still held by the stopped worker


async def test_max_tasks_stops_the_worker(app: App) -> None:
    ran: list[int] = []

    @app.task
    async def count(n: int) -> None:
        ran.append(n)

    await app.enqueue_many([count.message(n) for n in range(10)])
    worker = Worker(app, concurrency=1, sync_concurrency=1, prefetch=0, max_tasks=4, block=0.05)
    with anyio.fail_after(10):
        await worker.run()
    assert len(ran) == 4
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (6, 0)


async def test_idle_timeout_stops_a_quiet_worker(app: App) -> None:
    @app.task
    async def noop() -> None:
        pass

    await noop.enqueue()
    worker = Worker(app, idle_timeout=0.3, block=0.05)
    with anyio.fail_after(10):
        await worker.run()
    assert worker.counters.succeeded == 1


async def test_live_workers_are_listed_with_their_counters(app: App) -> None:
    @app.task
    async def noop() -> None:
        pass

    await app.enqueue_many([noop.message() for _ in range(3)])
    worker = Worker(app, name="w1@host", queues=["default", "other"], heartbeat=0.1, block=0.05)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            while worker.counters.succeeded < 3:
                await anyio.sleep(0.01)
            await anyio.sleep(0.3)  # a heartbeat publishes the counters
            (info,) = await app.workers()
            worker.stop()
    assert (info.name, info.consumer, info.queues) == (
        "w1@host",
        worker.consumer,
        ("default", "other"),
    )
    assert info.counters["succeeded"] == 3 and info.concurrency == 100
    assert await app.workers() == []  # a stopped worker leaves the registry


async def test_stop_before_run_returns_at_once(app: App) -> None:
    worker = Worker(app, block=5)
    worker.stop()
    with anyio.fail_after(5):
        await worker.run()
