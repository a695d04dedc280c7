"""The worker on both brokers and both event loops: outcomes, limits, context, logs."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import anyio
import pytest

from celeriac.core import (
    FAILURE,
    PENDING,
    RETRY,
    REVOKED,
    STARTED,
    SUCCESS,
    App,
    CeleriacError,
    MaxRetriesExceeded,
    ResultTimeout,
    Retry,
    RetryPolicy,
    TaskRevoked,
    current_task,
)
from tests.core.worker.helpers import drain, running_worker

pytestmark = pytest.mark.anyio


class ProjectError(Exception):
    """An exception type the caller can import."""


async def test_async_and_sync_tasks_return_their_values(app: App) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task
    def mul(x: int, y: int) -> int:
        return x * y

    a, m = await add.enqueue(2, 3), await mul.enqueue(4, y=5)
    await drain(app)
    assert await a.result(timeout=1) == 5
    assert await m.result(timeout=1) == 20
    record = await a.record()
    assert record is not None
    assert (record.state, record.name, record.retries) == (SUCCESS, f"{__name__}.add", 0)
    assert (await app.broker.stats(app.default_queue)).in_flight == 0


async def test_failure_raises_the_original_exception_type(app: App) -> None:
    @app.task
    def divide(x: int, y: int) -> float:
        return x / y

    @app.task
    async def mine() -> None:
        raise ProjectError("project says no")

    d, p = await divide.enqueue(1, 0), await mine.enqueue()
    await drain(app)
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        await d.result(timeout=1)
    with pytest.raises(ProjectError, match="project says no"):
        await p.result(timeout=1)
    record = await d.record()
    assert record is not None and record.state == FAILURE and record.exc is not None
    assert "ZeroDivisionError" in (record.exc.traceback or "")
    assert "return x / y" in (record.exc.traceback or "")


async def test_retry_runs_again_with_the_count_in_context_and_result(app: App) -> None:
    seen: list[int] = []

    @app.task
    async def flaky() -> str:
        seen.append(current_task().retries)
        if len(seen) < 3:
            raise Retry(0, exc=ProjectError("not yet"))
        return "done"

    handle = await flaky.enqueue()
    await drain(app)
    assert await handle.result(timeout=1) == "done"
    assert seen == [0, 1, 2]
    record = await handle.record()
    assert record is not None and record.retries == 2


async def test_max_retries_fails_with_the_original_error_as_cause(app: App) -> None:
    @app.task(max_retries=2)
    def always() -> None:
        try:
            raise ProjectError("still broken")
        except ProjectError as exc:
            raise Retry(0, exc=exc) from exc

    handle = await always.enqueue()
    await drain(app)
    with pytest.raises(MaxRetriesExceeded, match=r"ran 3 time\(s\) \(max_retries=2\)"):
        await handle.result(timeout=1)
    record = await handle.record()
    assert record is not None and record.exc is not None and record.retries == 2
    assert "ProjectError: still broken" in (record.exc.traceback or "")
    assert "direct cause" in (record.exc.traceback or "")


async def test_retry_state_is_stored_between_tries(app: App) -> None:
    release = anyio.Event()
    states: list[str] = []

    @app.task
    async def twice() -> int:
        if current_task().retries == 0:
            raise Retry(0)
        await release.wait()
        return 2

    handle = await twice.enqueue()
    async with running_worker(app):
        with anyio.fail_after(5):
            while (state := await handle.state()) != RETRY:
                states.append(state)
                await anyio.sleep(0.01)
        release.set()
        assert await handle.result(timeout=5) == 2


async def test_retry_with_delay_waits_in_the_broker(app: App) -> None:
    times: list[float] = []

    @app.task
    async def later() -> int:
        times.append(time.monotonic())
        if len(times) == 1:
            raise Retry(delay=0.3)
        return len(times)

    handle = await later.enqueue()
    async with running_worker(app):
        assert await handle.result(timeout=5) == 2
    assert 0.25 <= times[1] - times[0] < 2.0


async def test_ignore_result_keeps_only_the_state(app: App) -> None:
    """No value is stored; the final state is (tasks waiting on this one need it)."""
    ran = anyio.Event()

    @app.task(ignore_result=True)
    async def fire() -> int:
        ran.set()
        return 1

    handle = await fire.enqueue()
    await drain(app)
    assert ran.is_set()
    assert await handle.record() is None
    assert await handle.state() == SUCCESS
    assert (await app.broker.stats(app.default_queue)).in_flight == 0


async def test_track_started_shows_started_while_running(app: App) -> None:
    release = anyio.Event()

    @app.task(track_started=True)
    async def slow() -> str:
        await release.wait()
        return "ok"

    handle = await slow.enqueue()
    async with running_worker(app):
        with anyio.fail_after(5):
            while await handle.state() != STARTED:
                await anyio.sleep(0.01)
        with pytest.raises(ResultTimeout, match="last state: STARTED"):
            await handle.result(timeout=0.1)
        release.set()
        assert await handle.result(timeout=5) == "ok"


async def test_expired_task_is_revoked_not_run(app: App) -> None:
    ran: list[int] = []

    @app.task
    async def stale() -> None:
        ran.append(1)

    handle = await stale.options(expires=-1).enqueue()
    fresh = await stale.options(expires=60).enqueue()
    await drain(app)
    assert ran == [1]
    with pytest.raises(TaskRevoked, match="expired"):
        await handle.result(timeout=1)
    assert await handle.state() == REVOKED
    assert await fresh.state() == SUCCESS


async def test_async_concurrency_is_bounded(app: App) -> None:
    running = peak = 0

    @app.task
    async def busy() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.03)
        running -= 1

    await app.enqueue_many([busy.message() for _ in range(12)])
    await drain(app, concurrency=3, prefetch=2)
    assert peak == 3


async def test_sync_tasks_run_in_threads_bounded_by_sync_concurrency(app: App) -> None:
    lock = threading.Lock()
    running = peak = 0
    threads: set[int] = set()

    @app.task
    def blocking() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        time.sleep(0.03)
        with lock:
            running -= 1

    await app.enqueue_many([blocking.message() for _ in range(8)])
    await drain(app, sync_concurrency=2)
    assert peak == 2
    assert threading.get_ident() not in threads


async def test_sync_tasks_do_not_block_async_ones(app: App) -> None:
    gate = threading.Event()
    order: list[str] = []

    @app.task
    def waits() -> None:
        gate.wait(5)
        order.append("sync")

    @app.task
    async def quick() -> None:
        order.append("async")
        gate.set()

    await waits.enqueue()
    await quick.enqueue()
    await drain(app)
    assert order == ["async", "sync"]


async def test_higher_priority_runs_first(app: App) -> None:
    order: list[int] = []

    @app.task
    async def record(n: int) -> None:
        order.append(n)

    for n, priority in [(1, 0), (2, 0), (3, 9), (4, 5)]:
        await record.options(priority=priority).enqueue(n)
    await drain(app, concurrency=1, prefetch=0)
    assert order == [3, 4, 1, 2]


async def test_worker_consumes_only_its_queues(app: App) -> None:
    @app.task(queue="other")
    async def elsewhere() -> int:
        return 1

    handle = await elsewhere.enqueue()
    await drain(app)
    assert await handle.state() == PENDING
    await drain(app, queues=["other"])
    assert await handle.result(timeout=1) == 1


async def test_stop_finishes_running_tasks_and_returns_prefetched_ones(app: App) -> None:
    started = anyio.Event()
    release = anyio.Event()
    ran: list[int] = []

    @app.task
    async def hold(n: int) -> int:
        started.set()
        await release.wait()
        ran.append(n)
        return n

    handles = await app.enqueue_many([hold.message(n) for n in range(5)])
    worker_done = anyio.Event()
    async with anyio.create_task_group() as tg:
        async with running_worker(app, concurrency=1, prefetch=4, sync_concurrency=1) as worker:
            with anyio.fail_after(5):
                await started.wait()
            worker.stop()
            tg.start_soon(_release_soon, release)
        worker_done.set()
    assert ran == [0]
    assert await handles[0].result(timeout=1) == 0
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (4, 0)
    await drain(app)
    assert sorted(ran) == [0, 1, 2, 3, 4]


async def _release_soon(event: anyio.Event) -> None:
    await anyio.sleep(0.05)
    event.set()


async def test_current_task_inside_async_and_sync_tasks(app: App) -> None:
    @app.task
    async def who() -> list[str]:
        ctx = current_task()
        return [ctx.id, ctx.name, ctx.worker, ctx.headers["h"]]

    @app.task
    def who_sync() -> str:
        return current_task().id

    a = await who.options(headers={"h": "v"}).enqueue()
    s = await who_sync.enqueue()
    await drain(app, name="w1@host")
    assert await a.result(timeout=1) == [a.id, f"{__name__}.who", "w1@host", "v"]
    assert await s.result(timeout=1) == s.id
    with pytest.raises(CeleriacError, match="outside of a running task"):
        current_task()


async def test_log_lines_look_like_celery(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task
    async def boom() -> None:
        raise ValueError("nope")

    ok, bad = await add.enqueue(2, 2), await boom.enqueue()
    with caplog.at_level(logging.INFO, logger="celeriac"):
        await drain(app)
    text = caplog.text
    assert f"Task {__name__}.add[{ok.id}] received" in text
    assert f"Task {__name__}.add[{ok.id}] succeeded in " in text
    assert "s: 4" in text
    assert f"Task {__name__}.boom[{bad.id}] raised unexpected: ValueError('nope')" in text
    assert "Traceback" in text
    assert 'raise ValueError("nope")' in text
    assert "worker/run.py" not in text  # the user's frames, not ours


async def test_retry_log_line_names_the_cause(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.task
    async def again() -> None:
        if current_task().retries == 0:
            raise Retry(0, exc=ConnectionError("down"))

    handle = await again.enqueue()
    with caplog.at_level(logging.INFO, logger="celeriac"):
        await drain(app)
    assert f"[{handle.id}] retry: Retry in 0.00s: ConnectionError('down')" in caplog.text


async def test_results_are_waited_for_without_polling_from_sync_code(app: App) -> None:
    @app.task
    async def slow() -> str:
        await anyio.sleep(0.2)
        return "late"

    handle = slow.enqueue_sync()
    async with running_worker(app):
        started = time.monotonic()
        value = await anyio.to_thread.run_sync(lambda: handle.result(timeout=5))
        elapsed = time.monotonic() - started
    assert value == "late"
    assert elapsed < 2.0


async def test_result_timeout_names_the_state(app: App) -> None:
    @app.task
    async def never() -> None:
        pass

    handle = await never.enqueue()
    with pytest.raises(ResultTimeout, match=f"task {handle.id} did not finish within 0.05s"):
        await handle.result(timeout=0.05)
    sync = app.sync_handle(handle.id)
    with pytest.raises(ResultTimeout, match="last state: PENDING"):
        await anyio.to_thread.run_sync(lambda: sync.result(timeout=0.05))


async def test_many_tasks_all_complete_once(app: App) -> None:
    calls: dict[int, int] = {}

    @app.task
    async def count(n: int) -> int:
        calls[n] = calls.get(n, 0) + 1
        return n

    handles = await app.enqueue_many([count.message(n) for n in range(1500)])
    await drain(app, concurrency=50)
    assert calls == dict.fromkeys(range(1500), 1)
    assert [await h.result(timeout=1) for h in handles[:5]] == [0, 1, 2, 3, 4]
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (0, 0)


async def test_the_worker_owns_no_more_than_its_capacity(app: App) -> None:
    release = anyio.Event()
    started = 0

    @app.task
    async def hold() -> None:
        nonlocal started
        started += 1
        await release.wait()

    await app.enqueue_many([hold.message() for _ in range(20)])
    async with running_worker(app, concurrency=2, sync_concurrency=1, prefetch=3):
        with anyio.fail_after(5):
            while started < 2:
                await anyio.sleep(0.01)
        await anyio.sleep(0.2)  # room for it to (wrongly) fetch more
        stats = await app.broker.stats(app.default_queue)
        assert (stats.in_flight, stats.ready, started) == (6, 14, 2)  # 2 running + 1 + 3
        release.set()


async def test_listed_exceptions_retry_by_themselves_until_max(app: App) -> None:
    tries: list[int] = []

    @app.task(max_retries=2, retry=RetryPolicy(on=(ConnectionError,), delay=0, jitter=False))
    async def flaky_io() -> None:
        tries.append(current_task().retries)
        raise ConnectionError(f"refused {len(tries)}")

    handle = await flaky_io.enqueue()
    await drain(app)
    assert tries == [0, 1, 2]
    with pytest.raises(MaxRetriesExceeded) as caught:
        await handle.result(timeout=1)
    assert isinstance(caught.value.__cause__, ConnectionError)  # the original error, rebuilt
    assert str(caught.value.__cause__) == "refused 3"


async def test_excluded_and_unlisted_exceptions_fail_at_once(app: App) -> None:
    policy = RetryPolicy(on=(OSError,), not_on=(FileNotFoundError,), delay=0)

    @app.task(retry=policy)
    async def missing() -> None:
        raise FileNotFoundError("gone")

    @app.task(retry=policy)
    async def wrong() -> None:
        raise ValueError("bad")

    a, b = await missing.enqueue(), await wrong.enqueue()
    await drain(app)
    for handle, kind in ((a, FileNotFoundError), (b, ValueError)):
        record = await handle.record()
        assert record is not None and record.state == FAILURE and record.retries == 0
        with pytest.raises(kind):
            await handle.result(timeout=1)


async def test_retry_may_override_max_retries(app: App) -> None:
    tries: list[int] = []

    @app.task(max_retries=0)
    async def stubborn() -> int:
        tries.append(1)
        if len(tries) < 4:
            raise Retry(0, max_retries=5)
        return len(tries)

    handle = await stubborn.enqueue()
    await drain(app)
    assert await handle.result(timeout=1) == 4


async def test_retry_without_delay_waits_by_the_policy(app: App) -> None:
    times: list[float] = []

    @app.task(retry=RetryPolicy(delay=0.25, backoff=False, jitter=False))
    async def paced() -> int:
        times.append(time.monotonic())
        if len(times) < 3:
            raise Retry()
        return len(times)

    handle = await paced.enqueue()
    async with running_worker(app):
        assert await handle.result(timeout=5) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.2 <= gap < 1.5 for gap in gaps), gaps
