"""celeriac demo: enqueue tasks, run a worker, print the results.

Runs on the embedded ``memory://`` broker, or on Redis when CELERIAC_BROKER_URL is set::

    python examples/core_demo.py
    CELERIAC_BROKER_URL=redis://localhost:6379/0 python examples/core_demo.py

This uses the engine's own API (``celeriac.core``); the Celery-style project that
``celery -> celeriac`` users will recognise joins it as the Celery façade lands.
"""

from __future__ import annotations

import logging
import os
import time
import uuid

import anyio
import redis.asyncio as aioredis

from celeriac.core import App, RedisBroker, Retry, Worker, current_task, run, setup_logging

BROKER_URL = os.environ.get("CELERIAC_BROKER_URL", "memory://")

# Each run gets its own key prefix so it never mixes with other data on a shared Redis.
app = App(BROKER_URL, main="demo", prefix=f"celeriac-demo-{uuid.uuid4().hex[:8]}", result_ttl=600)


@app.task
async def add(x: int, y: int) -> int:
    """An async task: runs on the worker's event loop."""
    await anyio.sleep(0.01)
    return x + y


@app.task
def word_count(text: str) -> int:
    """A plain function: runs in the worker's thread pool."""
    return len(text.split())


@app.task(max_retries=5)
async def flaky() -> str:
    """Fails twice, asking to be retried, then succeeds."""
    tries = current_task().retries
    if tries < 2:
        raise Retry(delay=0.1, exc=ConnectionError(f"upstream down (try {tries + 1})"))
    return f"ok after {tries} retries"


@app.task
def divide(x: float, y: float) -> float:
    return x / y


@app.task
async def total(counts: list[int]) -> int:
    """A fan-in: receives the results of every task it waited for, in order."""
    return sum(counts)


def show(label: str, outcome: object) -> None:
    print(f"  {label:<42} -> {outcome}")


def produce_from_sync_code() -> list[tuple[str, object]]:
    """What a Django view or a script does: enqueue from plain sync code."""
    return [
        ("add(2, 3)", add.enqueue_sync(2, 3)),
        (
            "word_count(...)  [sync task, in a thread]",
            word_count.enqueue_sync("the quick brown fox"),
        ),
        ("flaky()  [retries twice]", flaky.enqueue_sync()),
        ("divide(1, 0)  [fails]", divide.enqueue_sync(1, 0)),
    ]


async def remove_demo_keys() -> None:
    """On a shared Redis, leave nothing behind: only this run's prefix is touched."""
    if not isinstance(app.broker, RedisBroker):
        return
    client = aioredis.Redis.from_url(BROKER_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{app.broker.keys.prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def main() -> None:
    setup_logging("INFO")
    where = BROKER_URL if BROKER_URL != "memory://" else "memory:// (embedded)"
    print(f"\nceleriac demo on {where}\n")
    handles = await anyio.to_thread.run_sync(produce_from_sync_code)
    worker = Worker(app, concurrency=50, block=0.2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        print("\nResults:")
        for label, handle in handles:
            try:
                value = await anyio.to_thread.run_sync(handle.result, 10)  # type: ignore[attr-defined]
                show(label, repr(value))
            except ZeroDivisionError as exc:
                show(label, f"raised {type(exc).__name__}: {exc}")
        # a chain (each step gets the result before it) and a chord-like fan-in, kept
        # in the broker: no worker has to stay alive for them to complete
        # (the step before fills in x, so the type checker sees an argument missing)
        steps = add.call(1, 2) | add.call(10) | add.call(100)  # type: ignore[call-arg]
        pipeline = await steps.enqueue()
        show("add(1, 2) | add(10) | add(100)  [a chain]", await pipeline.result(timeout=10))
        texts = ["one two", "three four five", "six"]
        parts = [word_count.message(text) for text in texts]
        waits = total.options(after=[m.id for m in parts], pass_results="all")
        fan_in = waits.message()  # type: ignore[call-arg]  # the parts' results fill in counts
        *_, summed = await app.enqueue_many([*parts, fan_in])  # one batch: all or nothing
        show("total(word_count x 3)  [a fan-in]", await summed.result(timeout=10))
        logging.getLogger("celeriac").setLevel(
            logging.WARNING
        )  # 200 lines of logs would hide the point
        started = time.perf_counter()
        batch = await app.enqueue_many([add.message(i, i) for i in range(200)])
        values = [await h.result(timeout=10) for h in batch]
        elapsed = (time.perf_counter() - started) * 1000
        show("200 x add via enqueue_many", f"sum {sum(values)} in {elapsed:.0f} ms")
        worker.stop()
    await remove_demo_keys()
    await app.aclose()
    app.close()
    print("\nDone. Next: read README.md, or run scripts/test.\n")


if __name__ == "__main__":
    run(main)
