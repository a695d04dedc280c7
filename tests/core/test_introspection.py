"""Introspection: a task's state and place by id; a queue's tasks by place. On every
broker."""

from __future__ import annotations

import time

import anyio
import pytest

from celeriac.core import App, ConfigurationError, Retry, Worker
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import drain, running_worker

pytestmark = pytest.mark.anyio


async def test_each_place_of_a_task(app: App) -> None:
    started, gate = anyio.Event(), anyio.Event()

    @app.task
    async def slow() -> str:
        started.set()
        await gate.wait()
        return "ok"

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task
    async def label(value: str, n: int) -> str:
        return f"{value}{n}"

    assert await app.task_info("no-such-task") is None
    running = await slow.options(queue="busy").enqueue()
    async with running_worker(app, queues=["busy"]) as worker:  # the default queue rests
        await started.wait()
        queued = await add.enqueue(1, 2)
        due = time.time() + 3600
        later = await add.options(eta=due).enqueue(3, 4)
        child = await label.options(after=running, pass_results="first").enqueue(10)

        info = await app.task_info(queued.id)
        assert info is not None
        assert (info.place, info.state, info.name, info.queue) == (
            "queued",
            "PENDING",
            add.name,
            app.default_queue,
        )
        info = await app.task_info(later.id)
        assert info is not None
        assert info.place == "scheduled"
        assert info.due == pytest.approx(due, abs=0.01)
        info = await app.task_info(child.id)
        assert info is not None
        assert info.place == "waiting"

        assert [t.id for t in await app.list_tasks("queued")] == [queued.id]
        (scheduled,) = await app.list_tasks("scheduled")
        assert (scheduled.id, scheduled.message and scheduled.message.args) == (later.id, (3, 4))
        assert [t.id for t in await app.list_tasks("waiting")] == [child.id]
        assert await app.list_tasks("running") == []
        (taken,) = await app.list_tasks("running", "busy")
        assert taken.id == running.id
        assert taken.worker == worker.consumer
        assert taken.state == "STARTED"

        gate.set()
        assert await running.result(timeout=5) == "ok"
    info = await app.task_info(child.id)  # its parent is done: now in its queue
    assert info is not None
    assert info.place == "queued"
    info = await app.task_info(running.id)
    assert info is not None
    assert (info.place, info.state) == ("done", "SUCCESS")
    assert info.result is not None
    assert info.result.value == "ok"


async def test_done_lists_the_most_recent_first(app: App) -> None:
    @app.task
    async def square(x: int) -> int:
        return x * x

    @app.task
    async def boom() -> None:
        raise ValueError("no")

    handles = [await square.enqueue(n) for n in range(3)]
    failed = await boom.enqueue()
    await drain(app, concurrency=1)
    done = await app.list_tasks("done")
    assert [t.id for t in done] == [failed.id, *reversed([h.id for h in handles])]
    assert [t.state for t in done] == ["FAILURE", "SUCCESS", "SUCCESS", "SUCCESS"]
    assert done[1].result is not None
    assert done[1].result.value == 4
    assert [t.id for t in await app.list_tasks("done", limit=2)] == [failed.id, handles[2].id]


async def test_listings_respect_the_limit_and_the_queue(app: App) -> None:
    @app.task
    async def noop(n: int) -> None: ...

    await app.enqueue_many([noop.message(n) for n in range(5)])
    await noop.options(queue="other").enqueue(99)
    listed = await app.list_tasks("queued", limit=3)
    assert [t.message and t.message.args for t in listed] == [(0,), (1,), (2,)]
    (other,) = await app.list_tasks("queued", "other")
    assert other.queue == "other"
    assert await app.list_tasks("running") == []
    assert await app.list_tasks("scheduled", "nowhere") == []


async def test_unknown_place_is_refused(app: App) -> None:
    with pytest.raises(ConfigurationError, match="place must be one of queued"):
        await app.list_tasks("finished")


async def test_a_retrying_task_is_scheduled_with_its_state(app: App) -> None:
    @app.task
    async def later() -> None:
        raise Retry(delay=3600)

    handle = await later.enqueue()
    worker = Worker(app, block=0.05, max_tasks=1)
    with anyio.fail_after(10):
        await worker.run(burst=True)
    info = await app.task_info(handle.id)
    assert info is not None
    assert (info.state, info.place) == ("RETRY", "scheduled")
    (listed,) = await app.list_tasks("scheduled")
    assert (listed.id, listed.state) == (handle.id, "RETRY")
