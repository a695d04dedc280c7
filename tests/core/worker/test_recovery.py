"""Recovery between workers in one process: a worker that stops without handing its
tasks back loses them to another after its liveness lapses; a live worker's slow task is
never taken."""

from __future__ import annotations

import logging

import anyio
import pytest

from celeriac.core import App, Recovery, Worker

pytestmark = pytest.mark.anyio

QUICK = Recovery(window=0.5, max_deliveries=5, grace=0.05)
PATIENT = Recovery(window=1.0, max_deliveries=5, grace=0.05)


async def test_another_worker_takes_over_after_a_worker_vanishes(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    runs: dict[int, int] = {}
    first_started = anyio.Event()

    @app.task
    async def job(n: int) -> int:
        runs[n] = runs.get(n, 0) + 1
        first_started.set()
        if runs[n] == 1 and n < 3:
            await anyio.sleep(30)  # the first worker never finishes these
        return n

    handles = await app.enqueue_many([job.message(n) for n in range(6)])
    vanishing = Worker(app, name="a", concurrency=6, prefetch=0, heartbeat=0.1, block=0.05)
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            tg.start_soon(vanishing.run)
            await first_started.wait()
            while vanishing.counters.succeeded < 3:
                await anyio.sleep(0.01)
            vanishing.stop(now=True)  # as if killed: nothing handed back
    assert (await app.broker.stats(app.default_queue)).in_flight == 3

    with caplog.at_level(logging.WARNING, logger="celeriac"):
        rescuer = Worker(app, name="b", heartbeat=0.1, recovery=QUICK, block=0.05)
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(rescuer.run)
                values = [await h.result(timeout=10) for h in handles]
                rescuer.stop()
    assert values == list(range(6))
    assert runs == {0: 2, 1: 2, 2: 2, 3: 1, 4: 1, 5: 1}
    assert rescuer.counters.taken_over == 3
    assert "Took over 3 message(s)" in caplog.text
    assert "received again (delivery 2)" in caplog.text


async def test_a_slow_task_on_a_live_worker_is_not_taken(app: App) -> None:
    runs: list[str] = []

    @app.task
    async def slow() -> str:
        runs.append("run")
        await anyio.sleep(3.0)  # three times the window
        return "done"

    handle = await slow.enqueue()
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            # a window of 1 s: beats 0.1 s apart, even on a loaded machine (two test
            # processes on two cores), keep the owner alive in it
            owner = Worker(app, name="owner", heartbeat=0.1, recovery=PATIENT, block=0.05)
            tg.start_soon(owner.run)
            while not runs:
                await anyio.sleep(0.01)
            other = Worker(app, name="other", heartbeat=0.1, recovery=PATIENT, block=0.05)
            tg.start_soon(other.run)
            assert await handle.result(timeout=10) == "done"
            owner.stop()
            other.stop()
    assert runs == ["run"]
    assert other.counters.taken_over == 0


async def test_a_message_started_too_often_is_set_aside(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @app.task
    async def fragile() -> None:
        ran.append("ran")

    handle = await fragile.enqueue()
    (held,) = await app.broker.fetch([app.default_queue], "died-3-times", 10, 0, False)
    for _ in range(2):  # as if it had been started again twice, killing its worker each time
        await app.broker.count_start(held)
    recovery = Recovery(window=60, max_starts=3, grace=0.05)
    with caplog.at_level(logging.ERROR, logger="celeriac"):
        rescuer = Worker(app, heartbeat=0.1, recovery=recovery, block=0.05)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(rescuer.run)
                while not await app.broker.dead_letters(app.default_queue):
                    await anyio.sleep(0.02)
                rescuer.stop()
    (letter,) = await app.broker.dead_letters(app.default_queue)
    assert letter.reason == "too-many-starts" and "started 3 times" in letter.error
    assert ran == [] and await handle.record() is None
    assert "it may crash workers" in caplog.text
