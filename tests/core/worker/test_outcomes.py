"""Outcomes a task chooses (Ignore, Reject, Retry with new arguments), what a running task
leaves in its result (children), results forgotten, the Observer's hooks, per-task rate
limits, and the process pool's children seeing the task they run."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import anyio
import pytest

from celeriac.core import (
    FAILURE,
    PENDING,
    SUCCESS,
    App,
    NotRegistered,
    Retry,
    TaskMessage,
    current_task,
)
from celeriac.core.errors import Ignore, Reject
from celeriac.core.worker import Observer
from tests.core.worker.helpers import drain

pytestmark = pytest.mark.anyio


async def _dead_ids(app: App) -> list[str]:
    letters = await app.broker.dead_letters(app.default_queue)
    return [TaskMessage.decode(d.data, app.codec).id for d in letters if d.data is not None]


async def test_ignore_acknowledges_and_stores_nothing(app: App) -> None:
    @app.task
    async def ignored() -> None:
        raise Ignore

    handle = await ignored.enqueue()
    await drain(app)
    assert await handle.state() == PENDING
    assert await _dead_ids(app) == []
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (0, 0)


async def test_reject_without_requeue_fails_and_keeps_the_message(app: App) -> None:
    @app.task
    async def rejected() -> None:
        raise Reject("bad input")

    handle = await rejected.enqueue()
    quiet = await rejected.options(ignore_result=True).enqueue()
    await drain(app)
    assert await handle.state() == FAILURE
    with pytest.raises(Reject) as info:
        await handle.result(timeout=1)
    assert info.value.reason == "bad input"
    assert await quiet.state() == PENDING  # its result is ignored: a dead letter only
    assert sorted(await _dead_ids(app)) == sorted([handle.id, quiet.id])
    (letter, _) = await app.broker.dead_letters(app.default_queue)
    assert letter.reason == "rejected" and "bad input" in letter.error


async def test_reject_with_requeue_runs_again(app: App) -> None:
    runs: list[int] = []

    @app.task
    async def picky() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise Reject("not now", requeue=True)
        return "taken"

    handle = await picky.enqueue()
    await drain(app)
    assert await handle.result(timeout=1) == "taken"
    assert len(runs) == 2
    assert await _dead_ids(app) == []


async def test_unknown_task_fails_with_not_registered_and_is_kept(app: App) -> None:
    message = TaskMessage(name="proj.missing", args=(1,))
    await app.send([message])
    await drain(app)
    handle = app.handle(message.id)
    assert await handle.state() == FAILURE
    with pytest.raises(NotRegistered, match=r"proj\.missing"):
        await handle.result(timeout=1)
    assert await _dead_ids(app) == [message.id]


async def test_retry_may_replace_the_arguments(app: App) -> None:
    seen: list[tuple[Any, ...]] = []

    @app.task
    async def scaled(value: int, unit: str = "m") -> str:
        seen.append((value, unit))
        if len(seen) == 1:
            raise Retry(0, args=(value * 100,), kwargs={"unit": "cm"})
        return f"{value}{unit}"

    handle = await scaled.enqueue(3)
    await drain(app)
    assert await handle.result(timeout=1) == "300cm"
    assert seen == [(3, "m"), (300, "cm")]


async def test_forget_deletes_the_result(app: App) -> None:
    @app.task
    async def answer() -> int:
        return 42

    handle = await answer.enqueue()
    await drain(app)
    assert await handle.state() == SUCCESS
    await anyio.to_thread.run_sync(app.sync_broker.forget, handle.id)
    assert await handle.state() == PENDING


@pytest.mark.parametrize("pool", ["threads", "processes"])
async def test_tasks_sent_by_a_running_task_are_its_children(
    app: App, pool: str, broker_kind: str
) -> None:
    if pool == "processes" and broker_kind == "memory":
        pytest.skip("a child process cannot send to the worker's in-memory broker")

    @app.task
    def leaf(n: int) -> int:
        return n

    @app.task
    def parent() -> list[str]:
        return [leaf.enqueue_sync(n).id for n in (1, 2)]

    handle = await parent.enqueue()
    await drain(app, sync_pool=pool, concurrency=2)
    sent = await handle.result(timeout=1)
    record = await handle.record()
    assert record is not None and list(record.children) == sent
    leaf_record = await app.handle(sent[0]).record()
    assert leaf_record is not None and leaf_record.children == ()


async def test_children_of_the_process_pool_know_their_task(app: App) -> None:
    marker = f"init-{os.getpid()}-{time.monotonic()}"

    @app.task
    def who() -> tuple[str, str, bool, str | None]:
        task = current_task()
        in_child = os.getpid() != parent_pid
        return task.id, task.worker, in_child, os.environ.get("CELERIAC_TEST_CHILD")

    parent_pid = os.getpid()

    def child_init() -> None:  # runs in each child as it starts
        os.environ["CELERIAC_TEST_CHILD"] = marker

    handle = await who.enqueue()
    worker = await drain(app, sync_pool="processes", concurrency=1, child_init=child_init)
    assert await handle.result(timeout=1) == [handle.id, worker.name, True, marker]
    assert os.environ.get("CELERIAC_TEST_CHILD") != marker  # set in the child only


class Heard(Observer):
    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []

    def received(self, message: TaskMessage) -> None:
        self.heard.append(("received", message.name))

    def unknown(self, message: TaskMessage, error: Exception) -> None:
        self.heard.append(("unknown", (message.name, type(error).__name__)))

    def revoked(self, message: TaskMessage, *, terminated: bool, expired: bool) -> None:
        self.heard.append(("revoked", (message.name, terminated, expired)))

    def failed_outside(self, message: TaskMessage, error: BaseException) -> None:
        self.heard.append(("failed_outside", (message.name, type(error).__name__)))


class Broken(Observer):
    def received(self, message: TaskMessage) -> None:
        raise RuntimeError("observer bug")


async def test_observer_hears_received_unknown_and_expired(app: App) -> None:
    @app.task(name="known")
    async def known() -> str:
        return "ran"

    handle = await known.enqueue()
    await app.send([TaskMessage(name="unknown.task")])
    await app.send([TaskMessage(name="known", expires=time.time() - 1)])
    observer = Heard()
    await drain(app, observer=observer)
    assert ("received", "known") in observer.heard
    assert ("unknown", ("unknown.task", "NotRegistered")) in observer.heard
    assert ("revoked", ("known", False, True)) in observer.heard
    assert await handle.result(timeout=1) == "ran"


async def test_an_observer_that_raises_does_not_stop_the_worker(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def fine() -> str:
        return "fine"

    handle = await fine.enqueue()
    await drain(app, observer=Broken())
    assert await handle.result(timeout=1) == "fine"
    assert "observer bug" in caplog.text


async def test_rate_limit_spaces_the_starts_of_a_task(app: App) -> None:
    starts: list[float] = []
    others: list[float] = []

    @app.task(rate_limit=10)
    async def limited() -> None:
        starts.append(time.monotonic())

    @app.task
    async def free() -> None:
        others.append(time.monotonic())

    for _ in range(4):
        await limited.enqueue()
        await free.enqueue()
    began = time.monotonic()
    await drain(app)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4 and all(gap >= 0.09 for gap in gaps), gaps
    assert max(others) - began < 0.25  # other tasks are not held back


async def test_observer_hears_failures_the_task_did_not_see(app: App) -> None:
    @app.task(name="slow", timeout=0.1)
    async def slow() -> None:
        await anyio.sleep(5)

    @app.task(name="plain_failure")
    async def plain_failure() -> None:
        raise ValueError("seen by the task")

    await slow.enqueue()
    await plain_failure.enqueue()
    observer = Heard()
    await drain(app, observer=observer)
    outside = [what for kind, what in observer.heard if kind == "failed_outside"]
    assert outside == [("slow", "TimeLimitExceeded")]
