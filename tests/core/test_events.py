"""Task events: what a worker run with ``events=True`` tells, in order, for each outcome,
and how ``app.events()`` reads them. On every broker."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
import pytest

from celeriac.core import (
    App,
    ConfigurationError,
    DecodeError,
    EncodeError,
    Retry,
    TaskEvent,
    TaskRevoked,
)
from celeriac.core.broker.base import event_id_key
from celeriac.core.events import EVENT_TYPES
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import drain, running_worker

pytestmark = pytest.mark.anyio


async def stored(app: App) -> list[TaskEvent]:
    """Every event kept, read without waiting."""
    with anyio.fail_after(10):
        return [event async for event in app.events("0", timeout=0)]


def types(events: list[TaskEvent]) -> list[str]:
    return [event.type.removeprefix("task-") for event in events]


def check_common(events: list[TaskEvent], task_id: str, name: str, worker: str) -> None:
    """Every event names the task and the worker; ids and times go forward."""
    assert {(e.task_id, e.name, e.queue, e.worker) for e in events} == {
        (task_id, name, "default", worker)
    }
    keys = [event_id_key(e.id) for e in events]
    assert keys == sorted(set(keys))
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    assert time.time() - 60 < times[0] <= time.time()


async def test_a_succeeding_task(app: App) -> None:
    @app.task
    async def add(x: int, y: int, *, z: int = 0) -> int:
        return x + y + z

    handle = await add.options(expires=600).enqueue(2, 3, z=1)
    worker = await drain(app, events=True)
    events = await stored(app)
    assert types(events) == ["received", "started", "succeeded"]
    check_common(events, handle.id, add.name, worker.consumer)
    received, started, succeeded = (dict(e.fields) for e in events)
    expires = received.pop("expires")
    assert time.time() < expires < time.time() + 600
    assert received == {
        "args": "(2, 3)",
        "kwargs": "{'z': 1}",
        "retries": 0,
        "eta": None,
        "root_id": handle.id,
        "parent_id": None,
    }
    assert started == {}
    assert succeeded.pop("result") == "6"
    assert 0 <= succeeded.pop("runtime") < 10
    assert succeeded == {}


async def test_a_failing_task(app: App) -> None:
    @app.task
    async def boom() -> None:
        raise ValueError("no luck")

    handle = await boom.enqueue()
    worker = await drain(app, events=True)
    events = await stored(app)
    assert types(events) == ["received", "started", "failed"]
    check_common(events, handle.id, boom.name, worker.consumer)
    failed = events[2].fields
    assert failed["exception"] == "ValueError('no luck')"
    assert failed["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise ValueError("no luck")' in failed["traceback"]


async def test_a_retrying_task(app: App) -> None:
    runs: list[int] = []

    @app.task
    async def flaky() -> str:
        runs.append(1)
        if len(runs) == 1:
            try:
                raise ConnectionError("try later")
            except ConnectionError as exc:
                raise Retry(delay=0, exc=exc) from exc
        return "ok"

    handle = await flaky.enqueue()
    worker = await drain(app, events=True)
    events = await stored(app)
    assert types(events) == ["received", "started", "retried", "received", "started", "succeeded"]
    check_common(events, handle.id, flaky.name, worker.consumer)
    retried = events[2].fields
    assert retried["exception"] == "ConnectionError('try later')"
    assert "ConnectionError: try later" in retried["traceback"]
    assert [e.fields["retries"] for e in events if e.type == "task-received"] == [0, 1]
    assert events[5].fields["result"] == "'ok'"


async def test_a_bare_retry_has_no_traceback(app: App) -> None:
    @app.task(max_retries=0)
    async def again() -> None:
        raise Retry(delay=0)

    await again.enqueue()
    await drain(app, events=True)
    events = await stored(app)
    assert types(events) == ["received", "started", "failed"]  # no retries left
    assert "MaxRetriesExceeded" in events[2].fields["exception"]

    @app.task
    async def once() -> None:
        raise Retry(delay=3600)

    await once.enqueue()
    await drain(app, events=True, max_tasks=1)
    retried = (await stored(app))[-1]
    assert retried.type == "task-retried"
    assert retried.fields == {"exception": "Retry('Retry in 3600s')", "traceback": None}


async def test_revoked_before_it_ran(app: App) -> None:
    @app.task
    async def doomed() -> None:
        pass

    handle = await doomed.enqueue()
    await handle.revoke()
    worker = await drain(app, events=True)
    events = await stored(app)
    assert types(events) == ["received", "revoked"]
    check_common(events, handle.id, doomed.name, worker.consumer)
    assert events[1].fields == {"terminated": False, "expired": False}


async def test_revoked_while_running(app: App) -> None:
    started = anyio.Event()

    @app.task
    async def long() -> None:
        started.set()
        await anyio.sleep(30)

    handle = await long.enqueue()
    async with running_worker(app, events=True) as worker:
        await started.wait()
        await handle.revoke()
        with pytest.raises(TaskRevoked, match="revoked while running"):
            await handle.result(timeout=5)
    events = await stored(app)
    assert types(events) == ["received", "started", "revoked"]
    check_common(events, handle.id, long.name, worker.consumer)
    assert events[2].fields == {"terminated": True, "expired": False}


async def test_expired_before_it_ran(app: App) -> None:
    @app.task
    async def stale() -> None:
        pass

    handle = await stale.options(expires=-1).enqueue()
    await drain(app, events=True)
    events = await stored(app)
    assert types(events) == ["received", "revoked"]
    assert events[1].task_id == handle.id
    assert events[1].fields == {"terminated": False, "expired": True}


async def test_no_events_unless_asked(app: App) -> None:
    @app.task
    async def boom() -> None:
        raise ValueError("no")

    await app.enqueue_many([boom.message() for _ in range(3)])
    worker = await drain(app)
    assert worker.counters.failed == 3
    assert await app.broker.read_events("0", 100, 0) == []
    assert await stored(app) == []


async def test_reading_from_the_oldest_or_only_new_ones(app: App) -> None:
    @app.task
    async def noop(n: int) -> None:
        pass

    await noop.enqueue(1)
    await drain(app, events=True)
    old = await stored(app)
    assert len(old) == 3
    with anyio.fail_after(5):
        assert [e async for e in app.events(timeout=0.2)] == []  # "$": nothing new came
        assert [e async for e in app.events(old[0].id, timeout=0)] == old[1:]

    seen: list[TaskEvent] = []

    async def watch() -> None:
        async for event in app.events(timeout=10):  # "$", pinned before the task is sent
            seen.append(event)
            if event.type == "task-succeeded":
                return

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await anyio.sleep(0.2)
            handle = await noop.enqueue(2)
            await drain(app, events=True)
    assert types(seen) == ["received", "started", "succeeded"]
    assert {e.task_id for e in seen} == {handle.id}
    assert await stored(app) == [*old, *seen]


async def test_the_iteration_ends_after_its_timeout_without_events(app: App) -> None:
    begun = time.monotonic()
    with anyio.fail_after(5):
        assert [e async for e in app.events("0", timeout=0.3)] == []
    assert time.monotonic() - begun >= 0.3


async def test_an_unreadable_entry_is_skipped_with_a_warning(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    good = TaskEvent("task-started", "t1", "tasks.add", "default", "w1", 1.0)
    bad = json.dumps({"type": "task-started", "task_id": 7}).encode()
    await app.broker.publish_events([b"\xff not json", bad, good.encode()])
    with caplog.at_level(logging.WARNING, logger="celeriac"):
        (read,) = await stored(app)
    assert (read.type, read.task_id, read.timestamp) == ("task-started", "t1", 1.0)
    skipped = [r.getMessage() for r in caplog.records if "Skipping task event" in r.getMessage()]
    assert len(skipped) == 2
    assert "is not JSON" in skipped[0]
    assert "'task_id'" in skipped[1]


async def test_a_malformed_start_is_refused_at_once(app: App) -> None:
    with pytest.raises(ConfigurationError, match="invalid event id 'yesterday'"):
        app.events("yesterday")


# -- the record -------------------------------------------------------------------------


def test_encode_and_decode_round_trip() -> None:
    fields: dict[str, Any] = {"args": "(1,)", "eta": None, "retries": 2, "custom": [1, 2]}
    event = TaskEvent("task-received", "id-1", "tasks.add", "q", "w@h#1", 12.5, fields)
    again = TaskEvent.decode(event.encode(), id="5-0")
    assert again == TaskEvent(
        "task-received", "id-1", "tasks.add", "q", "w@h#1", 12.5, fields, "5-0"
    )
    assert TaskEvent.decode(event.encode()).id == ""
    assert "id" not in json.loads(event.encode())


def test_encode_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(EncodeError, match="unknown task event type 'task-sent'"):
        TaskEvent("task-sent", "i", "n", "q", "w").encode()
    with pytest.raises(EncodeError, match="cannot be encoded as JSON"):
        TaskEvent("task-started", "i", "n", "q", "w", fields={"x": object()}).encode()


GOOD: dict[str, Any] = {
    "type": "task-succeeded",
    "task_id": "i",
    "name": "n",
    "queue": "q",
    "worker": "w",
    "timestamp": 1.5,
    "fields": {"result": "1", "runtime": 0.25},
}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"type": "task-sent"}, "'type' must be one of"),
        ({"type": None}, "'type' must be one of"),
        ({"task_id": ""}, "'task_id' must be a non-empty string"),
        ({"name": 3}, "'name' must be a non-empty string"),
        ({"queue": None}, "'queue' must be a non-empty string"),
        ({"worker": ["w"]}, "'worker' must be a non-empty string"),
        ({"timestamp": None}, "'timestamp' must be a number"),
        ({"timestamp": "now"}, "'timestamp' has type str"),
        ({"timestamp": True}, "'timestamp' must be a number"),
        ({"fields": []}, "'fields' must be a mapping"),
        ({"fields": {"runtime": "fast"}}, "'runtime' has type str, not int or float"),
        ({"fields": {"runtime": None}}, "'runtime' has type NoneType"),
        ({"fields": {"retries": True}}, "'retries' has type bool, not int"),
        ({"fields": {"retries": 1.5}}, "'retries' has type float, not int"),
        ({"fields": {"terminated": 1}}, "'terminated' has type int, not bool"),
        ({"fields": {"args": ["a"]}}, "'args' has type list, not str"),
    ],
)
def test_decode_names_the_bad_field(change: dict[str, Any], error: str) -> None:
    data = json.dumps({**GOOD, **change}).encode()
    with pytest.raises(DecodeError, match=error):
        TaskEvent.decode(data)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff\xfe", "is not JSON"),
        (b"{", "is not JSON"),
        (b"[1, 2]", "must be a mapping, got list"),
    ],
)
def test_decode_refuses_what_is_no_event(data: bytes, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        TaskEvent.decode(data)


def test_every_celery_task_event_name() -> None:
    assert EVENT_TYPES == (
        "task-received",
        "task-started",
        "task-succeeded",
        "task-failed",
        "task-retried",
        "task-revoked",
    )
    for kind in EVENT_TYPES:
        assert TaskEvent.decode(TaskEvent(kind, "i", "n", "q", "w").encode()).type == kind
