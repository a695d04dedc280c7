"""Redis going away: clear errors for producers, and a worker that waits, reconnects and
loses nothing. Each test runs its own persistent redis-server so it can stop it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio as aioredis

from celeriac.core import App, BrokerError, RedisBroker, Task
from celeriac.core.message import TaskMessage
from tests.core.worker.helpers import running_worker
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    srv = RedisServer.start(persistent=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def app(server: RedisServer, prefix: str) -> AsyncIterator[App]:
    application = App(RedisBroker(server.url, prefix=prefix))
    try:
        yield application
    finally:
        application.close()
        await application.aclose()


async def test_producers_get_a_clear_error_when_redis_is_down(prefix: str) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    application = App(RedisBroker(url, prefix=prefix))

    @application.task
    async def noop() -> None:
        pass

    with pytest.raises(
        BrokerError, match=r"cannot reach Redis at redis://:\*\*\*@127\.0\.0\.1"
    ) as err:
        await noop.enqueue()
    assert "hunter2" not in str(err.value)
    with pytest.raises(BrokerError, match="is redis-server running"):
        await anyio.to_thread.run_sync(noop.enqueue_sync)
    application.close()
    await application.aclose()


async def test_worker_waits_for_redis_and_then_runs_the_queue(
    app: App, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    handle = await add.enqueue(1, 2)
    server.pause()
    with caplog.at_level(logging.INFO, logger="celeriac"):
        async with running_worker(app, limit=30):
            with anyio.fail_after(10):
                while "Cannot fetch from" not in caplog.text:
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(server.resume)
            assert await handle.result(timeout=15) == 3
    assert "Trying again in" in caplog.text
    assert "Connected to" in caplog.text


async def test_outcomes_are_kept_until_redis_is_back(
    app: App, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    started = anyio.Event()
    release = anyio.Event()

    @app.task
    async def slow(x: int) -> int:
        started.set()
        await release.wait()
        return x * 10

    handle = await slow.enqueue(4)
    with caplog.at_level(logging.INFO, logger="celeriac"):
        async with running_worker(app, limit=30):
            with anyio.fail_after(5):
                await started.wait()
            await anyio.to_thread.run_sync(server.pause)
            release.set()
            with anyio.fail_after(10):
                while "Cannot record 1 task outcome(s)" not in caplog.text:
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(server.resume)
            assert await handle.result(timeout=15) == 40
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (0, 0)
    assert "after reconnecting" in caplog.text


async def test_result_keys_expire_after_a_day_by_default(app: App, server: RedisServer) -> None:
    @app.task
    async def value() -> int:
        return 1

    handle = await value.enqueue()
    async with running_worker(app):
        await handle.result(timeout=5)
    client = aioredis.Redis.from_url(server.url)
    try:
        assert isinstance(app.broker, RedisBroker)
        ttl = await client.pttl(app.broker.keys.result(handle.id))
    finally:
        await client.aclose()
    assert 86_000_000 < ttl <= 86_400_000


async def test_enqueue_many_is_one_round_trip(app: App, server: RedisServer) -> None:
    @app.task
    async def noop(n: int) -> None:
        pass

    client = aioredis.Redis.from_url(server.url)
    try:
        await app.enqueue_many([noop.message(0)])  # scripts loaded, connection open
        before = await client.info("commandstats")
        await app.enqueue_many([noop.message(n) for n in range(900)])
        after = await client.info("commandstats")
    finally:
        await client.aclose()

    def calls(command: str) -> int:
        return after[f"cmdstat_{command}"]["calls"] - before.get(f"cmdstat_{command}", {}).get(
            "calls", 0
        )

    # commands run inside a script count too: 900 XADDs inside two EVALSHAs (1,800
    # operations, split so that no script runs long), both sent in one pipeline
    assert (calls("evalsha"), calls("xadd"), calls("hset")) == (2, 900, 900)
    assert (await app.broker.stats(app.default_queue)).ready == 901


async def test_a_hung_redis_is_a_clear_error_after_a_bounded_wait(
    server: RedisServer, prefix: str
) -> None:
    application = App(RedisBroker(server.url, prefix=prefix, client_options={"socket_timeout": 1}))

    @application.task
    async def noop() -> None:
        pass

    await noop.enqueue()  # connected
    server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(BrokerError, match="cannot reach Redis"):
            await noop.enqueue()
        with pytest.raises(BrokerError, match="cannot reach Redis"):
            await anyio.to_thread.run_sync(noop.enqueue_sync)
        assert time.monotonic() - started < 10
    finally:
        server.thaw()
    application.close()
    await application.aclose()


async def test_the_worker_rides_out_a_hung_redis(
    server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    application = App(RedisBroker(server.url, prefix=prefix, client_options={"socket_timeout": 1}))

    @application.task
    async def add(x: int) -> int:
        return x + 1

    handles = await application.enqueue_many([add.message(n) for n in range(20)])
    with caplog.at_level(logging.INFO, logger="celeriac"):
        async with running_worker(application, limit=60, block=0.2):
            await handles[0].result(timeout=10)
            server.freeze()
            more = await _enqueue_after(application, add, server)
            assert [await h.result(timeout=20) for h in [*handles, *more]] == list(range(1, 26))
    assert "Trying again in" in caplog.text
    application.close()
    await application.aclose()


async def _enqueue_after(application: App, add: Task[[int], int], server: RedisServer) -> list[Any]:
    """Hold Redis frozen for a while, then send more work once it is back."""
    await anyio.sleep(2.5)
    server.thaw()
    return await application.enqueue_many([add.message(n) for n in range(20, 25)])


def test_redis_restarted_mid_batch_the_worker_finishes_everything(
    server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    """A worker process, Redis killed and started again on the same port (AOF keeps the
    data): the worker reconnects by itself and every task completes."""
    application = App(RedisBroker(server.url, prefix=prefix))
    tally = redis.Redis.from_url(server.url, decode_responses=True)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "tests.worker_process", "--url", server.url]
        worker = subprocess.Popen(
            [*argv, "--prefix", prefix], stdout=log, stderr=log, env=env, cwd=ROOT
        )
    runs = f"{prefix}:runs"
    try:
        application.send_sync([TaskMessage("record", (str(i), 0.01)) for i in range(300)])
        _until(lambda: tally.hlen(runs) >= 50, 30)
        server.pause()  # Redis goes away mid-batch...
        time.sleep(1.5)
        server.resume()  # ...and comes back with its data
        _until(lambda: tally.hlen(runs) == 300, 60, log_path)
        assert worker.poll() is None  # it never gave up
    finally:
        worker.kill()
        worker.wait(10)
        tally.close()
        application.close()
    text = log_path.read_text(errors="replace")
    assert "Cannot fetch from" in text or "Cannot record" in text
    assert "Connected to" in text or "after reconnecting" in text


def _until(condition: Any, seconds: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"timed out after {seconds}s\n{tail}")
        time.sleep(0.05)
