"""The events publisher is best effort: Redis going away neither fails nor slows tasks,
held events go out once it is back (the oldest dropped past the limit), and a stop
sends what is left without waiting long. Tests that stop Redis run their own server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from celeriac.core import App, MemoryBroker, RedisBroker, TaskEvent
from celeriac.core.message import TaskMessage
from celeriac.core.worker.events import FINAL_FLUSH, EventPublisher, publishing
from tests.core.worker.helpers import drain, running_worker
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[RedisServer]:
    srv = RedisServer.start(persistent=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def broker(server: RedisServer, prefix: str) -> AsyncIterator[RedisBroker]:
    redis_broker = RedisBroker(server.url, prefix=prefix, client_options={"socket_timeout": 10})
    try:
        yield redis_broker
    finally:
        await redis_broker.aclose()
        redis_broker.sync().close()


async def stored(broker: RedisBroker | MemoryBroker) -> list[TaskEvent]:
    return [TaskEvent.decode(data, id) for id, data in await broker.read_events("0", 100, 0)]


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and text in r.getMessage()
    ]


async def test_redis_down_fails_no_task_and_the_events_follow(
    broker: RedisBroker, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = App(broker)
    started, release = anyio.Event(), anyio.Event()

    @app.task
    async def slow(x: int) -> int:
        started.set()
        await release.wait()
        return x * 10

    handle = await slow.enqueue(4)
    with caplog.at_level(logging.INFO, logger="celeriac"):
        async with running_worker(app, limit=40, events=True):
            with anyio.fail_after(5):
                await started.wait()
            await anyio.to_thread.run_sync(server.pause)
            release.set()
            with anyio.fail_after(10):
                while "Cannot publish task events" not in caplog.text:
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(server.resume)
            assert await handle.result(timeout=15) == 40
            with anyio.fail_after(15):  # the publisher's next try (it backs off)
                while len(await stored(broker)) < 3:
                    await anyio.sleep(0.1)
    assert [e.type for e in await stored(broker)] == [
        "task-received",
        "task-started",
        "task-succeeded",
    ]
    (warning,) = warnings_about(caplog, "Task events could not be published")
    assert "0 dropped" in warning


async def test_past_the_limit_the_oldest_are_dropped(
    broker: RedisBroker, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    await broker.publish_events([])  # connected once
    publisher = EventPublisher(broker, "w@host#1", limit=3)
    await anyio.to_thread.run_sync(server.pause)
    for n in range(5):
        publisher.received(TaskMessage("tasks.add", (n,)))
    assert len(publisher) == 3
    with caplog.at_level(logging.INFO, logger="celeriac"), anyio.fail_after(30):
        await publisher.flush()  # Redis is down: kept
        assert len(publisher) == 3
        await anyio.to_thread.run_sync(server.resume)
        await publisher.flush()
    assert len(publisher) == 0
    assert [e.fields["args"] for e in await stored(broker)] == ["(2,)", "(3,)", "(4,)"]
    (warning,) = warnings_about(caplog, "Task events could not be published")
    assert "2 dropped" in warning


async def test_a_stop_sends_what_is_left() -> None:
    broker = MemoryBroker()
    async with publishing(broker, "w", enabled=True) as publisher:
        assert publisher is not None
        for n in range(3):  # no pause here: the periodic flush has no chance to run
            publisher.started(TaskMessage("tasks.add", id=f"id-{n}"))
    assert [e.task_id for e in await stored(broker)] == ["id-0", "id-1", "id-2"]
    async with publishing(broker, "w", enabled=False) as nothing:
        assert nothing is None


async def test_a_stop_with_redis_hung_is_bounded_and_tells_the_loss(
    broker: RedisBroker, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    await broker.publish_events([])  # connected: a frozen Redis now hangs the calls
    server.freeze()
    try:
        with caplog.at_level(logging.WARNING, logger="celeriac"):
            # a flush may be under way at the stop: both it and the last get FINAL_FLUSH
            with anyio.fail_after(2 * FINAL_FLUSH + 3):  # far below the socket timeout
                async with publishing(broker, "w", enabled=True) as publisher:
                    assert publisher is not None
                    publisher.started(TaskMessage("tasks.add"))
                    await anyio.sleep(0.3)  # a flush starts and hangs
                    publisher.started(TaskMessage("tasks.add"))
    finally:
        server.thaw()
    (warning,) = warnings_about(caplog, "could not be published before the worker stopped")
    assert warning.startswith("2 task event(s)")


async def test_a_value_whose_repr_fails_does_not_fail_the_task() -> None:
    app = App(MemoryBroker())

    class Sneaky(int):
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    @app.task
    async def sneaky() -> int:
        return Sneaky(5)

    handle = await sneaky.enqueue()
    await drain(app, events=True)
    assert await handle.result(timeout=1) == 5
    succeeded = (await stored(app.broker))[-1]  # type: ignore[arg-type]
    assert succeeded.type == "task-succeeded"
    assert succeeded.fields["result"].startswith("<Sneaky instance at")
