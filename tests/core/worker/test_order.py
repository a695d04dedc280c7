"""Order of work: priorities within a queue, queues served in turn (fair, Celery's default
on Redis) or in strict order, checked with a worker paused while tasks pile up."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from celeriac.core import App, Task, Worker

pytestmark = pytest.mark.anyio


async def _run_paused_then_resumed(
    app: App, enqueue: object, expected: int, queues: Sequence[str], strict: bool = False
) -> None:
    worker = Worker(
        app,
        queues=list(queues),
        concurrency=1,
        sync_concurrency=1,
        prefetch=0,
        strict_order=strict,
        block=0.05,
    )
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            worker.pause()
            tg.start_soon(worker.run)
            await anyio.sleep(0.1)  # running, and taking nothing
            await enqueue()  # type: ignore[operator]
            await anyio.sleep(0.1)
            assert worker.counters.received == 0
            worker.resume()
            while worker.counters.succeeded < expected:
                await anyio.sleep(0.01)
            worker.stop()


def _recorder(app: App) -> tuple[list[str], Task[[str], None]]:
    """A task that notes its label, and the list it writes to."""
    order: list[str] = []

    @app.task
    async def job(label: str) -> None:
        order.append(label)

    return order, job


async def test_higher_priority_first_after_a_pause(app: App) -> None:
    order, job = _recorder(app)

    async def enqueue() -> None:
        for label, priority in [("low1", 0), ("high1", 9), ("mid", 5), ("low2", 1), ("high2", 9)]:
            await job.options(priority=priority).enqueue(label)

    await _run_paused_then_resumed(app, enqueue, 5, ["default"])
    assert order == ["high1", "high2", "mid", "low1", "low2"]


async def test_queues_are_served_in_turn_by_default(app: App) -> None:
    order, job = _recorder(app)

    async def enqueue() -> None:
        for n in range(3):
            await job.options(queue="a").enqueue(f"a{n}")
            await job.options(queue="b").enqueue(f"b{n}")

    await _run_paused_then_resumed(app, enqueue, 6, ["a", "b"])
    assert sorted(order) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    pairs = [set(order[i : i + 2]) for i in range(0, 6, 2)]
    assert pairs == [{"a0", "b0"}, {"a1", "b1"}, {"a2", "b2"}]  # one of each, in turn


async def test_strict_order_drains_the_first_queue_first(app: App) -> None:
    order, job = _recorder(app)

    async def enqueue() -> None:
        for n in range(3):
            await job.options(queue="b").enqueue(f"b{n}")
            await job.options(queue="a").enqueue(f"a{n}")

    await _run_paused_then_resumed(app, enqueue, 6, ["a", "b"], strict=True)
    assert order == ["a0", "a1", "a2", "b0", "b1", "b2"]
