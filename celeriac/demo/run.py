"""The tour ``celeriac demo`` takes: a worker and beat in this process, then calls,
a chain, a group and a chord, and beat's ticks, each result printed."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celeriac import chain, chord, group

__all__ = ["main"]


def show(label: str, outcome: object) -> None:
    print(f"  {label:<44} -> {outcome}", flush=True)


def _outcome(result: Any) -> object:
    try:
        return repr(result.get(timeout=20))
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"


def main(ticks: int = 2) -> None:
    from ..compat.testing import TestWorkController
    from ..compat.worker import WorkerOptions, make_worker
    from . import tasks
    from .celery import BROKER_URL, app

    # the tour prints each outcome itself; the worker's own log lines would bury them
    logging.getLogger("celeriac").setLevel(logging.CRITICAL)
    where = BROKER_URL if BROKER_URL != "memory://" else "memory:// (embedded)"
    print(f"\nceleriac demo: the Celery-style project in celeriac/demo, on {where}\n")
    options = WorkerOptions(queues=["celery", "text"], pool="threads", concurrency=4, beat=True)
    worker = TestWorkController(app, make_worker(app, options))
    worker.start()
    print("Worker and beat started in this process (queues celery, text).\n\nResults:")
    try:
        started = time.monotonic()
        show("add.delay(2, 3)", _outcome(tasks.add.delay(2, 3)))
        show(
            "word_count.delay(...)  [routed to 'text']", _outcome(tasks.word_count.delay("a b c d"))
        )
        show("flaky.delay()  [retries twice]", _outcome(tasks.flaky.delay()))
        show("divide.delay(1, 0)  [fails]", _outcome(tasks.divide.delay(1, 0)))
        pipeline = chain(tasks.add.s(2, 2), tasks.mul.s(10), tasks.add.s(1))
        show("chain: add(2, 2) | mul(10) | add(1)", _outcome(pipeline.apply_async()))
        fan_out = group(tasks.add.s(i, i) for i in range(5))
        show("group: add(i, i) for i in range(5)", _outcome(fan_out.apply_async()))
        texts = ["one two", "three four five", "six", "seven eight"]
        counted = chord(tasks.word_count.s(text) for text in texts)(tasks.tsum.s())
        show("chord: word counts, then their sum", _outcome(counted))
        while len(tasks.HEARTBEATS) < ticks and time.monotonic() - started < 30:
            time.sleep(0.1)
        show("beat: 'heartbeat' every second", f"{len(tasks.HEARTBEATS)} ticks so far")
    finally:
        worker.stop()
        _forget_keys(app)
        app.close()
    print("\nDone. The project's code is in celeriac/demo; next, read README.md.\n")


def _forget_keys(app: Any) -> None:
    """On a shared Redis, leave nothing behind: only this run's prefix is touched."""
    url = app.conf.broker_url
    if not str(url).startswith("redis"):
        return
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{app.conf.celeriac_key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


if __name__ == "__main__":
    main(int(os.environ.get("CELERIAC_DEMO_TICKS", "2")))
