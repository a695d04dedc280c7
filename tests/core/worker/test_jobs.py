"""The queue between the fetcher and the runners: order, the end after close, and
runners that wait on it are cancelled with their task group."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from celeriac.core.worker.jobs import Jobs

pytestmark = pytest.mark.anyio


async def test_jobs_come_out_in_order_then_none_for_every_runner_after_close() -> None:
    jobs = Jobs[int]()
    for job in (1, 2, 3):
        jobs.put(job)
    jobs.close()
    jobs.close()  # twice is harmless
    assert [await jobs.next() for _ in range(3)] == [1, 2, 3]
    assert await jobs.next() is None
    assert await jobs.next() is None  # every runner learns of the end
    with pytest.raises(RuntimeError):
        jobs.put(4)


async def test_waiting_runners_take_jobs_as_they_come_and_stop_at_close() -> None:
    jobs = Jobs[int]()
    taken: list[int] = []

    async def runner() -> None:
        while (job := await jobs.next()) is not None:
            taken.append(job)
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(runner)
            await anyio.sleep(0.01)  # all three wait
            for job in range(10):
                jobs.put(job)
            jobs.close()
    assert sorted(taken) == list(range(10))


async def test_a_waiting_runner_is_cancelled_with_its_scope() -> None:
    jobs = Jobs[int]()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(jobs.next)
            await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    jobs.put(1)  # nothing was lost: the job is still there for the next runner
    assert await jobs.next() == 1
