"""Unique tasks: at most one instance queued or running per task (or per task and
arguments); sending another returns the id of the one already there. On every broker."""

from __future__ import annotations

import time

import anyio
import pytest

from celeriac.core import (
    SUCCESS,
    App,
    ConfigurationError,
    DependencyError,
    RedisBroker,
    Retry,
)
from celeriac.core.broker._cluster import commit_steps
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import drain, running_worker

pytestmark = pytest.mark.anyio


async def test_a_second_send_returns_the_queued_instance(app: App) -> None:
    runs: list[int] = []

    @app.task(unique=True)
    async def report(n: int) -> int:
        runs.append(n)
        return n

    first = await report.enqueue(1)
    second = await report.enqueue(2)  # other arguments: the same task for unique=True
    third = await anyio.to_thread.run_sync(lambda: report.enqueue_sync(3))
    assert second.id == first.id == third.id
    assert (await app.broker.stats(app.default_queue)).ready == 1
    await drain(app)
    assert runs == [1]
    assert await second.result(timeout=1) == 1
    fresh = await report.enqueue(4)  # the first has finished: the lock is free again
    assert fresh.id != first.id
    await drain(app)
    assert await fresh.result(timeout=1) == 4
    assert runs == [1, 4]


async def test_unique_by_arguments(app: App) -> None:
    @app.task(unique="args")
    async def fetch(url: str, *, depth: int = 1) -> str:
        return f"{url}@{depth}"

    a = await fetch.enqueue("a", depth=2)
    again = await fetch.enqueue("a", depth=2)
    other_kwargs = await fetch.enqueue("a", depth=3)
    other_args = await fetch.enqueue("b", depth=2)
    assert again.id == a.id
    assert len({a.id, other_kwargs.id, other_args.id}) == 3
    await drain(app)
    assert await other_kwargs.result(timeout=1) == "a@3"


async def test_one_batch_sends_one_instance(app: App) -> None:
    runs: list[int] = []

    @app.task(unique=True)
    async def once(n: int) -> None:
        runs.append(n)

    handles = await app.enqueue_many([once.message(n) for n in range(5)])
    assert len({h.id for h in handles}) == 1
    await drain(app)
    assert runs == [0]


async def test_concurrent_senders_agree(app: App) -> None:
    runs: list[int] = []

    @app.task(unique=True)
    async def once(n: int) -> None:
        runs.append(n)

    ids: list[str] = []

    async def send(n: int) -> None:
        ids.append((await once.enqueue(n)).id)

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(send, n)
    assert len(set(ids)) == 1
    await drain(app)
    assert len(runs) == 1


async def test_a_running_instance_holds_the_lock(app: App) -> None:
    started, gate = anyio.Event(), anyio.Event()

    @app.task(unique=True)
    async def slow() -> str:
        started.set()
        await gate.wait()
        return "done"

    first = await slow.enqueue()
    async with running_worker(app):
        await started.wait()
        assert (await slow.enqueue()).id == first.id
        gate.set()
        assert await first.result(timeout=5) == "done"
        later = await slow.enqueue()  # released with the result, in the same step
        assert later.id != first.id


async def test_a_retrying_instance_keeps_the_lock(app: App) -> None:
    tries: list[int] = []

    @app.task(unique=True)
    async def flaky() -> int:
        tries.append(1)
        if len(tries) == 1:
            raise Retry(delay=0.3)
        return len(tries)

    first = await flaky.enqueue()
    async with running_worker(app):
        with anyio.fail_after(5):
            while await first.state() != "RETRY":
                await anyio.sleep(0.01)
        assert (await flaky.enqueue()).id == first.id
        assert await first.result(timeout=5) == 2
    assert len(tries) == 2


async def test_failed_and_revoked_instances_free_the_lock(app: App) -> None:
    @app.task(unique=True)
    async def boom() -> None:
        raise ValueError("no")

    failed = await boom.enqueue()
    await drain(app)
    assert await failed.state() == "FAILURE"
    revoked = await boom.enqueue()
    assert revoked.id != failed.id
    await revoked.revoke()  # still in the queue (a worker records REVOKED when it meets
    fresh = await boom.enqueue()  # it), but revoked: it no longer holds the place
    assert fresh.id not in (failed.id, revoked.id)
    await drain(app)
    assert (await revoked.state(), await fresh.state()) == ("REVOKED", "FAILURE")


async def test_a_unique_parent_in_the_same_batch_is_refused(app: App) -> None:
    @app.task(unique=True)
    async def source() -> int:
        return 3

    @app.task
    async def double(x: int) -> int:
        return 2 * x

    with pytest.raises(DependencyError, match="unique task"):
        await (source.call() | double.call()).enqueue()
    assert (await app.broker.stats(app.default_queue)).ready == 0
    parent = await source.enqueue()  # the way to do it: send it first, then wait for it
    again = await source.enqueue()
    child = await double.options(after=again, pass_results="first").enqueue()
    assert again.id == parent.id
    await drain(app)
    assert await child.result(timeout=1) == 6


async def test_bad_unique_option() -> None:
    app = App()
    with pytest.raises(ConfigurationError, match="unique must be"):

        @app.task(unique="yes")
        async def nope() -> None: ...


async def test_a_lock_whose_holder_left_no_record_is_taken(app: App) -> None:
    """The holder's record expired (or it was never sent): on a single Redis the lock is
    taken at once; on a Cluster once it is older than the claim grace."""
    broker = app.broker
    if not isinstance(broker, RedisBroker):
        pytest.skip("the lock's value is Redis's")

    @app.task(unique=True)
    async def job() -> None: ...

    client = broker.sync()._redis  # to plant a stale lock
    lock = broker.keys.unique(job.name)
    client.set(lock, f"ghost|{int(time.time() * 1000)}")
    handle = await job.enqueue()
    if broker.cluster:
        assert handle.id == "ghost"  # too young: its record may be on its way
        client.set(lock, f"ghost|{int((time.time() - 120) * 1000)}")
        handle = await job.enqueue()
    assert handle.id != "ghost"
    await drain(app)
    assert await handle.state() == SUCCESS
    assert client.get(lock) is None


async def test_a_lock_taken_by_another_sender_mid_claim(app: App) -> None:
    """Cluster: a sender finds the holder gone, but before it takes the lock another
    sender does; it then asks again, finds that one alive, and returns its id."""
    broker = app.broker
    if not (isinstance(broker, RedisBroker) and broker.cluster):
        pytest.skip("the claim in rounds is the Cluster's")

    @app.task(unique=True)
    async def job(n: int) -> int:
        return n

    first = await job.enqueue(1)
    # its record is final but its lock was never released (a crash between the two)
    await broker.store_result(first.id, SUCCESS, b"", None)
    (second,) = app._outgoing([job.message(2)])
    commit = broker._send_plan([second])
    steps = commit_steps(commit)
    calls = next(steps)  # the claim: held by the first
    probes = steps.send(await broker._run(calls))  # is the first alive? no
    ((script, keys, claim_again),) = steps.send(await broker._run(probes))
    assert "U" in claim_again and first.id in claim_again  # take it from the first
    third = await job.enqueue(3)  # another sender takes the free lock meanwhile
    assert third.id not in (first.id, second.id)
    calls = steps.send(await broker._run([(script, keys, claim_again)]))  # the third's
    while True:  # the rest: the third is alive, so the second is not sent
        try:
            calls = steps.send(await broker._run(calls))
        except StopIteration:
            break
    assert commit.existing == {second.id: third.id}
    await drain(app)
    assert await third.result(timeout=5) == 3
    assert await broker.get_state(second.id) is None  # never sent, not even marked
