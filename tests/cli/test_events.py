"""``celeriac events``: task events from workers run with -E, one line each (--dump or
not a terminal), or a live view of the latest tasks."""

from __future__ import annotations

import threading
from typing import Any

from click.testing import CliRunner

from celeriac.cli.events import View
from celeriac.cli.main import cli
from celeriac.compat import testing
from celeriac.compat.worker import WorkerOptions, make_worker
from celeriac.core.events import TaskEvent
from tests.compat.conftest import make_app


def test_dump_prints_each_event_of_a_task(redis_url: str, prefix: str) -> None:
    app = make_app(redis_url, prefix)
    ran = threading.Event()

    @app.task(name="tests.add")
    def add(x: int, y: int) -> int:
        ran.set()
        return x + y

    options = WorkerOptions(pool="threads", concurrency=1, hostname="ev@test", events=True)
    worker = testing.TestWorkController(app, make_worker(app, options))
    worker.start()
    try:
        sent = add.delay(2, 3)
        assert sent.get(timeout=10) == 5
    finally:
        worker.stop()
    shown = CliRunner().invoke(
        cli, ["events", "--dump", "--from-start", "--timeout", "0.5"], obj={"app": app}
    )
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if sent.id in line]
    kinds = [line.split("] ", 1)[1].split(":", 1)[0] for line in lines]
    assert kinds == ["task-received", "task-started", "task-succeeded"]
    assert f"tests.add[{sent.id}]" in lines[-1] and "result=5" in lines[-1]
    app.close()


def test_the_live_view_keeps_the_latest_tasks() -> None:
    view = View()
    for n in range(25):
        base: dict[str, Any] = {"task_id": f"id-{n}", "name": "t.add", "queue": "q"}
        view.add(TaskEvent("task-received", worker="w1", **base))
        view.add(TaskEvent("task-succeeded", worker="w1", fields={"runtime": 0.5}, **base))
    shown = view.render()
    assert shown.startswith("celeriac events: 50 events from 1 worker(s)")
    assert "id-24" in shown and "id-4 " not in shown  # the latest 20
    assert "SUCCESS" in shown and "0.5000s" in shown


def test_camera_is_refused() -> None:
    app = make_app("memory://", "p")
    refused = CliRunner().invoke(cli, ["events", "-c", "myapp.Camera"], obj={"app": app})
    assert refused.exit_code == 2 and "--camera is not supported" in refused.output
