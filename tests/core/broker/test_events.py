"""The task events stream of every broker: publish, read after an id, wait for new
ones without polling, and the cap on its length."""

from __future__ import annotations

import anyio
import pytest

from celeriac.core import Broker, ConfigurationError, MemoryBroker
from celeriac.core.broker import EVENTS_MAXLEN
from celeriac.core.broker.base import event_id_key

pytestmark = pytest.mark.anyio


async def read_all(broker: Broker, after: str = "0") -> list[tuple[str, bytes]]:
    return await broker.read_events(after, 10 * EVENTS_MAXLEN, 0)


async def test_events_read_back_in_order_after_an_id(broker: Broker) -> None:
    assert await read_all(broker) == []
    await broker.publish_events([b"a", b"b"])
    await broker.publish_events([])  # nothing to send: nothing sent
    await broker.publish_events([b"c"])
    entries = await read_all(broker)
    assert [data for _, data in entries] == [b"a", b"b", b"c"]
    keys = [event_id_key(entry_id) for entry_id, _ in entries]
    assert keys == sorted(set(keys))  # ids increase
    first, second, _ = (entry_id for entry_id, _ in entries)
    assert await broker.read_events(second, 10, 0) == entries[2:]
    assert await broker.read_events(first, 1, 0) == entries[1:2]  # count bounds a read
    assert await broker.read_events("0", 2, 0) == entries[:2]


async def test_dollar_means_only_new_events(broker: Broker) -> None:
    assert await broker.last_event_id() == "0-0"
    await broker.publish_events([b"old"])
    assert await broker.read_events("$", 10, 0) == []
    last = await broker.last_event_id()
    assert await read_all(broker) == [(last, b"old")]
    await broker.publish_events([b"new"])
    assert [data for _, data in await broker.read_events(last, 10, 0)] == [b"new"]


async def test_a_waiting_read_wakes_when_an_event_arrives(broker: Broker) -> None:
    last = await broker.last_event_id()
    got: list[tuple[str, bytes]] = []

    async def reader() -> None:
        got.extend(await broker.read_events(last, 10, 30))

    with anyio.fail_after(5):  # far less than the read's 30 seconds: it was woken
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.sleep(0.2)
            await broker.publish_events([b"ping"])
    assert [data for _, data in got] == [b"ping"]


async def test_a_waiting_read_returns_empty_after_its_timeout(broker: Broker) -> None:
    await broker.publish_events([b"seen"])
    with anyio.fail_after(5):
        assert await broker.read_events("$", 10, 0.2) == []
        assert await broker.read_events(await broker.last_event_id(), 10, 0.2) == []


async def test_the_stream_keeps_about_the_newest_maxlen(broker: Broker) -> None:
    total = EVENTS_MAXLEN + 2_500
    for start in range(0, total, 1_000):
        await broker.publish_events([b"%d" % n for n in range(start, min(start + 1_000, total))])
    kept = [int(data) for _, data in await read_all(broker)]
    # Redis trims whole nodes (MAXLEN ~): a few more may stay, never fewer
    assert EVENTS_MAXLEN <= len(kept) < EVENTS_MAXLEN + 1_000
    assert kept == list(range(total - len(kept), total))


@pytest.mark.parametrize("after", ["", "later", "12-", "-1", "1-2-3", "1.5"])
async def test_a_malformed_id_is_refused(broker: Broker, after: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid event id"):
        await broker.read_events(after, 10, 0)


async def test_memory_readers_wake_for_events_from_another_thread_and_loop() -> None:
    broker = MemoryBroker()
    last = await broker.last_event_id()
    got: list[tuple[str, bytes]] = []

    async def reader() -> None:
        got.extend(await broker.read_events(last, 10, 30))

    def publish_elsewhere() -> None:  # its own event loop, in a worker thread
        anyio.run(broker.publish_events, [b"from afar"])

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.sleep(0.2)
            await anyio.to_thread.run_sync(publish_elsewhere)
    assert [data for _, data in got] == [b"from afar"]
