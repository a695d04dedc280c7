"""The sample project under ``celeriac -A celeriac.demo.celery worker -B`` on real Redis,
as operators run it: beat's ticks run, remote control answers, and SIGTERM in the middle
of a task lets it finish before the worker exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def project(redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CELERIAC_BROKER_URL", redis_url)
    monkeypatch.setenv("CELERIAC_DEMO_PREFIX", prefix)
    for name in [m for m in sys.modules if m.startswith("celeriac.demo")]:
        sys.modules.pop(name)
    from celeriac.demo import celery, tasks

    try:
        yield celery.app, tasks
    finally:
        celery.app.close()
        for name in [m for m in sys.modules if m.startswith("celeriac.demo")]:
            sys.modules.pop(name)


def test_worker_with_beat_answers_and_stops_warm(project: Any, tmp_path: Any) -> None:
    app, tasks = project
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celeriac", "-A", "celeriac.demo.celery", "worker", "-B"]
    command += ["-P", "threads", "-c", "2", "-Q", "celery,text", "-n", "sample@%h"]
    command += ["-l", "INFO", "-f", str(log)]
    out = tmp_path / "worker.out"
    with out.open("wb") as sink:
        worker = subprocess.Popen(command, env=dict(os.environ), stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(timeout=0.5):
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
        (name,) = app.control.inspect().ping()
        assert name.startswith("sample@")
        while (app.control.inspect().stats() or {}).get(name, {}).get("counters", {}).get(
            "succeeded", 0
        ) < 2:  # beat's heartbeat, every second
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert tasks.add.delay(2, 3).get(timeout=10) == 5
        long = tasks.pause.delay(1.5)
        while not (app.control.inspect().active() or {}).get(name):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)  # in the middle of the task
        assert worker.wait(timeout=30) == 0
        assert long.get(timeout=5) == 1.5  # finished before the worker left
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    banner = out.read_text()
    assert "[config]" in banner and "celeriac.demo.tasks.pause" in banner
    text = log.read_text()
    assert "Scheduler: Sending due task heartbeat (celeriac.demo.tasks.heartbeat)" in text
    assert "Warm shutdown" in text
