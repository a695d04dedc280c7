"""Recovery, on every broker: heartbeats keep a consumer's messages, messages of dead
consumers (or ones nobody refreshed) are taken over, poison messages are set aside, and
live workers can be listed."""

from __future__ import annotations

import anyio
import pytest

from celeriac.core import Broker
from celeriac.core.broker import Completion, Recovery
from tests.core.broker.test_contract import Q, datas, fetch_now, out

pytestmark = pytest.mark.anyio

FAST = Recovery(window=0.6, max_deliveries=3, grace=0.05)


async def test_messages_of_a_consumer_that_is_not_alive_are_taken_over(broker: Broker) -> None:
    await broker.send([out(b"a"), out(b"b")])
    got = await fetch_now(broker, consumer="dead")
    assert len(got) == 2
    assert await broker.reclaim([Q], "me", 10, FAST) == ([], 0)  # not idle for the grace yet
    await anyio.sleep(0.1)
    taken, dead = await broker.reclaim([Q], "me", 10, FAST)
    assert sorted(datas(taken)) == [b"a", b"b"] and dead == 0
    assert {d.deliveries for d in taken} == {2}
    assert await broker.reclaim([Q], "other", 10, FAST) == ([], 0)  # now "me" holds them


async def test_a_live_consumer_keeps_what_it_refreshes(broker: Broker) -> None:
    await broker.send([out(b"a")])
    held = await fetch_now(broker, consumer="busy")
    for _ in range(4):  # longer than the window in all, refreshed all along
        assert await broker.heartbeat("busy", [Q], held, ttl=5) == []
        await anyio.sleep(0.2)
        assert await broker.reclaim([Q], "thief", 10, FAST) == ([], 0)


async def test_a_message_nobody_refreshes_is_taken_after_the_window(broker: Broker) -> None:
    await broker.send([out(b"lost")])
    await fetch_now(broker, consumer="alive-but-lost-it")
    await broker.heartbeat("alive-but-lost-it", [Q], [], ttl=5)  # alive, refreshes nothing
    await anyio.sleep(0.2)
    assert await broker.reclaim([Q], "me", 10, FAST) == ([], 0)  # within the window
    await anyio.sleep(0.5)
    taken, _ = await broker.reclaim([Q], "me", 10, FAST)
    assert datas(taken) == [b"lost"]


async def test_liveness_lapses_without_heartbeats(broker: Broker) -> None:
    await broker.send([out(b"a")])
    held = await fetch_now(broker, consumer="w1")
    await broker.heartbeat("w1", [Q], held, ttl=0.2)
    await anyio.sleep(0.1)
    assert await broker.reclaim([Q], "me", 10, FAST) == ([], 0)
    await anyio.sleep(0.2)  # the heartbeat lapsed: w1 counts as dead
    taken, _ = await broker.reclaim([Q], "me", 10, FAST)
    assert datas(taken) == [b"a"]


async def test_heartbeat_reports_what_was_taken_and_what_was_finished(broker: Broker) -> None:
    await broker.send([out(b"a"), out(b"b"), out(b"c")])
    held = await fetch_now(broker, consumer="slow")
    await anyio.sleep(0.1)
    taken, _ = await broker.reclaim([Q], "fast", 1, FAST)  # "slow" never said it was alive
    await broker.finish([Completion(held[2])])
    lost = await broker.heartbeat("slow", [Q], held, ttl=5)
    assert sorted(datas(lost)) == sorted([taken[0].data, held[2].data])


async def test_a_message_delivered_too_often_is_dead_lettered(broker: Broker) -> None:
    await broker.send([out(b"poison"), out(b"fine")])
    await fetch_now(broker, consumer="w0")
    for n in range(1, 3):  # delivered 2, then 3 times: each taker "dies"
        await anyio.sleep(0.1)
        taken, dead = await broker.reclaim([Q], f"w{n}", 10, FAST)
        assert ({d.deliveries for d in taken}, dead) == ({n + 1}, 0)
    await anyio.sleep(0.1)
    taken, dead = await broker.reclaim([Q], "w3", 10, FAST)
    assert (taken, dead) == ([], 2)
    letters = await broker.dead_letters(Q)
    assert sorted(datas(letters)) == [b"fine", b"poison"]
    assert {letter.reason for letter in letters} == {"too-many-deliveries"}
    assert "delivered 3 times" in letters[0].error
    assert (await broker.stats(Q)).in_flight == 0
    assert await broker.requeue_dead(Q) == 2  # still recoverable by hand


async def test_reclaim_takes_no_more_than_asked(broker: Broker) -> None:
    await broker.send([out(bytes([n])) for n in range(5)])
    await fetch_now(broker, consumer="gone")
    await anyio.sleep(0.1)
    first, _ = await broker.reclaim([Q], "me", 2, FAST)
    rest, _ = await broker.reclaim([Q], "me", 10, FAST)
    assert (len(first), len(rest)) == (2, 3)


async def test_workers_are_listed_while_alive(broker: Broker) -> None:
    await broker.announce("w1", b'{"name": "w1"}', ttl=5)
    await broker.announce("w2", b'{"name": "w2"}', ttl=0.2)
    assert sorted(await broker.workers()) == [b'{"name": "w1"}', b'{"name": "w2"}']
    await broker.announce("w1", b'{"name": "w1", "n": 2}', ttl=5)  # renewed, new info
    await anyio.sleep(0.3)
    assert await broker.workers() == [b'{"name": "w1", "n": 2}']
    await broker.withdraw("w1")
    assert await broker.workers() == []


async def test_starts_of_a_redelivered_message_are_counted_until_it_is_finished(
    broker: Broker,
) -> None:
    await broker.send([out(b"again"), out(b"handed-back")])
    first, second = await fetch_now(broker)
    assert [await broker.count_start(first) for _ in range(3)] == [1, 2, 3]
    await broker.count_start(second)
    await broker.finish([Completion(first)])
    await broker.nack([second])
    await broker.send([out(b"new")])
    for delivery in await fetch_now(broker):  # fresh entries: no count carried over
        assert await broker.count_start(delivery) == 1
