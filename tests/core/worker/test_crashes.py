"""Workers in their own processes, killed, signalled and crashed: nothing is lost, and
only what was in flight at a kill may run twice.

Each test uses a worker started with ``python -m tests.worker_process`` (its tasks count
their runs in Redis), and a bounded loop to wait.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from celeriac.core import App, RedisBroker
from celeriac.core.message import TaskMessage

ROOT = Path(__file__).resolve().parents[3]


class Workers:
    """Starts worker processes and makes sure none outlives the test."""

    def __init__(self, url: str, prefix: str, tmp: Path) -> None:
        self.url = url
        self.prefix = prefix
        self.tmp = tmp
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{len(self.started)}.log", "wb")  # noqa: SIM115
        argv = [sys.executable, "-m", "tests.worker_process", "--url", self.url]
        argv += ["--prefix", self.prefix, *extra]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        log.close()
        self.started.append(proc)
        return proc

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def workers(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Workers]:
    crew = Workers(redis_url, prefix, tmp_path)
    try:
        yield crew
    finally:
        crew.stop_all()


@pytest.fixture
def app(redis_url: str, prefix: str) -> Iterator[App]:
    application = App(RedisBroker(redis_url, prefix=prefix))
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def tally(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_mid_batch_loses_nothing(
    app: App, workers: Workers, tally: redis.Redis, prefix: str
) -> None:
    """1,000 tasks; the worker is killed with SIGKILL three times mid-batch and
    restarted. Every task runs; only tasks in flight at a kill may run twice."""
    n, kills, concurrency, prefetch = 1000, 3, 10, 10
    app.send_sync([TaskMessage("record", (str(i), 0.02)) for i in range(n)])
    runs_key = f"{prefix}:runs"
    in_flight_at_kills = 0
    rng = random.Random(7)
    for _ in range(kills):
        proc = workers.start("--concurrency", str(concurrency), "--prefetch", str(prefetch))
        before = tally.hlen(runs_key)
        wait_for(lambda b=before: tally.hlen(runs_key) >= b + 50, 30, "progress")  # type: ignore[misc]
        time.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        in_flight_at_kills += concurrency + prefetch + 6  # the most it can hold
    workers.start("--concurrency", str(concurrency))
    wait_for(lambda: tally.hlen(runs_key) == n, 90, "every task to run")
    counts = {int(k): int(v) for k, v in tally.hgetall(runs_key).items()}
    duplicates = sum(c - 1 for c in counts.values())
    print(f"\nkill test: {n} tasks, {kills} SIGKILLs, {duplicates} ran twice")
    assert sorted(counts) == list(range(n))
    assert duplicates <= in_flight_at_kills
    assert "received again" in workers.logs()


def test_sigterm_during_ten_second_tasks_loses_nothing_and_repeats_nothing(
    app: App, workers: Workers, tally: redis.Redis, prefix: str
) -> None:
    app.send_sync([TaskMessage("long", (str(i), 10.0)) for i in range(8)])
    proc = workers.start("--concurrency", "4", "--prefetch", "0")
    wait_for(lambda: tally.hlen(f"{prefix}:starts") == 4, 30, "four tasks to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(40) == 0
    starts = {int(k): int(v) for k, v in tally.hgetall(f"{prefix}:starts").items()}
    runs = {int(k): int(v) for k, v in tally.hgetall(f"{prefix}:runs").items()}
    assert set(starts.values()) == {1} and len(starts) == 4  # no task started twice
    assert runs == starts  # the running four finished, once each
    stats = app.sync_broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (4, 0)  # the other four are back in the queue
    assert "Warm shutdown" in workers.logs()


def test_a_poison_message_ends_in_the_dead_letters(
    app: App, workers: Workers, tally: redis.Redis, prefix: str
) -> None:
    """A task that kills the worker process is started a few times, then set aside; the
    worker then gets on with the rest. (concurrency 1: nothing else is running when it
    strikes, so nothing else is held against.)"""
    app.send_sync([TaskMessage("poison"), *(TaskMessage("record", (str(i),)) for i in range(5))])
    crashes = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        proc = workers.start("--concurrency", "1", "--prefetch", "0", "--max-starts", "3")
        try:
            proc.wait(8)
            crashes += 1
            continue  # it died (on the poison message): start another
        except subprocess.TimeoutExpired:
            break  # it survives: the poison is out of the way
    assert tally.hlen(f"{prefix}:runs") == 5
    (letter,) = app.sync_broker.dead_letters(app.default_queue)
    assert letter.reason == "too-many-starts"
    assert letter.data is not None and b"poison" in letter.data
    assert int(tally.hget(f"{prefix}:starts", "poison") or 0) == 3 == crashes
    assert "moved to the dead letters" in workers.logs()


def test_a_second_signal_stops_at_once_and_recovery_brings_the_tasks_back(
    app: App, workers: Workers, tally: redis.Redis, prefix: str
) -> None:
    app.send_sync([TaskMessage("long", (str(i), 30.0)) for i in range(3)])
    proc = workers.start("--concurrency", "3", "--prefetch", "0")
    wait_for(lambda: tally.hlen(f"{prefix}:starts") == 3, 30, "three tasks to start")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # impatient: stop now
    started = time.monotonic()
    proc.wait(10)
    assert time.monotonic() - started < 5
    stats = app.sync_broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight) == (0, 3)  # not handed back: still held
    assert "Cold shutdown" in workers.logs()
    app.send_sync([TaskMessage("record", ("after",))])
    workers.start("--concurrency", "5")  # takes them over once the first one's beat lapses
    wait_for(lambda: int(tally.hget(f"{prefix}:starts", "0") or 0) == 2, 30, "a restart")
    # the task sent after runs too (before or after the takeover: either order is fine)
    wait_for(lambda: tally.hget(f"{prefix}:runs", "after") == "1", 30, "the task sent after")


def test_a_pipeline_survives_its_workers_being_killed(
    app: App, workers: Workers, tally: redis.Redis, prefix: str
) -> None:
    """Recording a step's outcome and releasing the next step are one atomic step, so
    killing workers mid-pipeline strands nothing: it completes, with the right result."""
    steps = 40
    messages = []
    for n in range(steps):
        message = TaskMessage(
            "inc", (0, 0.05) if n == 0 else (), {} if n == 0 else {"seconds": 0.05}
        )
        if messages:
            message = replace(message, parents=(messages[-1].id,), pass_results="first")
        messages.append(message)
    app.send_sync(messages)
    for _ in range(3):
        proc = workers.start("--concurrency", "2")
        done = tally.hlen(f"{prefix}:runs")
        wait_for(lambda d=done: tally.hlen(f"{prefix}:runs") >= d + 5, 30, "progress")  # type: ignore[misc]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    workers.start("--concurrency", "2")
    last = app.sync_handle(messages[-1].id)
    assert last.result(timeout=60) == steps
    runs = tally.hgetall(f"{prefix}:runs")
    assert sorted(runs) == sorted(f"step-{n}" for n in range(steps))
