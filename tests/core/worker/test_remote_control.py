"""Remote control over the broker: requests on the control channel, replies in a list;
on every broker."""

from __future__ import annotations

import time

import anyio
import pytest

from celeriac.core import App, TimeLimitExceeded
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import running_worker

pytestmark = pytest.mark.anyio


async def _answering(app: App, count: int = 1) -> None:
    """Until ``count`` workers answer (a worker listens once it has started)."""
    with anyio.fail_after(10):
        while len(await app.control("ping", timeout=0.5)) < count:
            await anyio.sleep(0.05)


async def test_no_worker_no_reply(app: App) -> None:
    started = time.monotonic()
    assert await app.control("ping", timeout=0.5) == []
    assert time.monotonic() - started < 1.5  # at once where the broker counts listeners


async def test_a_worker_answers_what_it_runs_holds_and_knows(app: App) -> None:
    release = anyio.Event()

    @app.task
    async def slow(n: int) -> int:
        await release.wait()
        return n

    async with running_worker(app, concurrency=1, prefetch=2, name="w1@test") as worker:
        await _answering(app)
        first = await slow.enqueue(1)
        await slow.enqueue(2)
        with anyio.fail_after(5):
            while not (await app.control("active", timeout=1) or [{"reply": []}])[0]["reply"]:
                await anyio.sleep(0.05)
        (pong,) = await app.control("ping", timeout=2)
        assert pong == {"worker": "w1@test", "reply": "pong"}
        (active,) = await app.control("active", timeout=2)
        assert [t["id"] for t in active["reply"]] == [first.id]
        assert active["reply"][0]["name"] == slow.name and active["reply"][0]["args"] == [1]
        assert active["reply"][0]["time_start"] > 0
        (reserved,) = await app.control("reserved", timeout=2)
        assert [t["args"] for t in reserved["reply"]] == [[2]]
        (registered,) = await app.control("registered", timeout=2)
        assert slow.name in registered["reply"]
        (queues,) = await app.control("active_queues", timeout=2)
        assert queues["reply"] == [app.default_queue]
        (stats,) = await app.control("stats", timeout=2)
        assert stats["reply"]["name"] == "w1@test" and stats["reply"]["active"] == 1
        (queried,) = await app.control("query_task", {"ids": [first.id, "other"]}, timeout=2)
        assert list(queried["reply"]) == [first.id] and queried["reply"][first.id][0] == "active"
        await app.revoke("never-sent-id")
        (revoked,) = await app.control("revoked", timeout=2)
        assert "never-sent-id" in revoked["reply"]
        (unknown,) = await app.control("make_coffee", timeout=2)
        assert unknown["error"] == "LookupError: unknown control request 'make_coffee'"
        release.set()
        assert await first.result(timeout=5) == 1
        del worker


async def test_destination_and_shutdown(app: App) -> None:
    async with running_worker(app, name="a@test"), running_worker(app, name="b@test"):
        await _answering(app, 2)
        both = await app.control("ping", timeout=2)
        assert [r["worker"] for r in both] == ["a@test", "b@test"]
        only = await app.control("ping", destination=["b@test"], timeout=2)
        assert [r["worker"] for r in only] == ["b@test"]
        (stopping,) = await app.control("shutdown", destination=["a@test"], timeout=2)
        assert stopping["reply"] == "shutting down"
        with anyio.fail_after(10):
            while [r["worker"] for r in await app.control("ping", timeout=1)] != ["b@test"]:
                await anyio.sleep(0.1)


async def test_limits_and_queues_change_at_run_time(app: App) -> None:
    @app.task
    async def nap(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "rested"

    async with running_worker(app, name="w@test"):
        await _answering(app)
        (limited,) = await app.control("rate_limit", {"task": nap.name, "per_second": 5})
        assert limited["reply"] == "new rate limit set successfully"
        assert app.tasks[nap.name].rate_limit == 5.0
        (timed,) = await app.control("time_limit", {"task": nap.name, "hard": 0.3})
        assert timed["reply"] == "time limits set successfully"
        stopped = await nap.enqueue(5)
        with pytest.raises(TimeLimitExceeded):
            await stopped.result(timeout=5)
        (unknown,) = await app.control("rate_limit", {"task": "nope", "per_second": 1})
        assert unknown["error"] == "LookupError: unknown task 'nope'"

        elsewhere = await nap.options(queue="extra").enqueue(0)
        await anyio.sleep(0.3)
        assert await elsewhere.state() == "PENDING"  # nobody reads "extra" yet
        (added,) = await app.control("add_consumer", {"queue": "extra"})
        assert added["reply"] == "add consumer extra"
        assert await elsewhere.result(timeout=5) == "rested"
        (queues,) = await app.control("active_queues")
        assert queues["reply"] == [app.default_queue, "extra"]
        (cancelled,) = await app.control("cancel_consumer", {"queue": app.default_queue})
        assert cancelled["reply"] == f"no longer consuming from {app.default_queue}"
        (last,) = await app.control("cancel_consumer", {"queue": "extra"})
        assert "the last queue" in last["error"]
        await anyio.sleep(0.5)  # a fetch already waiting on the queue may still take one
        ignored = await nap.enqueue(0)
        await anyio.sleep(0.3)
        assert await ignored.state() == "PENDING"
        await app.control("add_consumer", {"queue": app.default_queue})
        assert await ignored.result(timeout=5) == "rested"
