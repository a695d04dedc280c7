"""The demo that scripts/demo runs works on both brokers and cleans up after itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.redis_server import RedisServer

DEMO = Path(__file__).resolve().parent.parent / "examples" / "core_demo.py"
EXPECTED = [
    "add(2, 3)                                  -> 5",
    "word_count(...)  [sync task, in a thread]  -> 4",
    "flaky()  [retries twice]                   -> 'ok after 2 retries'",
    "divide(1, 0)  [fails]                      -> raised ZeroDivisionError: division by zero",
    "add(1, 2) | add(10) | add(100)  [a chain]  -> 113",
    "total(word_count x 3)  [a fan-in]          -> 6",
    "200 x add via enqueue_many                 -> sum 39800 in",
]


def _run_demo(broker_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CELERIAC_BROKER_URL"}
    if broker_url:
        env["CELERIAC_BROKER_URL"] = broker_url
    return subprocess.run(
        [sys.executable, str(DEMO)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("on", ["memory", "redis"])
def test_demo_prints_every_result(on: str, redis_server: RedisServer) -> None:
    url = redis_server.url.replace("/0", "/3") if on == "redis" else None
    done = _run_demo(url)
    assert done.returncode == 0, done.stderr
    for line in EXPECTED:
        assert line in done.stdout
    assert "succeeded in" in done.stderr  # Celery-style worker log lines
    if url:
        client = redis.Redis.from_url(url)
        try:
            assert client.dbsize() == 0
        finally:
            client.close()


CELERY_STYLE = [
    "add.delay(2, 3)                              -> 5",
    "word_count.delay(...)  [routed to 'text']    -> 4",
    "flaky.delay()  [retries twice]               -> 'ok after 2 retries'",
    "divide.delay(1, 0)  [fails]                  -> raised ZeroDivisionError: division by zero",
    "chain: add(2, 2) | mul(10) | add(1)          -> 41",
    "group: add(i, i) for i in range(5)           -> [0, 2, 4, 6, 8]",
    "chord: word counts, then their sum           -> 8",
    "beat: 'heartbeat' every second               -> 2 ticks so far",
]


@pytest.mark.parametrize("on", ["memory", "redis"])
def test_celeriac_demo_runs_the_sample_project(on: str, redis_server: RedisServer) -> None:
    """What scripts/demo runs: the Celery-style project with a worker and beat."""
    env = {k: v for k, v in os.environ.items() if k != "CELERIAC_BROKER_URL"}
    url = redis_server.url.replace("/0", "/4") if on == "redis" else None
    if url:
        env["CELERIAC_BROKER_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "celeriac", "demo"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for line in CELERY_STYLE:
        assert line in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    if url:
        client = redis.Redis.from_url(url)
        try:
            assert client.dbsize() == 0  # nothing left behind
        finally:
            client.close()
