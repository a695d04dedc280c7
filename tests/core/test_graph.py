"""Tasks that wait for others: pipelines, fan-in, failures running down, bad graphs;
on every broker."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import anyio
import pytest

from celeriac.core import (
    FAILURE,
    PENDING,
    SUCCESS,
    App,
    DependencyError,
    DependencyFailed,
    TaskRevoked,
    Worker,
)
from celeriac.core.broker._redis_base import commit_calls
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import drain

pytestmark = pytest.mark.anyio


def _tasks(app: App) -> dict[str, object]:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task
    async def double(x: int) -> int:
        return x * 2

    @app.task
    async def total(values: list[int], extra: int = 0) -> int:
        return sum(values) + extra

    @app.task
    async def boom(x: int) -> None:
        raise ValueError(f"bad input {x}")

    @app.task
    def sync_double(x: int) -> int:
        return x * 2

    return {"add": add, "double": double, "total": total, "boom": boom, "sync": sync_double}


async def test_a_pipeline_passes_each_result_to_the_next(app: App) -> None:
    t = _tasks(app)
    add, double, sync = t["add"], t["double"], t["sync"]
    handle = await (add.call(1, 2) | double.call() | sync.call()).enqueue()  # type: ignore[attr-defined]
    await drain(app)
    assert await handle.result(timeout=1) == 12


async def test_then_is_the_same_as_the_pipe(app: App) -> None:
    t = _tasks(app)
    handle = t["add"].call(2, 3).then(t["double"].call()).enqueue_sync()  # type: ignore[attr-defined]
    await drain(app)
    assert await anyio.to_thread.run_sync(lambda: handle.result(timeout=1)) == 10


async def test_fan_out_and_fan_in_with_results_in_order(app: App) -> None:
    t = _tasks(app)
    parents = await app.enqueue_many([t["add"].message(i, i) for i in range(8)])  # type: ignore[attr-defined]
    joined = await t["total"].options(after=parents, pass_results="all").enqueue(extra=100)  # type: ignore[attr-defined]
    await drain(app, concurrency=4)
    assert await joined.result(timeout=1) == sum(2 * i for i in range(8)) + 100


async def test_waiting_without_results(app: App) -> None:
    order: list[str] = []

    @app.task
    async def first() -> None:
        await anyio.sleep(0.05)
        order.append("first")

    @app.task
    async def second() -> None:
        order.append("second")

    parent = await first.enqueue()
    child = await second.options(after=parent).enqueue()
    assert await child.state() == PENDING
    await drain(app)
    assert order == ["first", "second"]


async def test_a_child_due_already_still_waits_for_its_parent(app: App) -> None:
    """An eta in the past makes a message due now; it must still wait for its parent
    and receive its result (a due-now send once dropped the parents)."""
    t = _tasks(app)
    parent = await t["add"].enqueue(2, 3)  # type: ignore[attr-defined]
    child = (
        await t["double"].options(after=parent, pass_results="first", eta=time.time() - 5).enqueue()
    )  # type: ignore[attr-defined]
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.delayed) == (1, 0)  # only the parent can run
    await drain(app)
    assert await child.result(timeout=1) == 10


async def test_a_delay_after_parents_counts_from_when_they_are_done(app: App) -> None:
    times: dict[str, float] = {}

    @app.task
    async def slow_parent() -> int:
        await anyio.sleep(0.4)
        times["parent_done"] = time.monotonic()
        return 1

    @app.task
    async def child(value: int) -> int:
        times["child_started"] = time.monotonic()
        return value + 1

    parent = await slow_parent.enqueue()
    waiting = await child.options(after=parent, pass_results="first", delay=0.4).enqueue()
    await drain(app)  # the parent ends; the child now waits its delay (burst stops)
    assert await waiting.state() == PENDING
    await anyio.sleep(0.5)
    await drain(app)
    assert await waiting.result(timeout=1) == 2
    waited = times["child_started"] - times["parent_done"]
    assert 0.35 <= waited < 3.0  # from the parent's end, not from sending


async def test_a_parent_finished_among_tasks_without_children_frees_its_child(
    app: App,
) -> None:
    """A worker records outcomes in batches; one finished parent among many tasks that
    have no dependents (the Redis commit looks for dependents once per batch) is still
    seen, and its child runs."""
    t = _tasks(app)
    plain = [await t["add"].enqueue(i, i) for i in range(20)]  # type: ignore[attr-defined]
    child = await (t["add"].call(2, 3) | t["double"].call()).enqueue()  # type: ignore[attr-defined]
    plain += [await t["add"].enqueue(i, 1) for i in range(20)]  # type: ignore[attr-defined]
    await drain(app)
    assert await child.result(timeout=1) == 10
    assert [await h.result(timeout=1) for h in plain[:2]] == [0, 2]


async def test_a_child_waits_in_the_broker_not_in_a_queue(app: App) -> None:
    t = _tasks(app)
    await (t["add"].call(1, 1) | t["double"].call()).enqueue()  # type: ignore[attr-defined]
    stats = await app.broker.stats(app.default_queue)
    assert stats.ready == 1  # only the first step can run


async def test_a_failure_runs_down_the_pipeline_with_its_cause(app: App) -> None:
    t = _tasks(app)
    pipe = t["add"].call(1, 1) | t["boom"].call() | t["double"].call() | t["double"].call()  # type: ignore[attr-defined]
    messages = pipe.messages()
    await app.enqueue_many(messages)
    await drain(app)
    states = [await app.handle(m.id).state() for m in messages]
    assert states == [SUCCESS, FAILURE, FAILURE, FAILURE]
    with pytest.raises(DependencyFailed, match=r"did not succeed \(FAILURE\)") as caught:
        await app.handle(messages[-1].id).result(timeout=1)
    assert isinstance(caught.value.__cause__, DependencyFailed)  # the step before it
    assert isinstance(caught.value.__cause__.__cause__, ValueError)  # where it started


async def test_one_failed_parent_fails_a_fan_in_at_once(app: App) -> None:
    t = _tasks(app)
    slow_done = anyio.Event()

    @app.task
    async def slow() -> int:
        await slow_done.wait()
        return 1

    bad = await t["boom"].enqueue(7)  # type: ignore[attr-defined]
    waiting = await slow.enqueue()
    joined = await t["total"].options(after=[bad, waiting], pass_results="all").enqueue()  # type: ignore[attr-defined]
    # the parent still running comes first: the failure is what the child reports
    other = await t["total"].options(after=[waiting, bad], pass_results="all").enqueue()  # type: ignore[attr-defined]
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            worker = Worker(app, block=0.05)
            tg.start_soon(worker.run)
            with pytest.raises(DependencyFailed, match="bad input 7"):
                await joined.result(timeout=5)  # before the slow parent is done
            with pytest.raises(DependencyFailed, match="bad input 7"):
                await other.result(timeout=5)
            slow_done.set()
            await waiting.result(timeout=5)
            worker.stop()


async def test_an_expired_parent_fails_its_child(app: App) -> None:
    t = _tasks(app)
    parent = await t["add"].options(expires=-1).enqueue(1, 2)  # type: ignore[attr-defined]
    child = await t["double"].options(after=parent, pass_results="first").enqueue()  # type: ignore[attr-defined]
    await drain(app)
    with pytest.raises(TaskRevoked):
        await parent.result(timeout=1)
    with pytest.raises(DependencyFailed, match="REVOKED"):
        await child.result(timeout=1)


async def test_a_parent_without_a_kept_result(app: App) -> None:
    @app.task(ignore_result=True)
    async def quiet() -> int:
        return 5

    @app.task
    async def after_it() -> str:
        return "ran"

    @app.task
    async def wants_it(value: int) -> int:
        return value

    parent = await quiet.enqueue()
    ok = await after_it.options(after=parent).enqueue()
    needs = await wants_it.options(after=parent, pass_results="first").enqueue()
    await drain(app)
    assert await ok.result(timeout=1) == "ran"
    with pytest.raises(DependencyFailed, match="kept no result"):
        await needs.result(timeout=1)


async def test_an_unknown_parent_is_refused_and_nothing_is_sent(app: App) -> None:
    t = _tasks(app)
    with pytest.raises(DependencyError, match="unknown parent task nope"):
        await app.enqueue_many(
            [t["add"].message(1, 1), t["double"].options(after="nope").message()]  # type: ignore[attr-defined]
        )
    stats = await app.broker.stats(app.default_queue)
    assert stats.ready == 0


async def test_a_finished_parent_is_refused(app: App) -> None:
    t = _tasks(app)
    parent = await t["add"].enqueue(1, 1)  # type: ignore[attr-defined]
    await drain(app)
    with pytest.raises(DependencyError, match=f"parent task {parent.id} already finished"):
        await t["double"].options(after=parent).enqueue()  # type: ignore[attr-defined]


async def test_a_cycle_is_refused(app: App) -> None:
    t = _tasks(app)
    double = t["double"]
    a = double.options(task_id="a", after="c").message(1)  # type: ignore[attr-defined]
    b = double.options(task_id="b", after="a").message(1)  # type: ignore[attr-defined]
    c = double.options(task_id="c", after="b").message(1)  # type: ignore[attr-defined]
    with pytest.raises(DependencyError, match="cycle: a -> c -> b -> a"):
        await app.enqueue_many([a, b, c])
    with pytest.raises(DependencyError, match="cycle: s -> s"):
        await double.options(task_id="s", after="s").enqueue(1)  # type: ignore[attr-defined]


async def test_a_pipeline_completes_across_workers(app: App) -> None:
    """Each step on a different worker: the graph lives in the broker."""
    t = _tasks(app)
    handle = await (
        t["add"].call(1, 1) | t["double"].call() | t["double"].call() | t["double"].call()  # type: ignore[attr-defined]
    ).enqueue()
    for _ in range(4):
        await Worker(app, max_tasks=1, block=0.05).run()
    assert await handle.result(timeout=1) == 16


async def test_pipelines_may_cross_queues(app: App) -> None:
    @app.task(queue="left")
    async def left(x: int) -> int:
        return x + 1

    @app.task(queue="right")
    async def right(x: int) -> int:
        return x * 10

    handle = await (left.call(1) | right.call() | left.call()).enqueue()
    await drain(app, queues=["left", "right"])
    assert await handle.result(timeout=1) == 21


@pytest.mark.parametrize("outcome", [SUCCESS, FAILURE])
def test_a_parent_that_finishes_while_its_batch_is_still_being_sent(
    redis_url: str, prefix: str, outcome: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large batch goes to Redis in several script calls; a worker may run a parent
    sent by an early call before a later call links its child. The child is then freed
    at once (to run, or to fail) instead of the batch being refused."""
    from celeriac.core import RedisBroker
    from celeriac.core.broker import _lua
    from celeriac.core.result import ResultRecord

    monkeypatch.setattr(_lua, "MAX_OPS_PER_CALL", 1)  # each message in a call of its own
    app = App(RedisBroker(redis_url, prefix=prefix))
    t = _tasks(app)
    parent = t["add"].message(1, 2)  # type: ignore[attr-defined]
    child = t["double"].message()  # type: ignore[attr-defined]
    child = dataclasses.replace(child, parents=(parent.id,), pass_results="first")
    broker: Any = app.sync_broker
    calls = commit_calls(broker._send_plan(app._outgoing([parent, child])))
    assert len(calls) == 2
    broker._call(*calls[0])
    record = ResultRecord(parent.id, outcome, value=3 if outcome == SUCCESS else None)
    broker.store_result(parent.id, outcome, record.encode(app.codec), None)  # it ran
    broker._call(*calls[1])
    # freed, not waiting for ever (the parent's own message is still queued: it stands
    # for one that ran, and runs again here)
    assert broker.stats(child.queue).ready == 2
    assert not broker._redis.hexists(app.broker.keys.waiting(child.queue), child.id)

    async def run_it() -> None:
        try:
            await drain(app)
            if outcome == SUCCESS:
                assert await app.handle(child.id).result(timeout=5) == 6
        finally:
            await app.aclose()

    try:
        anyio.run(run_it)
        # a parent from outside the batch that has finished is still refused
        late = dataclasses.replace(t["double"].message(), parents=(parent.id,))  # type: ignore[attr-defined]
        with pytest.raises(DependencyError, match="already finished"):
            app.enqueue_many_sync([late])
    finally:
        app.close()
