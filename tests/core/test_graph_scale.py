"""The graph at the sizes it must handle: a 10,000-task fan-in and a 1,000-step pipeline
(one event loop only: the other would add time, not coverage)."""

from __future__ import annotations

import time

import pytest

from celeriac.core import App
from celeriac.core.graph import Pipeline
from tests.core.worker.helpers import drain

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"use_uvloop": True})


async def test_a_fan_in_of_ten_thousand_tasks(app: App) -> None:
    @app.task
    async def square(x: int) -> int:
        return x * x

    @app.task
    async def total(values: list[int]) -> tuple[int, int, list[int]]:
        return len(values), sum(values), values[:3]

    started = time.monotonic()
    parents = await app.enqueue_many([square.message(i) for i in range(10_000)])
    joined = await total.options(after=parents, pass_results="all").enqueue()
    await drain(app, limit=120, concurrency=200)
    count, added, first = await joined.result(timeout=10)
    assert (count, added, first) == (10_000, sum(i * i for i in range(10_000)), [0, 1, 4])
    print(f"\n10,000-task fan-in: {time.monotonic() - started:.1f}s")


async def test_a_pipeline_of_a_thousand_steps(app: App) -> None:
    @app.task
    async def inc(x: int) -> int:
        return x + 1

    started = time.monotonic()
    pipe = Pipeline((inc.call(0), *(inc.call() for _ in range(999))))
    handle = await pipe.enqueue()
    await drain(app, limit=120)
    assert await handle.result(timeout=10) == 1000
    print(f"\n1,000-step pipeline: {time.monotonic() - started:.1f}s")
