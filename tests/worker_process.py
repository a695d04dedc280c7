"""A worker in its own process, for tests that kill it, signal it, or crash it.

    python -m tests.worker_process --url redis://... --prefix p [--heartbeat 0.2] ...

Its tasks record every run in Redis (``<prefix>:runs``, a hash: task key -> runs), so a
test can count runs across worker restarts.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal

import anyio
import redis

from celeriac.core import App, Recovery, RedisBroker, RetryPolicy, Worker, run, setup_logging

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--prefix", required=True)
parser.add_argument("--concurrency", type=int, default=10)
parser.add_argument("--prefetch", type=int, default=None)
parser.add_argument("--heartbeat", type=float, default=0.2)
parser.add_argument("--window", type=float, default=5.0)
parser.add_argument("--max-starts", type=int, default=3)
parser.add_argument("--grace", type=float, default=25.0)
parser.add_argument("--socket-timeout", type=float, default=None)
args = parser.parse_args()

options = {"socket_timeout": args.socket_timeout} if args.socket_timeout else {}
app = App(RedisBroker(args.url, prefix=args.prefix, client_options=options), main="proc")
tally = redis.Redis.from_url(args.url)
RUNS = f"{args.prefix}:runs"
STARTS = f"{args.prefix}:starts"


# The tasks' own Redis calls may fail while Redis is down: they retry, as real tasks would.
REDIS_DOWN = RetryPolicy(on=(redis.ConnectionError, redis.TimeoutError), delay=0.2, jitter=False)


@app.task(name="record", retry=REDIS_DOWN, max_retries=50)
async def record(key: str, seconds: float = 0.0) -> str:
    """Sleep, then count a finished run of ``key``."""
    await anyio.sleep(seconds)
    await anyio.to_thread.run_sync(tally.hincrby, RUNS, key, 1)
    return key


@app.task(name="long", retry=REDIS_DOWN, max_retries=50)
async def long(key: str, seconds: float) -> str:
    """Count the start, sleep, count the end."""
    await anyio.to_thread.run_sync(tally.hincrby, STARTS, key, 1)
    await anyio.sleep(seconds)
    await anyio.to_thread.run_sync(tally.hincrby, RUNS, key, 1)
    return key


@app.task(name="inc", retry=REDIS_DOWN, max_retries=50)
async def inc(x: int, seconds: float = 0.0) -> int:
    """One step of a pipeline: count the run of step x, pass x + 1 on."""
    await anyio.sleep(seconds)
    await anyio.to_thread.run_sync(tally.hincrby, RUNS, f"step-{x}", 1)
    return x + 1


@app.task(name="poison")
async def poison() -> None:
    """Kills the whole worker process, as a segfault in a C extension would."""
    await anyio.to_thread.run_sync(tally.hincrby, STARTS, "poison", 1)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    setup_logging("INFO")
    worker = Worker(
        app,
        concurrency=args.concurrency,
        prefetch=args.prefetch,
        heartbeat=args.heartbeat,
        recovery=Recovery(window=args.window, max_starts=args.max_starts, grace=0.1),
        grace=args.grace,
        block=0.2,
    )
    run(functools.partial(worker.run, handle_signals=True))
