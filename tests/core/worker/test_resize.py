"""Sizing the pool for plain functions at run time: ``Worker.resize`` (remote control's
pool_grow and pool_shrink) and the autoscaler (``autoscale=(max, min)``)."""

from __future__ import annotations

import logging
import os
import time

import anyio
import pytest

from celeriac.core import App, ConfigurationError, Worker
from tests.core.worker.helpers import running_worker

pytestmark = pytest.mark.anyio


def span(delay: float) -> list[float]:
    start = time.monotonic()  # one clock for threads and child processes alike
    time.sleep(delay)
    return [start, time.monotonic(), float(os.getpid())]


def most_at_once(spans: list[list[float]]) -> int:
    edges = sorted([(s[0], 1) for s in spans] + [(s[1], -1) for s in spans])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


async def _spans(app: App, count: int, delay: float) -> list[list[float]]:
    (task,) = [t for name, t in app.tasks.items() if name.endswith("span")]
    handles = [await task.enqueue(delay) for _ in range(count)]
    return [await handle.result(timeout=10) for handle in handles]


async def _until(condition: object, limit: float = 10) -> None:
    with anyio.fail_after(limit):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.05)


@pytest.mark.parametrize("sync_pool", ["threads", "processes"])
async def test_resize_changes_how_many_plain_functions_run_at_once(
    app: App, sync_pool: str
) -> None:
    app.task(span)
    async with running_worker(app, sync_concurrency=1, sync_pool=sync_pool) as worker:
        assert most_at_once(await _spans(app, 3, 0.15)) == 1
        await worker.resize(3)
        assert worker.info.sync_concurrency == 3
        assert most_at_once(await _spans(app, 3, 0.3)) == 3
        await worker.resize(1)
        assert most_at_once(await _spans(app, 3, 0.15)) == 1
        if sync_pool == "processes":  # the children of the seats that went are gone
            assert worker.plain.processes is not None and worker.plain.processes.size == 1


async def test_prefetch_follows_the_pool_with_a_multiplier(app: App) -> None:
    worker = Worker(app, sync_concurrency=2, prefetch_multiplier=4)
    assert worker.prefetch == 8
    await worker.resize(3)
    assert worker.prefetch == 12 and worker.sync_concurrency == 3
    scaled = Worker(app, autoscale=(5, 2), prefetch_multiplier=4)
    assert scaled.sync_concurrency == 2 and scaled.prefetch == 20  # Celery: max x multiplier
    fixed = Worker(app, sync_concurrency=2, prefetch=7)
    await fixed.resize(4)
    assert fixed.prefetch == 7


async def test_bad_sizes_are_refused(app: App) -> None:
    worker = Worker(app, sync_concurrency=2)
    with pytest.raises(ValueError, match="at least one seat"):
        await worker.resize(0)
    with pytest.raises(ConfigurationError, match="maximum"):
        Worker(app, autoscale=(0, 0))
    with pytest.raises(ConfigurationError, match="minimum <= maximum"):
        Worker(app, autoscale=(2, 3))
    with pytest.raises(ConfigurationError, match="not both"):
        Worker(app, prefetch=2, prefetch_multiplier=2)


async def test_the_autoscaler_grows_with_demand_and_shrinks_when_quiet(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.task(span)
    caplog.set_level(logging.INFO, "celeriac.worker")
    options = {"autoscale": (3, 1), "autoscale_keepalive": 0.5, "sync_pool": "threads"}
    async with running_worker(app, **options) as worker:  # type: ignore[arg-type]
        assert worker.sync_concurrency == 1
        spans = await _spans(app, 6, 0.4)
        assert most_at_once(spans) == 3  # grew to the maximum, not beyond
        assert "Scaling up 2 threads." in caplog.text
        await _until(lambda: worker.sync_concurrency == 1)  # quiet: back to the minimum
        assert "Scaling down 2 threads." in caplog.text
        assert worker.autoscaler is not None
        assert worker.autoscaler.info() == {"max": 3, "min": 1, "current": 1, "qty": 0}


async def test_remote_control_grows_shrinks_and_rescales(app: App) -> None:
    app.task(span)
    async with (
        running_worker(app, sync_concurrency=2, name="fixed@test"),
        running_worker(app, autoscale=(4, 2), autoscale_keepalive=60, name="auto@test") as auto,
    ):
        with anyio.fail_after(10):
            while len(await app.control("ping", timeout=0.5)) < 2:
                await anyio.sleep(0.05)

        async def ask(request: str, **arguments: object) -> dict[str, object]:
            answers = await app.control(request, arguments, timeout=2)
            return {a["worker"]: a.get("reply", a.get("error")) for a in answers}

        grown = await ask("pool_grow", n=2)
        assert grown["fixed@test"] == "pool will grow"
        assert grown["auto@test"] == (
            "ValueError: pool_grow is not supported with autoscale. Adjust autoscale range instead."
        )
        stats = await ask("stats")
        assert stats["fixed@test"]["sync_concurrency"] == 4  # type: ignore[index]
        assert stats["fixed@test"]["autoscaler"] is None  # type: ignore[index]
        assert stats["auto@test"]["autoscaler"] == {  # type: ignore[index]
            "max": 4, "min": 2, "current": 2, "qty": 0
        }  # fmt: skip
        assert (await ask("pool_shrink"))["fixed@test"] == "pool will shrink"
        assert (await ask("stats"))["fixed@test"]["sync_concurrency"] == 3  # type: ignore[index]
        too_far = await ask("pool_shrink", n=5)
        assert "cannot shrink by 5: it has 3 threads" in str(too_far["fixed@test"])
        scaled = await ask("autoscale", max=6, min=3)
        assert scaled["auto@test"] == "autoscale now max=6 min=3"
        assert scaled["fixed@test"] == "ValueError: Autoscale not enabled"
        assert auto.sync_concurrency == 3  # brought up to the new minimum at once
        assert (await ask("autoscale", max=1))["auto@test"] == (
            "ConfigurationError: autoscale needs 1 <= maximum and 0 <= minimum <= maximum, "
            "got maximum=1 minimum=3"
        )
        assert (await ask("autoscale", max=2, min=0))["auto@test"] == "autoscale now max=2 min=0"
        assert auto.sync_concurrency == 2  # brought down to the new maximum at once
        bad = await ask("pool_grow", n="many")
        assert bad["fixed@test"] == "ValueError: expected a whole number, got 'many'"
