"""Canvas at scale and through a crash, on real Redis: a 10,000-task chord header, a
1,000-step chain, and a chord whose worker is killed (SIGKILL) in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from celeriac import chain, chord
from celeriac.compat.app import Celery
from tests.compat.conftest import drain

pytestmark = pytest.mark.slow


def test_a_chord_with_a_10000_task_header(redis_app: Celery) -> None:
    @redis_app.task
    def double(x: int) -> int:
        return 2 * x

    @redis_app.task
    def total(values: list[int]) -> int:
        return sum(values)

    size = 10_000
    result = chord((double.s(i) for i in range(size)), total.s()).apply_async()
    drain(redis_app, concurrency=8, limit=120)
    assert result.get(timeout=30) == size * (size - 1)
    assert len(result.parent) == size
    assert result.parent.results[-1].get(timeout=5) == 2 * (size - 1)


def test_a_1000_step_chain(redis_app: Celery) -> None:
    @redis_app.task
    def inc(x: int) -> int:
        return x + 1

    @redis_app.task
    def fail_at(x: int, at: int) -> int:
        if x == at:
            raise ArithmeticError(f"stopped at {x}")
        return x + 1

    steps = 1_000
    result = chain(inc.s(0), *(inc.s() for _ in range(steps - 1))).apply_async()
    broken = chain(fail_at.s(0, 500), *(fail_at.s(500) for _ in range(steps - 1))).apply_async()
    drain(redis_app, concurrency=4, limit=120)
    assert result.get(timeout=30) == steps
    depth, node = 0, result
    while node is not None:
        depth, node = depth + 1, node.parent
    assert depth == steps
    with pytest.raises(ArithmeticError, match="stopped at 500"):
        broken.get(timeout=30)


PROJECT = """
import time

import redis

from celeriac import Celery

app = Celery("crashproj", broker={url!r}, backend={url!r}, celeriac_key_prefix={prefix!r},
             celeriac_worker_heartbeat=0.3)
tally = redis.Redis.from_url({url!r})


@app.task
def square(x):
    tally.hincrby({prefix!r} + ":started", x, 1)
    time.sleep(0.2)
    return x * x


@app.task
def total(values):
    tally.hincrby({prefix!r} + ":started", "body", 1)
    return sum(values)
"""


@pytest.fixture
def crash_project(tmp_path: Path, redis_url: str, prefix: str) -> Iterator[Any]:
    (tmp_path / "crashproj.py").write_text(PROJECT.format(url=redis_url, prefix=prefix))
    sys.path.insert(0, str(tmp_path))
    try:
        import crashproj  # type: ignore[import-not-found]

        yield crashproj
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("crashproj", None)


def _worker(project: Any, name: str, log: Path) -> subprocess.Popen[bytes]:
    folder = Path(project.__file__).parent
    command = [sys.executable, "-m", "celeriac", "-A", "crashproj", "worker", "-l", "INFO"]
    command += ["-P", "threads", "-c", "4", "-n", name, "-f", str(log)]
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.Popen(command, cwd=folder, env=env)


def test_a_chord_completes_after_its_worker_is_killed(
    crash_project: Any, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    size = 30
    result = chord((crash_project.square.s(i) for i in range(size)), crash_project.total.s())
    result = result.apply_async()
    first = _worker(crash_project, "first@%h", tmp_path / "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 30
        while result.parent.completed_count() < 8:  # in the middle of the header
            assert time.monotonic() < deadline, "the first worker ran too few header tasks"
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        done_before = result.parent.completed_count()
        assert done_before < size  # killed with work still to do
        second = _worker(crash_project, "second@%h", tmp_path / "second.log")
        # the second worker takes the dead one's tasks over once its heartbeats stop
        # (three missed: about a second here), then runs the rest and the body
        assert result.get(timeout=15) == sum(i * i for i in range(size))
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    started = redis.Redis.from_url(redis_url).hgetall(f"{prefix}:started")
    runs = {key.decode(): int(value) for key, value in started.items()}
    assert set(runs) == {str(i) for i in range(size)} | {"body"}
    assert runs["body"] == 1
    assert sum(runs.values()) - 1 >= size  # those the kill interrupted ran again
