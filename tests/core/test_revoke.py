"""Revoking tasks wherever they are: queued, delayed, waiting for parents, running (async,
process pool, thread pool), and for workers that start later; on every broker."""

from __future__ import annotations

import os
import threading
import time

import anyio
import pytest

from celeriac.core import (
    REVOKED,
    App,
    DependencyFailed,
    MemoryBroker,
    TaskRevoked,
    current_task,
)
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import drain, running_worker

pytestmark = pytest.mark.anyio


async def test_a_queued_task_never_runs(app: App) -> None:
    ran: list[int] = []

    @app.task
    async def job(n: int) -> None:
        ran.append(n)

    doomed, kept = await job.enqueue(1), await job.enqueue(2)
    await doomed.revoke()
    await drain(app)  # a worker started after the revocation honours it
    assert ran == [2]
    with pytest.raises(TaskRevoked, match="revoked"):
        await doomed.result(timeout=1)
    assert await kept.state() == "SUCCESS"


async def test_a_delayed_task_is_taken_out_at_once(app: App) -> None:
    @app.task
    async def later() -> None:
        pass

    handle = await later.options(delay=60).enqueue()
    assert (await app.broker.stats(app.default_queue)).delayed == 1
    await app.revoke(handle)
    assert (await app.broker.stats(app.default_queue)).delayed == 0
    assert await handle.state() == REVOKED
    with pytest.raises(TaskRevoked, match="revoked while delayed"):
        await handle.result(timeout=1)


async def test_a_waiting_task_is_taken_out_and_its_dependents_fail(app: App) -> None:
    gate = anyio.Event()

    @app.task
    async def parent() -> int:
        await gate.wait()
        return 1

    @app.task
    async def child(x: int) -> int:
        return x

    first = await parent.enqueue()
    middle = await child.options(after=first, pass_results="first").enqueue()
    last = await child.options(after=middle, pass_results="first").enqueue()
    await app.revoke(middle)
    async with running_worker(app):
        gate.set()
        assert await first.result(timeout=5) == 1
        with pytest.raises(TaskRevoked, match="revoked while waiting"):
            await middle.result(timeout=5)
        with pytest.raises(DependencyFailed, match="REVOKED"):
            await last.result(timeout=5)


async def test_a_running_async_task_is_cancelled(app: App) -> None:
    started = anyio.Event()
    finished: list[str] = []

    @app.task
    async def long() -> None:
        started.set()
        await anyio.sleep(30)
        finished.append("no")

    handle = await long.enqueue()
    async with running_worker(app) as worker:
        await started.wait()
        begun = time.monotonic()
        await handle.revoke()
        with pytest.raises(TaskRevoked, match="revoked while running"):
            await handle.result(timeout=5)
        assert time.monotonic() - begun < 2
    assert finished == []
    assert worker.counters.revoked == 1
    assert (await app.broker.stats(app.default_queue)).in_flight == 0


async def test_a_thread_task_sees_the_flag(app: App) -> None:
    started = threading.Event()

    @app.task
    def cooperative() -> str:
        started.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if current_task().revoked:
                return "stopped itself"
            time.sleep(0.01)
        return "ran on"

    handle = await cooperative.enqueue()
    async with running_worker(app):
        await anyio.to_thread.run_sync(started.wait, 5)
        await handle.revoke()
        assert await handle.result(timeout=5) == "stopped itself"


def _sleeper(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


async def test_a_running_task_in_the_process_pool_is_killed() -> None:
    app = App(MemoryBroker())
    sleeper = app.task(name="sleeper")(_sleeper)
    long = await sleeper.enqueue(30)
    async with running_worker(app, sync_pool="processes", sync_concurrency=1) as worker:
        with anyio.fail_after(10):
            while worker.info.active == 0:
                await anyio.sleep(0.02)
        await long.revoke()
        with pytest.raises(TaskRevoked):
            await long.result(timeout=5)
        short = await sleeper.enqueue(0)
        assert await short.result(timeout=10) != os.getpid()  # the pool goes on


async def test_revocations_are_remembered_with_a_ttl(app: App) -> None:
    await app.broker.revoke(["a", "b"], ttl=60)
    await app.broker.revoke(["c"], ttl=0.2)
    assert await app.broker.revoked() == {"a", "b", "c"}
    await anyio.sleep(0.3)
    assert await app.broker.revoked() == {"a", "b"}
