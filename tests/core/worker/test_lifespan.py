"""A worker's lifespan (resources for its tasks) and the middleware around every task."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from celeriac.core import (
    App,
    CeleriacError,
    ConfigurationError,
    MemoryBroker,
    Retry,
    TaskContext,
    Worker,
    current_task,
)
from tests.core.worker.helpers import drain

pytestmark = pytest.mark.anyio


@dataclass
class Resources:
    db: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


def make_lifespan(made: list[Resources]) -> Callable[[Worker], Any]:
    @asynccontextmanager
    async def lifespan(worker: Worker) -> AsyncIterator[Resources]:
        resources = Resources(db={"answer": 42})
        resources.events.append(f"open {worker.name}")
        made.append(resources)
        try:
            yield resources
        finally:
            resources.events.append("close")

    return lifespan


async def test_lifespan_resources_reach_async_and_sync_tasks(app: App) -> None:
    made: list[Resources] = []
    app.lifespan = make_lifespan(made)

    @app.task
    async def read(key: str) -> int:
        resources = current_task().resources(Resources)
        resources.events.append(f"read {key}")
        return resources.db[key]

    @app.task
    def read_in_thread(key: str) -> int:
        return current_task().resources(Resources).db[key]

    first = await read.enqueue("answer")
    second = await read_in_thread.enqueue("answer")
    await drain(app, name="w1")
    assert (await first.result(timeout=1), await second.result(timeout=1)) == (42, 42)
    (resources,) = made
    assert resources.events == ["open w1", "read answer", "close"]  # around the whole run


async def test_resources_of_the_wrong_type_or_none_are_clear(app: App) -> None:
    @app.task
    async def wants() -> None:
        current_task().resources(Resources)

    handle = await wants.enqueue()
    await drain(app)
    with pytest.raises(CeleriacError, match="no lifespan"):
        await handle.result(timeout=1)

    @asynccontextmanager
    async def other(worker: Worker) -> AsyncIterator[str]:
        yield "not resources"

    handle = await wants.enqueue()
    await drain(app, lifespan=other)  # a worker's own lifespan wins over the app's
    with pytest.raises(CeleriacError, match="lifespan yielded a str"):
        await handle.result(timeout=1)


async def test_a_lifespan_that_fails_stops_the_worker_before_any_task(app: App) -> None:
    ran: list[int] = []

    @app.task
    async def job() -> None:
        ran.append(1)

    @asynccontextmanager
    async def broken(worker: Worker) -> AsyncIterator[None]:
        raise OSError("database unreachable")
        yield

    handle = await job.enqueue()
    with pytest.raises(ConfigurationError, match=r"lifespan .* failed to start.*database"):
        await drain(app, lifespan=broken)
    assert ran == []
    assert (await app.broker.stats(app.default_queue)).ready == 1  # still there
    await drain(app)
    assert await handle.state() == "SUCCESS"


async def test_middleware_runs_around_every_task_in_order(app: App) -> None:
    trail: list[str] = []

    @app.middleware
    async def outer(ctx: TaskContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        trail.append(f"outer in {ctx.name.rsplit('.', 1)[-1]}")
        try:
            return await call_next()
        finally:
            trail.append("outer out")

    async def timing(ctx: TaskContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        value = await call_next()
        trail.append(f"timing {time.perf_counter() - started >= 0}")
        return value

    @app.task
    async def add(x: int, y: int) -> int:
        trail.append("add")
        return x + y

    @app.task
    def mul(x: int, y: int) -> int:
        trail.append("mul")
        return x * y

    a = await add.enqueue(1, 2)
    await drain(app, middleware=[timing])  # the worker's own, inside the app's
    b = await mul.enqueue(3, 4)
    await drain(app, middleware=[timing])
    assert (await a.result(timeout=1), await b.result(timeout=1)) == (3, 12)
    assert trail == [
        *("outer in add", "add", "timing True", "outer out"),
        *("outer in mul", "mul", "timing True", "outer out"),
    ]


async def test_middleware_sees_errors_and_may_change_the_outcome(app: App) -> None:
    seen: list[str] = []

    @app.middleware
    async def recover(ctx: TaskContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call_next()
        except KeyError as exc:
            seen.append(repr(exc))
            return "fallback"

    async def retry_once(ctx: TaskContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        if ctx.retries == 0 and ctx.name.endswith("flaky"):
            raise Retry(delay=0)
        return await call_next()

    app.middleware(retry_once)

    @app.task
    async def lookup() -> str:
        raise KeyError("missing")

    @app.task
    async def flaky() -> int:
        return current_task().retries

    a = await lookup.enqueue()
    b = await flaky.enqueue()
    await drain(app)
    assert await a.result(timeout=1) == "fallback"
    assert seen == ["KeyError('missing')"]
    assert await b.result(timeout=1) == 1  # ran again after the middleware's retry


async def test_resources_are_per_worker() -> None:
    """Two workers of one app each enter the lifespan once."""
    made: list[Resources] = []
    app = App(MemoryBroker(), lifespan=make_lifespan(made))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            workers = [Worker(app, name=f"w{n}", block=0.05) for n in range(2)]
            for worker in workers:
                tg.start_soon(worker.run)
            await anyio.sleep(0.2)
            for worker in workers:
                worker.stop()
    assert sorted(r.events[0] for r in made) == ["open w0", "open w1"]
    assert all(r.events[-1] == "close" for r in made)


def test_current_task_outside_a_task() -> None:
    with pytest.raises(CeleriacError, match="outside of a running task"):
        current_task()
