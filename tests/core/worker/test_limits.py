"""Time limits through the worker: async tasks (cancellation), sync tasks in the process
pool (the child is killed and replaced), and the warning for the thread pool."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

import anyio
import pytest

from celeriac.core import (
    FAILURE,
    App,
    MemoryBroker,
    SoftTimeLimitExceeded,
    TaskMessage,
    TimeLimitExceeded,
    Worker,
)
from tests.core.worker.helpers import drain

pytestmark = pytest.mark.anyio


async def test_async_hard_limit_stops_the_task(app: App) -> None:
    finished: list[str] = []

    @app.task(timeout=0.2)
    async def forever() -> None:
        await anyio.sleep(30)
        finished.append("no")

    handle = await forever.enqueue()
    started = time.monotonic()
    await drain(app)
    assert time.monotonic() - started < 5
    with pytest.raises(TimeLimitExceeded, match=r"hard time limit \(0.2s\)"):
        await handle.result(timeout=1)
    assert finished == []


async def test_async_soft_limit_can_be_caught(app: App) -> None:
    @app.task(soft_timeout=0.1, timeout=5)
    async def tidy() -> str:
        try:
            await anyio.sleep(30)
        except SoftTimeLimitExceeded:
            await anyio.sleep(0.01)  # still allowed to await while cleaning up
            return "cleaned up"
        return "never"

    @app.task(soft_timeout=0.1)
    async def careless() -> None:
        await anyio.sleep(30)

    tidied, failed = await tidy.enqueue(), await careless.enqueue()
    await drain(app)
    assert await tidied.result(timeout=1) == "cleaned up"
    with pytest.raises(SoftTimeLimitExceeded):
        await failed.result(timeout=1)


async def test_a_task_that_swallows_its_soft_limit_still_meets_the_hard_one(app: App) -> None:
    @app.task(soft_timeout=0.1, timeout=0.4)
    async def stubborn() -> None:
        try:
            await anyio.sleep(30)
        except SoftTimeLimitExceeded:
            await anyio.sleep(30)

    handle = await stubborn.enqueue()
    await drain(app)
    record = await handle.record()
    assert record is not None and record.state == FAILURE
    assert record.exc is not None and record.exc.type_name == "TimeLimitExceeded"


async def test_limits_per_call(app: App) -> None:
    @app.task
    async def slow(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "done"

    ok = await slow.options(timeout=2).enqueue(0.05)
    late = await slow.options(timeout=0.1).enqueue(5)
    await drain(app)
    assert await ok.result(timeout=1) == "done"
    with pytest.raises(TimeLimitExceeded):
        await late.result(timeout=1)


def _sleepy(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _pid() -> int:
    return os.getpid()


async def test_process_pool_hard_limit_kills_the_child_and_keeps_serving() -> None:
    app = App(MemoryBroker())
    sleepy = app.task(name="sleepy", timeout=0.3)(_sleepy)
    pid = app.task(name="pid")(_pid)
    stuck = await sleepy.enqueue(30)
    before = await pid.enqueue()
    await drain(app, concurrency=1, sync_concurrency=1, prefetch=0, sync_pool="processes")
    first_child = await before.result(timeout=1)
    with pytest.raises(TimeLimitExceeded):
        await stuck.result(timeout=1)
    after = [await pid.enqueue() for _ in range(3)]
    await drain(app, concurrency=1, sync_concurrency=1, sync_pool="processes")
    pids = {await h.result(timeout=1) for h in after}
    assert len(pids) == 1 and os.getpid() not in pids and first_child != os.getpid()


async def test_thread_pool_warns_that_limits_are_not_enforced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App(MemoryBroker())

    @app.task(name="blocking", timeout=5)
    def blocking() -> str:
        return "ran"

    handle = await blocking.enqueue()
    with caplog.at_level(logging.WARNING, logger="celeriac"):
        await drain(app)
    assert await handle.result(timeout=1) == "ran"
    assert "cannot be stopped" in caplog.text
    assert "sync_pool='processes'" in caplog.text


def _late() -> str:
    return "registered late"


async def test_renew_pool_as_soon_as_the_worker_starts() -> None:
    """renew_pool() right when the lifespan starts (the process pool is open, the rest
    of the worker not yet): the children are forked again, and know the new task."""
    app = App(MemoryBroker())

    @contextlib.asynccontextmanager
    async def lifespan(worker: Worker) -> AsyncIterator[None]:
        app.task(name="late")(_late)  # after the pool's children were forked
        worker.renew_pool()
        yield None

    app.lifespan = lifespan
    (handle,) = await app.enqueue_many([TaskMessage(name="late")])
    await drain(app, concurrency=1, sync_concurrency=1, sync_pool="processes")
    assert await handle.result(timeout=5) == "registered late"
