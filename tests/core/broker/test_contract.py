"""The contract every broker keeps: each test runs against MemoryBroker and RedisBroker,
on asyncio and on uvloop (see the ``broker`` and ``anyio_backend`` fixtures)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
import anyio.lowlevel
import pytest

from celeriac.core import Broker, QueueStats
from celeriac.core.broker import Completion, DeadLetter, Delivery, Outgoing

pytestmark = pytest.mark.anyio

Q = "q"


def out(
    data: bytes,
    *,
    queue: str = Q,
    priority: int = 0,
    due: float | None = None,
    task_id: str | None = None,
) -> Outgoing:
    return Outgoing(task_id or data.decode(errors="replace"), queue, priority, data, due)


async def fetch_now(
    broker: Broker,
    count: int = 100,
    queues: Sequence[str] = (Q,),
    *,
    strict: bool = False,
    consumer: str = "c1",
) -> list[Delivery]:
    return await broker.fetch(list(queues), consumer, count, 0, strict)


async def fetch_one(broker: Broker, queue: str = Q) -> Delivery:
    (delivery,) = await fetch_now(broker, 1, [queue])
    return delivery


def datas(deliveries: Sequence[Delivery | DeadLetter]) -> list[bytes | None]:
    return [d.data for d in deliveries]


# -- send and fetch ---------------------------------------------------------------------


async def test_send_then_fetch_returns_the_same_bytes(broker: Broker) -> None:
    payload = bytes(range(256)) * 3  # every byte value, NULs included
    await broker.send([out(b"x", task_id="id-1"), Outgoing("id-2", Q, 0, payload)])
    got = await fetch_now(broker, 10)
    assert datas(got) == [b"x", payload]
    for delivery in got:
        assert delivery.queue == Q
        assert delivery.step == broker.priority_steps.step_for(0)
        assert isinstance(delivery.tag, str)
        assert delivery.tag
        assert delivery.raw == {}
    assert got[0].tag != got[1].tag


async def test_fetch_respects_count(broker: Broker) -> None:
    await broker.send([out(b"%d" % i) for i in range(5)])
    assert len(await fetch_now(broker, 3)) == 3
    assert len(await fetch_now(broker, 10)) == 2
    assert await fetch_now(broker, 10) == []


async def test_fifo_within_a_step(broker: Broker) -> None:
    sent = [b"m%02d" % i for i in range(20)]
    await broker.send([out(d) for d in sent[:10]])
    await broker.send([out(d) for d in sent[10:]])
    got = await fetch_now(broker, 7)
    got += await fetch_now(broker, 100)
    assert datas(got) == sent


async def test_higher_priority_step_served_first(broker: Broker) -> None:
    steps = broker.priority_steps
    # in order of sending: lowest first, so FIFO alone would get it wrong
    await broker.send([out(b"low", priority=0), out(b"mid", priority=5), out(b"high", priority=9)])
    await broker.send([out(b"low2", priority=1)])
    got = await fetch_now(broker, 10)
    assert datas(got) == [b"high", b"mid", b"low", b"low2"]
    assert [d.step for d in got] == [
        steps.step_for(9),
        steps.step_for(5),
        steps.step_for(0),
        steps.step_for(1),
    ]
    assert steps.step_for(9) > steps.step_for(5) > steps.step_for(0)

    # with count 1 the highest waiting step still wins
    await broker.send([out(b"a", priority=0), out(b"b", priority=9)])
    assert datas(await fetch_now(broker, 1)) == [b"b"]
    assert datas(await fetch_now(broker, 1)) == [b"a"]


async def test_blocking_fetch_wakes_when_a_message_is_sent(broker: Broker) -> None:
    got: list[Delivery] = []

    async def consume() -> None:
        got.extend(await broker.fetch([Q], "c1", 10, 5.0, False))

    with anyio.fail_after(5):
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.1)
            await broker.send([out(b"wake")])
        elapsed = time.monotonic() - start
    assert datas(got) == [b"wake"]
    assert elapsed < 1.0


async def test_blocking_fetch_on_several_queues_wakes_for_any(broker: Broker) -> None:
    got: list[Delivery] = []

    async def consume() -> None:
        got.extend(await broker.fetch(["a", "b"], "c1", 10, 5.0, False))

    with anyio.fail_after(5):
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.1)
            await broker.send([out(b"for-b", queue="b", priority=9)])
        elapsed = time.monotonic() - start
    assert [(d.queue, d.data) for d in got] == [("b", b"for-b")]
    assert got[0].step == broker.priority_steps.step_for(9)
    assert elapsed < 1.0


async def test_blocking_fetch_returns_empty_after_timeout(broker: Broker) -> None:
    with anyio.fail_after(5):
        start = time.monotonic()
        got = await broker.fetch([Q], "c1", 10, 0.3, False)
        elapsed = time.monotonic() - start
    assert got == []
    assert 0.25 <= elapsed < 1.0


async def test_fetch_with_zero_timeout_does_not_wait(broker: Broker) -> None:
    with anyio.fail_after(5):
        start = time.monotonic()
        assert await broker.fetch([Q], "c1", 10, 0, False) == []
        assert time.monotonic() - start < 1.0  # a block would be a poll interval or more


# -- finish -------------------------------------------------------------------------------


async def test_finish_stores_the_result_and_acknowledges(broker: Broker) -> None:
    await broker.send([out(b"job")])
    delivery = await fetch_one(broker)
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=1, delayed=0, dead=0)

    await broker.finish([Completion(delivery, "task-1", b"RESULT", None, state="SUCCESS")])

    assert await broker.get_result("task-1") == b"RESULT"
    with anyio.fail_after(5):
        assert await broker.wait_result("task-1", 1.0) == b"RESULT"
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)
    assert await fetch_now(broker) == []
    assert await broker.fetch([Q], "another", 10, 0, False) == []


async def test_finish_a_batch(broker: Broker) -> None:
    await broker.send([out(b"%d" % i) for i in range(5)])
    got = await fetch_now(broker)
    await broker.finish([Completion(d, f"t{d.data!r}", d.data, None, state="SUCCESS") for d in got])
    for d in got:
        assert await broker.get_result(f"t{d.data!r}") == d.data
    assert await broker.stats(Q) == QueueStats(0, 0, 0, 0)


async def test_finish_with_then_enqueues_the_follow_up(broker: Broker) -> None:
    await broker.send([out(b"first")])
    delivery = await fetch_one(broker)
    then = Outgoing("task-1", Q, 6, b"retry")
    await broker.finish([Completion(delivery, "task-1", b"RETRY-STATE", None, then, state="RETRY")])

    assert await broker.get_result("task-1") == b"RETRY-STATE"
    assert await broker.stats(Q) == QueueStats(ready=1, in_flight=0, delayed=0, dead=0)
    follow_up = await fetch_one(broker)
    assert follow_up.data == b"retry"
    assert follow_up.step == broker.priority_steps.step_for(6)
    assert (follow_up.step, follow_up.tag) != (delivery.step, delivery.tag)  # ids are per stream


async def test_finish_with_a_delayed_follow_up(broker: Broker) -> None:
    await broker.send([out(b"first")])
    delivery = await fetch_one(broker)
    then = Outgoing("task-1", "other", 0, b"later", due=time.time() + 60)
    await broker.finish([Completion(delivery, then=then)])
    assert await broker.stats(Q) == QueueStats(0, 0, 0, 0)
    assert await broker.stats("other") == QueueStats(ready=0, in_flight=0, delayed=1, dead=0)
    assert await fetch_now(broker, 10, ["other"]) == []


async def test_finish_without_result_stores_nothing(broker: Broker) -> None:
    await broker.send([out(b"job")])
    delivery = await fetch_one(broker)
    await broker.finish([Completion(delivery, "task-1", None, 60, state="SUCCESS")])
    assert await broker.get_result("task-1") is None
    assert await broker.stats(Q) == QueueStats(0, 0, 0, 0)
    assert await fetch_now(broker) == []


# -- delayed messages ---------------------------------------------------------------------


async def test_delayed_message_waits_until_due(broker: Broker) -> None:
    due = time.time() + 0.3
    await broker.send(
        [
            out(b"later", due=due, priority=9),
            out(b"later2", due=due + 0.05),
            out(b"now"),
        ]
    )
    assert await broker.stats(Q) == QueueStats(ready=1, in_flight=0, delayed=2, dead=0)
    assert datas(await fetch_now(broker)) == [b"now"]
    assert await fetch_now(broker) == []
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=1, delayed=2, dead=0)

    await anyio.sleep(max(due + 0.15 - time.time(), 0))
    got = await fetch_now(broker)
    assert datas(got) == [b"later", b"later2"]
    assert [d.step for d in got] == [
        broker.priority_steps.step_for(9),
        broker.priority_steps.step_for(0),
    ]
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=3, delayed=0, dead=0)


async def test_blocking_fetch_wakes_for_a_delayed_message(broker: Broker) -> None:
    start = time.monotonic()  # before the send: a slow send must not look like an early wake
    await broker.send([out(b"later", due=time.time() + 0.3)])
    with anyio.fail_after(5):
        got = await broker.fetch([Q], "c1", 10, 2.0, False)
        elapsed = time.monotonic() - start
    assert datas(got) == [b"later"]
    assert 0.29 <= elapsed < 1.2


async def test_blocking_fetch_wakes_for_a_delayed_message_sent_while_waiting(
    broker: Broker,
) -> None:
    got: list[Delivery] = []

    async def consume() -> None:
        got.extend(await broker.fetch([Q], "c1", 10, 1.5, False))

    with anyio.fail_after(5):
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.1)
            await broker.send([out(b"later", due=time.time() + 0.2)])
        elapsed = time.monotonic() - start
    assert datas(got) == [b"later"]
    assert elapsed < 1.0


async def test_eta_in_the_past_is_sent_at_once(broker: Broker) -> None:
    await broker.send([out(b"past", due=time.time() - 10), out(b"now-ish", due=time.time())])
    assert await broker.stats(Q) == QueueStats(ready=2, in_flight=0, delayed=0, dead=0)
    assert datas(await fetch_now(broker)) == [b"past", b"now-ish"]


async def test_delayed_message_sent_again_with_same_id_keeps_the_latest(broker: Broker) -> None:
    await broker.send([out(b"first", task_id="same", due=time.time() + 0.1)])
    await broker.send([out(b"second", task_id="same", due=time.time() + 60)])
    assert (await broker.stats(Q)).delayed == 1
    await anyio.sleep(0.3)
    assert await fetch_now(broker) == []
    assert (await broker.stats(Q)).delayed == 1


# -- nack and dead letters ---------------------------------------------------------------


async def test_nack_makes_a_message_fetchable_again(broker: Broker) -> None:
    await broker.send([out(b"job", priority=9), out(b"other", priority=9)])
    first = await fetch_one(broker)
    assert first.data == b"job"
    await broker.nack([first])
    assert await broker.stats(Q) == QueueStats(ready=2, in_flight=0, delayed=0, dead=0)
    again = await fetch_now(broker)
    assert sorted(datas(again), key=repr) == [b"job", b"other"]
    nacked = next(d for d in again if d.data == b"job")
    assert (nacked.queue, nacked.step) == (Q, broker.priority_steps.step_for(9))
    await broker.finish([Completion(d) for d in again])
    assert await broker.stats(Q) == QueueStats(0, 0, 0, 0)
    assert await fetch_now(broker) == []


async def test_dead_letter_and_requeue_all(broker: Broker) -> None:
    await broker.send([out(b"bad", priority=6)])
    delivery = await fetch_one(broker)
    before = time.time()
    await broker.dead_letter(delivery, "undecodable", "ValueError: boom")

    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=0, delayed=0, dead=1)
    assert await fetch_now(broker) == []
    (letter,) = await broker.dead_letters(Q)
    assert letter.queue == Q
    assert letter.step == broker.priority_steps.step_for(6)
    assert letter.data == b"bad"
    assert letter.reason == "undecodable"
    assert letter.error == "ValueError: boom"
    assert before - 1 <= letter.time <= time.time() + 1
    assert letter.id

    assert await broker.requeue_dead(Q) == 1
    assert await broker.dead_letters(Q) == []
    assert await broker.stats(Q) == QueueStats(ready=1, in_flight=0, delayed=0, dead=0)
    back = await fetch_one(broker)
    assert (back.data, back.step) == (b"bad", broker.priority_steps.step_for(6))
    assert await broker.requeue_dead(Q) == 0


async def test_purge_removes_waiting_and_delayed_messages_not_held_ones(broker: Broker) -> None:
    await broker.send(
        [out(b"held", priority=9), out(b"one", priority=6), out(b"two"), out(b"other", queue="q2")]
    )
    await broker.send([out(b"later", due=time.time() + 60)])
    held = await fetch_one(broker)
    assert held.data == b"held"
    assert await broker.purge(Q) == 3  # one, two and the delayed one
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=1, delayed=0, dead=0)
    assert await broker.stats("q2") == QueueStats(ready=1, in_flight=0, delayed=0, dead=0)
    await broker.finish([Completion(held, "held-id", b"R", None, state="SUCCESS")])
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=0, delayed=0, dead=0)
    await broker.send([out(b"after")])  # the queue works on
    assert datas(await fetch_now(broker)) == [b"after"]
    assert await broker.purge(Q) == 0
    assert await broker.purge("never-used") == 0


async def test_purge_of_a_queue_no_worker_read_yet(broker: Broker) -> None:
    await broker.send([out(b"a", queue="fresh"), out(b"b", queue="fresh", priority=9)])
    assert await broker.purge("fresh") == 2
    assert (await broker.stats("fresh")).ready == 0
    await broker.send([out(b"c", queue="fresh")])
    assert datas(await fetch_now(broker, queues=["fresh"])) == [b"c"]


async def test_requeue_dead_by_ids(broker: Broker) -> None:
    await broker.send([out(b"one"), out(b"two"), out(b"three")])
    for delivery in await fetch_now(broker):
        await broker.dead_letter(delivery, "reason", f"error {delivery.data!r}")
    letters = await broker.dead_letters(Q)
    assert datas(letters) == [b"one", b"two", b"three"]
    assert len({letter.id for letter in letters}) == 3
    assert [letter.error for letter in letters] == [
        "error b'one'",
        "error b'two'",
        "error b'three'",
    ]
    assert datas(await broker.dead_letters(Q, count=2)) == [b"one", b"two"]

    assert await broker.requeue_dead(Q, [letters[1].id]) == 1
    assert datas(await broker.dead_letters(Q)) == [b"one", b"three"]
    assert datas(await fetch_now(broker)) == [b"two"]
    assert await broker.requeue_dead(Q, [letters[1].id]) == 0  # already requeued
    assert await broker.requeue_dead(Q, [letters[0].id, letters[2].id]) == 2
    assert await broker.stats(Q) == QueueStats(ready=2, in_flight=1, delayed=0, dead=0)


async def test_requeue_dead_with_no_ids_requeues_nothing(broker: Broker) -> None:
    await broker.send([out(b"one")])
    await broker.dead_letter(await fetch_one(broker), "reason", "error")
    assert await broker.requeue_dead(Q, []) == 0
    assert (await broker.stats(Q)).dead == 1
    assert await fetch_now(broker) == []


async def test_requeue_dead_with_a_repeated_id_requeues_it_once(broker: Broker) -> None:
    await broker.send([out(b"one")])
    await broker.dead_letter(await fetch_one(broker), "reason", "error")
    (letter,) = await broker.dead_letters(Q)
    assert await broker.requeue_dead(Q, [letter.id, letter.id]) == 1
    assert datas(await fetch_now(broker)) == [b"one"]


# -- results --------------------------------------------------------------------------------


async def test_result_ttl(broker: Broker) -> None:
    await broker.store_result("short", "SUCCESS", b"s", 0.2)
    await broker.store_result("kept", "SUCCESS", b"k", None)
    await broker.send([out(b"job")])
    await broker.finish(
        [Completion(await fetch_one(broker), "short-done", b"d", 0.2, state="SUCCESS")]
    )
    assert await broker.get_result("short") == b"s"
    assert await broker.get_result("short-done") == b"d"
    await anyio.sleep(0.4)
    assert await broker.get_result("short") is None
    assert await broker.get_result("short-done") is None
    assert await broker.get_result("kept") == b"k"
    assert await broker.get_result("never") is None


async def test_store_result_overwrites(broker: Broker) -> None:
    await broker.store_result("t", "STARTED", b"STARTED", None)
    await broker.store_result("t", "SUCCESS", b"SUCCESS", None)
    assert await broker.get_result("t") == b"SUCCESS"


async def test_wait_result_returns_a_stored_result_at_once(broker: Broker) -> None:
    await broker.store_result("t", "SUCCESS", b"done", None)
    with anyio.fail_after(5):
        start = time.monotonic()
        assert await broker.wait_result("t", 2.0) == b"done"
        assert await broker.wait_result("t", 2.0, previous=b"STARTED") == b"done"
        assert time.monotonic() - start < 0.5


async def test_wait_result_skips_the_previous_value(broker: Broker) -> None:
    await broker.store_result("t", "STARTED", b"STARTED", None)
    got: list[bytes | None] = []

    async def wait() -> None:
        got.append(await broker.wait_result("t", 3.0, previous=b"STARTED"))

    with anyio.fail_after(5):
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.1)
            await broker.store_result("t", "STARTED", b"STARTED", None)  # the same again: not news
            await anyio.sleep(0.1)
            assert got == []
            await broker.store_result("t", "SUCCESS", b"SUCCESS", None)
        elapsed = time.monotonic() - start
    assert got == [b"SUCCESS"]
    assert elapsed < 1.5


async def test_wait_result_woken_by_finish(broker: Broker) -> None:
    await broker.send([out(b"job")])
    delivery = await fetch_one(broker)
    got: list[bytes | None] = []

    async def wait() -> None:
        got.append(await broker.wait_result("t", 3.0))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.1)
            await broker.finish([Completion(delivery, "t", b"from-finish", None, state="SUCCESS")])
    assert got == [b"from-finish"]


async def test_wait_result_times_out_with_none(broker: Broker) -> None:
    with anyio.fail_after(5):
        start = time.monotonic()
        assert await broker.wait_result("missing", 0.3) is None
        await broker.store_result("t", "STARTED", b"STARTED", None)
        assert await broker.wait_result("t", 0.3, previous=b"STARTED") is None
        elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 2.0


# -- serving several queues and consumers ---------------------------------------------------


async def test_fair_serving_across_queues(broker: Broker) -> None:
    await broker.send([out(b"a%d" % i, queue="a") for i in range(6)])
    await broker.send([out(b"b%d" % i, queue="b") for i in range(6)])
    got = await fetch_now(broker, 4, ["a", "b"])
    assert len(got) == 4
    assert {d.queue for d in got} == {"a", "b"}

    # one at a time, the queues take turns
    singles = [(await fetch_now(broker, 1, ["a", "b"]))[0].queue for _ in range(4)]
    assert set(singles) == {"a", "b"}


async def test_strict_serving_takes_queues_in_order(broker: Broker) -> None:
    await broker.send([out(b"a%d" % i, queue="a") for i in range(3)])
    await broker.send([out(b"b%d" % i, queue="b", priority=9) for i in range(6)])
    got = await fetch_now(broker, 2, ["a", "b"], strict=True)
    assert datas(got) == [b"a0", b"a1"]
    got = await fetch_now(broker, 3, ["a", "b"], strict=True)
    assert datas(got) == [b"a2", b"b0", b"b1"]
    got = await fetch_now(broker, 10, ["b", "a"], strict=True)
    assert datas(got) == [b"b2", b"b3", b"b4", b"b5"]


async def test_two_consumers_never_get_the_same_message(broker: Broker) -> None:
    sent = {b"m%03d" % i for i in range(200)}
    await broker.send([out(d) for d in sorted(sent)])
    received: dict[str, list[bytes | None]] = {"c1": [], "c2": []}
    started = {"c1": anyio.Event(), "c2": anyio.Event()}

    async def consume(consumer: str, other: str) -> None:
        for _ in range(200):  # bounded: at least one message per round until drained
            batch = await broker.fetch([Q], consumer, 7, 0, False)
            started[consumer].set()
            if not batch:
                return
            received[consumer] += datas(batch)
            # both take part (a slow first fetch, e.g. on Cluster, would leave the other
            # nothing), then they race freely
            with anyio.move_on_after(2):
                await started[other].wait()
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume, "c1", "c2")
            tg.start_soon(consume, "c2", "c1")
    one, two = received["c1"], received["c2"]
    assert len(one) + len(two) == 200
    assert set(one) | set(two) == sent
    assert not set(one) & set(two)
    assert one
    assert two
    assert await broker.stats(Q) == QueueStats(ready=0, in_flight=200, delayed=0, dead=0)


async def test_two_blocking_consumers_share_messages(broker: Broker) -> None:
    received: list[bytes | None] = []

    async def consume(consumer: str) -> None:
        with anyio.move_on_after(2):
            while len(received) < 20:
                received.extend(datas(await broker.fetch([Q], consumer, 3, 0.2, False)))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume, "c1")
            tg.start_soon(consume, "c2")
            for i in range(20):
                await broker.send([out(b"m%02d" % i)])
                await anyio.sleep(0.005)
    assert sorted(received, key=repr) == [b"m%02d" % i for i in range(20)]


# -- the sync twin ---------------------------------------------------------------------------


async def test_sync_twin_send_and_results(broker: Broker) -> None:
    sync = broker.sync()
    assert sync.priority_steps == broker.priority_steps
    sync.send([out(b"from-sync", priority=9), out(b"later", due=time.time() + 60)])
    assert await broker.stats(Q) == QueueStats(ready=1, in_flight=0, delayed=1, dead=0)
    delivery = await fetch_one(broker)
    assert (delivery.data, delivery.step) == (b"from-sync", broker.priority_steps.step_for(9))

    sync.store_result("t", "SUCCESS", b"sync-result", None)
    assert sync.get_result("t") == b"sync-result"
    assert await broker.get_result("t") == b"sync-result"
    await broker.store_result("u", "SUCCESS", b"async-result", None)
    assert sync.get_result("u") == b"async-result"
    assert sync.get_result("missing") is None
    assert sync.wait_result("u", 1.0) == b"async-result"


async def test_sync_wait_result_woken_from_async_side(broker: Broker) -> None:
    sync = broker.sync()
    sync.store_result("t", "STARTED", b"STARTED", None)
    got: list[bytes | None] = []

    async def wait() -> None:
        got.append(await anyio.to_thread.run_sync(sync.wait_result, "t", 3.0, b"STARTED"))

    with anyio.fail_after(5):
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.2)
            await broker.store_result("t", "SUCCESS", b"SUCCESS", None)
        elapsed = time.monotonic() - start
    assert got == [b"SUCCESS"]
    assert elapsed < 1.5


async def test_sync_wait_result_times_out(broker: Broker) -> None:
    sync = broker.sync()
    with anyio.fail_after(5):
        start = time.monotonic()
        got = await anyio.to_thread.run_sync(sync.wait_result, "missing", 0.3)
        elapsed = time.monotonic() - start
    assert got is None
    assert 0.25 <= elapsed < 1.5


# -- stats -----------------------------------------------------------------------------------


async def test_stats_counts(broker: Broker) -> None:
    assert await broker.stats(Q) == QueueStats(0, 0, 0, 0)
    await broker.send([out(b"%d" % i, priority=i) for i in range(5)])
    await broker.send([out(b"d1", due=time.time() + 60), out(b"d2", due=time.time() + 60)])
    assert await broker.stats(Q) == QueueStats(ready=5, in_flight=0, delayed=2, dead=0)
    first, second = await fetch_now(broker, 2)
    assert await broker.stats(Q) == QueueStats(ready=3, in_flight=2, delayed=2, dead=0)
    await broker.dead_letter(first, "r", "e")
    assert await broker.stats(Q) == QueueStats(ready=3, in_flight=1, delayed=2, dead=1)
    await broker.nack([second])
    assert await broker.stats(Q) == QueueStats(ready=4, in_flight=0, delayed=2, dead=1)
    assert await broker.stats("other") == QueueStats(0, 0, 0, 0)


async def test_control_messages_sent_once_subscribed_are_heard(broker: Broker) -> None:
    heard: list[bytes] = []
    subscribed = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(broker.listen_control, heard.append, subscribed.set)
        with anyio.fail_after(5):
            await subscribed.wait()
        await broker.revoke(["revoked-at-once"], ttl=60)  # published right away
        with anyio.fail_after(5):
            while not heard:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert any(b"revoked-at-once" in message for message in heard)
