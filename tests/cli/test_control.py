"""``celeriac inspect``, ``control`` and ``status``, and ``app.control``'s remote control,
with a worker running in a thread on the private Redis."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from celeriac.cli.main import cli
from celeriac.compat import testing
from celeriac.compat.app import Celery
from celeriac.compat.worker import WorkerOptions, make_worker
from tests.compat.conftest import make_app


def _invoke(app: Celery, *argv: str) -> Any:
    return CliRunner().invoke(cli, list(argv), obj={"app": app})


@pytest.fixture
def served(redis_url: str, prefix: str) -> Iterator[tuple[Celery, threading.Event]]:
    app = make_app(redis_url, prefix)
    release = threading.Event()

    @app.task(name="tests.wait")
    def wait() -> str:
        release.wait(10)
        return "done"

    options = WorkerOptions(pool="threads", concurrency=2, hostname="w1@test")
    worker = testing.TestWorkController(app, make_worker(app, options))
    worker.start()
    try:
        for _ in range(100):  # it answers once subscribed to the control channel
            if app.control.ping(timeout=0.2):
                break
        yield app, release
    finally:
        release.set()
        worker.stop()
        app.close()


def test_status_and_inspect_print_as_celery(served: tuple[Celery, threading.Event]) -> None:
    app, release = served
    shown = _invoke(app, "status")
    assert (shown.exit_code, shown.output) == (0, "->  w1@test: OK\n\n1 node online.\n")
    ping = _invoke(app, "inspect", "ping")
    assert ping.output == "->  w1@test: OK\n        pong\n\n1 node online.\n"
    queues = _invoke(app, "inspect", "active_queues")
    assert "    * {'name': 'celery', 'exchange': {'name': 'celery'" in queues.output
    registered = _invoke(app, "inspect", "registered")
    assert "    * tests.wait\n" in registered.output and "celery.map" not in registered.output
    assert '"max-concurrency": 2' in _invoke(app, "inspect", "stats").output
    running = app.send_task("tests.wait")
    for _ in range(100):
        active = app.control.inspect(timeout=1).active() or {}
        if active.get("w1@test"):
            break
    (task,) = active["w1@test"]
    assert (task["id"], task["name"], task["hostname"]) == (running.id, "tests.wait", "w1@test")
    queried = json.loads(_invoke(app, "inspect", "query_task", running.id, "--json").output)
    assert queried["w1@test"][running.id][0] == "active"
    assert app.control.ping() == [{"w1@test": {"ok": "pong"}}]
    assert app.control.inspect(destination=["elsewhere@test"], timeout=0.3).ping() is None
    release.set()
    assert running.get(timeout=10) == "done"
    assert app.control.inspect().reserved() == {"w1@test": []}
    assert app.control.inspect().scheduled() == {"w1@test": []}
    later = app.send_task("tests.wait", countdown=600, priority=3)
    other = app.send_task("tests.wait", countdown=600, queue="elsewhere")  # no one reads it
    (entry,) = (app.control.inspect().scheduled() or {})["w1@test"]
    assert entry["request"]["id"] == later.id and entry["request"]["hostname"] == "w1@test"
    eta = dt.datetime.fromisoformat(entry["eta"])
    assert 590 < (eta - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 600
    assert entry["request"]["delivery_info"]["routing_key"] == "celery"
    shown = _invoke(app, "inspect", "scheduled")
    assert later.id in shown.output and other.id not in shown.output
    later.revoke()
    other.revoke()


def test_control_shutdown_stops_the_worker(served: tuple[Celery, threading.Event]) -> None:
    app, _ = served
    stopped = _invoke(app, "control", "shutdown")
    assert stopped.output == "->  w1@test: OK\n        shutting down\n\n1 node online.\n"
    deadline = time.monotonic() + 15
    while app.control.ping(timeout=0.2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert app.control.ping(timeout=0.2) == []


def test_no_worker_answers(prefix: str, redis_url: str) -> None:
    app = make_app(redis_url, prefix)
    for argv in (["status"], ["inspect", "ping", "-t", "0.2"], ["control", "shutdown"]):
        none = _invoke(app, *argv)
        assert none.exit_code == 69
        assert "No nodes replied within time constraint" in none.output
    unknown = _invoke(app, "inspect", "make_coffee")
    assert unknown.exit_code == 2
    app.close()


def test_control_commands_change_the_running_worker(served: tuple[Celery, threading.Event]) -> None:
    app, _ = served
    limited = _invoke(app, "control", "rate_limit", "tests.wait", "10/m")
    assert (
        limited.output
        == "->  w1@test: OK\n        new rate limit set successfully\n\n1 node online.\n"
    )
    assert app.core.tasks["tests.wait"].rate_limit == 10 / 60
    timed = _invoke(app, "control", "time_limit", "tests.wait", "1", "2")
    assert "time limits set successfully" in timed.output
    added = _invoke(app, "control", "add_consumer", "extra")
    assert "        add consumer extra\n" in added.output
    queues = app.control.inspect().active_queues() or {}
    assert [q["name"] for q in queues["w1@test"]] == ["celery", "extra"]
    cancelled = app.control.cancel_consumer("extra", reply=True)
    assert cancelled == [{"w1@test": {"ok": "no longer consuming from extra"}}]
    refused = _invoke(app, "control", "cancel_consumer", "celery")
    assert "ERROR" in refused.output and "the last queue" in refused.output
    unknown = _invoke(app, "control", "rate_limit", "nope", "1/s")
    assert "LookupError: unknown task 'nope'" in unknown.output
    wrong = _invoke(app, "control", "rate_limit", "tests.wait")
    assert wrong.exit_code == 2 and "takes: TASK_NAME RATE_LIMIT" in wrong.output


def test_control_pool_grow_shrink_and_autoscale(served: tuple[Celery, threading.Event]) -> None:
    app, _ = served

    def pool_size() -> int:
        stats = app.control.inspect().stats() or {}
        size: int = stats["w1@test"]["pool"]["max-concurrency"]
        return size

    grown = _invoke(app, "control", "pool_grow", "3")
    assert grown.output == "->  w1@test: OK\n        pool will grow\n\n1 node online.\n"
    assert pool_size() == 5
    assert "pool will shrink" in _invoke(app, "control", "pool_shrink").output
    assert pool_size() == 4
    assert app.control.pool_shrink(2, reply=True) == [{"w1@test": {"ok": "pool will shrink"}}]
    assert app.control.pool_grow(reply=True) == [{"w1@test": {"ok": "pool will grow"}}]
    assert pool_size() == 3
    refused = _invoke(app, "control", "autoscale", "10", "2")
    assert "ERROR" in refused.output and "Autoscale not enabled" in refused.output
    assert app.control.autoscale(10, 2, reply=True) == [
        {"w1@test": {"error": "ValueError: Autoscale not enabled"}}
    ]
    wrong = _invoke(app, "control", "pool_grow", "two")
    assert wrong.exit_code == 2 and "invalid literal for int()" in wrong.output
    usage = _invoke(app, "control", "autoscale")
    assert usage.exit_code == 2 and "takes: MAX [MIN]" in usage.output


def test_control_revoke(served: tuple[Celery, threading.Event]) -> None:
    app, _ = served
    later = app.send_task("tests.wait", countdown=60)
    revoked = _invoke(app, "control", "revoke", later.id, "--terminate")
    assert revoked.output == f"tasks flagged as revoked: {later.id}\n"
    assert later.state == "REVOKED"
    assert _invoke(app, "control", "revoke").exit_code == 2
